using CultureMert.Audio;
using CultureMert.Batch;
using CultureMert.Cli;
using CultureMert.IO;

namespace CultureMert.Tests.IO;

/// <summary>One run per output folder: a second is refused at once naming the first; shards of one job and a run
/// after the holder ended (even by kill -9, as flock ends with its process) go ahead; temporaries of killed runs go.</summary>
public class FolderLockTests
{
    static string Clip(string path)
    {
        AudioFile.WriteWav(path, [.. Enumerable.Range(0, 24000).Select(i => (float)(0.3 * Math.Sin(i * 0.02)))], 24000);
        return path;
    }

    [Fact]
    public void SecondRunIntoTheSameFolder_RefusedNamingTheFirst_NoRowLost()
    {
        using var dir = new Fixtures.TempDir();
        var a = Clip(dir["a.wav"]);
        var model = Fixtures.Dir("mert-tiny");
        using (FolderLock.Acquire(dir["out"]))                                           // another run holds the folder
        {
            var (code, err) = Merging.MergeFixtures.Run("embed", "--model", model, "--out", dir["out"], a);
            Assert.True(code == 3, err);
            Assert.Contains("another run is writing into this folder", err);
            Assert.Contains($"process {Environment.ProcessId} on {Environment.MachineName}", err);
            Assert.False(File.Exists(dir["out/a.safetensors"]));
            Assert.Throws<IOException>(() => FolderLock.Acquire(dir["out"]));            // the pretrain, evaluate, corpus and study folders take the same lock
            using (FolderLock.Acquire(dir["out"], "index.shard-1-of-2.csv")) { }        // a shard of one job locks its own part
        }
        Assert.Equal(0, CliApp.Run(["embed", "--model", model, "--out", dir["out"], a]));   // released: the next run goes ahead
        Assert.Single(Manifest.ReadIndex(dir["out/index.csv"]));
    }

    [Fact]
    public void StaleTemporaries_OfDeadProcesses_AreRemoved_ThoseOfLiveOnesKept()
    {
        using var dir = new Fixtures.TempDir();
        var dead = 999_999;                                                              // above Linux's pid_max default: never running
        Directory.CreateDirectory(dir[$"run/checkpoints/.cmtmp.{dead}.step-0000010"]);    // the old folder naming (no host)
        File.WriteAllText(dir[$"run/checkpoints/.cmtmp.{dead}.step-0000010/model.safetensors"], "partial");
        File.WriteAllText(dir[$"run/.cmtmp.{dead}.0123456789ab.tmp"], "partial");
        Directory.CreateDirectory(dir[$"run/.cmtmp.{Environment.ProcessId}.stage.dir"]);   // this (live) process's
        Assert.Equal(2, AtomicFile.CleanStale(dir["run"]));
        Assert.False(Directory.Exists(dir[$"run/checkpoints/.cmtmp.{dead}.step-0000010"]));
        Assert.False(File.Exists(dir[$"run/.cmtmp.{dead}.0123456789ab.tmp"]));
        Assert.True(Directory.Exists(dir[$"run/.cmtmp.{Environment.ProcessId}.stage.dir"]));
    }
}
