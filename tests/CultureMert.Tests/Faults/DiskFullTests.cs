using CultureMert.Audio;
using CultureMert.Batch;
using CultureMert.Checkpoints;
using CultureMert.IO;

namespace CultureMert.Tests.Faults;

/// <summary>
/// A disk that fills up during a run (a small tmpfs as the output): the run stops with a message naming the folder and
/// the space, exit 3, no temporary and no partial output left, the index listing what finished; after space is freed the
/// same command finishes the job.
/// </summary>
public class DiskFullTests
{
    [SkippableFact]
    public void Embed_DiskFills_StopsNamingFolderAndSpace_IndexOfWhatFinished_RerunFinishes()
    {
        using var disk = new SmallDisk("1m");
        Skip.If(disk.SkipReason is not null, disk.SkipReason);
        using var dir = new Fixtures.TempDir();
        for (var k = 0; k < 20; k++)
            AudioFile.WriteWav(dir[$"music/{k:00}.wav"], [.. Enumerable.Range(0, 72000).Select(i => (float)(0.3 * Math.Sin(i * (0.02 + 0.001 * k))))], 24000);
        string[] embed = ["embed", "--model", Fixtures.Dir("mert-tiny"), "--pool", "none", "--out", disk["out"], dir["music"]];   // 172 KB a file

        var (code, err) = CliProcess.Run(embed);
        Assert.True(code == 3, err);
        Assert.Contains($"{disk["out"]}: no space left on the device writing", err);
        Assert.Matches(@"\(\d+(\.\d)? KiB free, 168\.4 KiB needed for this file\)", err);
        Assert.Empty(CliProcess.Temporaries(disk.Path));
        var rows = Manifest.ReadIndex(disk["out/index.csv"]);
        Assert.InRange(rows.Count, 1, 19);
        Assert.Contains($"{rows.Count} of 20 files are done and listed in {disk["out/index.csv"]}", err);
        Assert.Equal(rows.Select(r => r.Output).Order(), Directory.GetFiles(disk["out"], "*.safetensors").Select(Path.GetFileName).Order());
        foreach (var r in rows) Assert.Equal("ok", r.Status);

        disk.Grow("8m");
        (code, err) = CliProcess.Run(embed);
        Assert.True(code == 0, err);
        var after = Manifest.ReadIndex(disk["out/index.csv"]);
        Assert.Equal(20, after.Count);
        Assert.Equal(rows.Count, after.Count(r => r.Status == "skipped"));
    }

    [SkippableFact]
    public void Merge_DiskTooSmall_FailsBeforeWritingWeights_NoTemporary_RerunFinishes()
    {
        using var disk = new SmallDisk("600k");                               // room for one of the two merged models (406 KiB each)
        Skip.If(disk.SkipReason is not null, disk.SkipReason);
        using var dir = new Fixtures.TempDir();
        string[] merge = ["merge", "--method", "task-arithmetic", "--lambda", "0.5,1", "--base", Fixtures.Dir("mert-tiny"),
                          "--models", Fixtures.Dir("mert-tiny"), "--out", disk["merged"]];
        var (code, err) = CliProcess.Run(merge);
        Assert.True(code == 3, err);
        Assert.Contains($"{disk["merged/lambda-1"]}: no space left on the device writing model.safetensors", err);
        Assert.Contains("405.8 KiB needed for this file", err);
        Assert.Empty(CliProcess.Temporaries(disk.Path));
        Assert.Equal(0, CliProcess.Count(disk.Path, "*.json") + CliProcess.Count(disk.Path, "*.safetensors"));   // nothing a reader could take for a model

        disk.Grow("2m");
        (code, err) = CliProcess.Run(merge);
        Assert.True(code == 0, err);
        Fixtures.AssertSameTensors(Path.Combine(Fixtures.Dir("mert-tiny"), "model.safetensors"), disk["merged/lambda-0.5/model.safetensors"]);
    }

    [SkippableFact]
    public void CheckpointFolderAndReport_DiskFull_NothingHalfWrittenLeft()
    {
        // What pretrain's checkpoints and stages (AtomicFile.WriteDirectory) and every report file (AtomicFile.Write) go through.
        using var disk = new SmallDisk("64k");
        Skip.If(disk.SkipReason is not null, disk.SkipReason);
        var e = Assert.Throws<DiskFullException>(() => AtomicFile.WriteDirectory(disk["checkpoints/step-0000010"], tmp =>
        {
            File.WriteAllText(Path.Combine(tmp, "state.json"), "{}");
            using var big = TorchSharp.torch.zeros(40_000);
            SafeTensors.Save(Path.Combine(tmp, "model.safetensors"), [new("w", big)]);
        }));
        Assert.Contains("156.3 KiB needed for this file", e.Message);
        Assert.Contains(disk["checkpoints/"], e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(disk["checkpoints"]));    // not even the half-filled temporary folder

        var report = string.Concat(Enumerable.Repeat("model,task,score\n", 10_000));   // 170 KB
        e = Assert.Throws<DiskFullException>(() => AtomicFile.WriteText(disk["report.csv"], report));
        Assert.StartsWith($"{disk.Path}: no space left on the device writing report.csv", e.Message);
        Assert.Empty(Directory.GetFiles(disk.Path));
    }
}
