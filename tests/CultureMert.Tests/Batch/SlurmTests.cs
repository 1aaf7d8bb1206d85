using CultureMert.Batch;
using CultureMert.Cli;
using CultureMert.Tests.Pretraining;

namespace CultureMert.Tests.Batch;

/// <summary>
/// The deploy examples on a real Slurm (<see cref="LocalSlurm"/>): the embed array script submitted with
/// <c>sbatch --wait</c> against a single-process run, byte for byte; a bad model path failing the job; and data-parallel
/// pre-training launched by <c>mpirun</c> inside a two-task allocation against <c>mpirun -np 2</c> outside Slurm.
/// </summary>
[Collection(ProcessWideMeasurements.Name)]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class SlurmTests(LocalSlurm slurm) : IClassFixture<LocalSlurm>
{
    static string Script => Path.Combine(AppContext.BaseDirectory, "deploy", "slurm", "embed-array.sbatch");

    /// <summary>An executable <c>culturemert</c> for the jobs: the built CLI under the dotnet running these tests.</summary>
    static string Wrapper(Fixtures.TempDir dir)
    {
        var path = dir["culturemert"];
        File.WriteAllText(path, $"#!/bin/sh\nexec \"{DataParallelTests.Dotnet}\" \"{DataParallelTests.Cli}\" \"$@\"\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    /// <summary>The array script with this machine's sizes: 3 tasks of 1 CPU (its own asks for 8 × 16 CPUs, 16 GB).</summary>
    (int Code, string Output) SubmitArray(Fixtures.TempDir dir, string model, string outDir, string music) =>
        slurm.Run("sbatch", "--wait", "--array=0-2", "--cpus-per-task=1", "--mem=100M", "-o", dir["slurm-%A_%a.out"],
                  $"--export=ALL,CULTUREMERT={Wrapper(dir)}", Script, music, outDir, model);

    static string JobLogs(Fixtures.TempDir dir) =>
        string.Join("\n", Directory.GetFiles(dir.Path, "slurm-*.out").Order().Select(f => $"--- {Path.GetFileName(f)}\n{File.ReadAllText(f)}"));

    [SkippableFact]
    public void EmbedArray_OnSlurm_MergedIndexAndOutputsEqualOneProcess()
    {
        Skip.If(slurm.SkipReason is not null, slurm.SkipReason);
        using var dir = new Fixtures.TempDir();
        var music = ShardedJobTests.WriteMusic(dir);                                    // 7 clips and one broken file
        var model = Fixtures.Dir("mert-tiny");
        Assert.Equal(1, CliApp.Run(["embed", "--model", model, "--out", dir["single"], "--shard", "0/1", music]));

        var (code, output) = SubmitArray(dir, model, dir["sharded"], music);
        Assert.True(code == 0, $"sbatch --wait: {code}\n{output}\n{JobLogs(dir)}{slurm.Logs()}");   // the broken file (exit 1) is success
        Assert.Equal(3, Directory.GetFiles(dir["sharded"], "index.shard-*-of-3.csv").Length);
        (code, output) = slurm.Run("sbatch", "--wait", "-o", dir["slurm-merge.out"], "--wrap", $"{Wrapper(dir)} index merge --out {dir["sharded"]}");
        Assert.True(code == 0, $"{output}\n{JobLogs(dir)}");

        var (single, sharded) = (ShardedJobTests.Outputs(dir["single"]), ShardedJobTests.Outputs(dir["sharded"]));
        Assert.Equal(7, single.Count);
        Assert.Equal(single.Keys.Order(), sharded.Keys.Order());
        Assert.All(single, kv => Assert.True(kv.Value.AsSpan().SequenceEqual(sharded[kv.Key]), $"{kv.Key} differs"));
        Assert.Equal(Manifest.ReadIndex(dir["single/index.csv"]).OrderBy(r => r.Path, StringComparer.Ordinal), Manifest.ReadIndex(dir["sharded/index.csv"]));
        Assert.Contains(Manifest.ReadIndex(dir["sharded/index.csv"]), r => r.Status == "error" && r.Path.EndsWith("broken.wav"));
    }

    [SkippableFact]
    public void EmbedArray_BadModelPath_FailsTheJob()
    {
        Skip.If(slurm.SkipReason is not null, slurm.SkipReason);
        using var dir = new Fixtures.TempDir();
        var music = ShardedJobTests.WriteMusic(dir);
        var (code, output) = SubmitArray(dir, dir["no-such-model"], dir["out"], music);
        Assert.True(code != 0, $"sbatch --wait reported success for a job whose model does not exist\n{output}\n{JobLogs(dir)}");
        Assert.Contains("no-such-model", JobLogs(dir));                                  // every task said why
        Assert.Empty(Directory.Exists(dir["out"]) ? Directory.GetFiles(dir["out"], "*.safetensors", SearchOption.AllDirectories) : []);
    }

    [SkippableFact]
    public void Pretrain_TwoTasksLaunchedInASlurmAllocation_MatchMpirunOutsideIt()
    {
        Skip.If(slurm.SkipReason is not null, slurm.SkipReason);
        using var dir = new Fixtures.TempDir();
        var recipe = DataParallelTests.WriteRecipe(dir, gradAccumulation: 2);
        var (code, output) = DataParallelTests.MpiRun(2, "pretrain", "--recipe", recipe, "--out", dir["mpirun"]);
        Assert.True(code == 0, output);

        // Open MPI's mpirun, inside a two-task allocation, starts its ranks through Slurm (srun). Debian's slurmd cannot
        // load its PMIx plugin without the development package, so srun --mpi=pmix is not the launcher here.
        var mpirun = DataParallelTests.RequireMpirun();
        var job = $"OMPI_MCA_btl_vader_single_copy_mechanism=none {mpirun} --allow-run-as-root --oversubscribe -np 2 " +
                  $"{DataParallelTests.Dotnet} {DataParallelTests.Cli} pretrain --recipe {recipe} --out {dir["slurm"]}";
        (code, output) = slurm.Run("sbatch", "--wait", "--ntasks=2", "--cpus-per-task=1", "--mem=100M", "-o", dir["slurm-pretrain.out"], "--wrap", job);
        var log = File.Exists(dir["slurm-pretrain.out"]) ? File.ReadAllText(dir["slurm-pretrain.out"]) : "";
        Assert.True(code == 0, $"sbatch --wait: {code}\n{output}\n{log}{slurm.Logs()}");
        Assert.Contains("data-parallel over 2 MPI ranks", log);
        foreach (var stage in new[] { "s1", "s2" })
            foreach (var file in new[] { "model.safetensors", "heads.safetensors" })
                DataParallelTests.AssertClose(Path.Combine(dir["mpirun"], "stages", stage, file), Path.Combine(dir["slurm"], "stages", stage, file), 1e-5);
    }
}
