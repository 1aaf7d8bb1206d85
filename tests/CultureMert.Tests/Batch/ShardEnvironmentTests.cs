using CultureMert.Batch;
using CultureMert.Cli;

namespace CultureMert.Tests.Batch;

/// <summary>
/// The CLI takes its shard from the real process environment, as launchers set it. Environment variables are
/// process-wide, so these tests run alone and restore every variable they touch.
/// </summary>
[Collection(ProcessWideMeasurements.Name)]
public class ShardEnvironmentTests
{
    static readonly string[] LauncherVariables =
    [
        "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "PMI_RANK", "PMI_SIZE", "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN",
        "SLURM_ARRAY_TASK_STEP", "SLURM_ARRAY_TASK_COUNT", "JOB_COMPLETION_INDEX", "CULTUREMERT_SHARD_COUNT",
    ];

    /// <summary>Runs <paramref name="body"/> with exactly <paramref name="vars"/> of the launcher variables set.</summary>
    static T WithEnvironment<T>(Func<T> body, params (string Name, string Value)[] vars)
    {
        var saved = LauncherVariables.ToDictionary(v => v, Environment.GetEnvironmentVariable);
        try
        {
            foreach (var v in LauncherVariables) Environment.SetEnvironmentVariable(v, null);
            foreach (var (name, value) in vars) Environment.SetEnvironmentVariable(name, value);
            return body();
        }
        finally { foreach (var (name, value) in saved) Environment.SetEnvironmentVariable(name, value); }
    }

    static string[] Embed(Fixtures.TempDir dir, params string[] extra) =>
        ["embed", "--model", Fixtures.Dir("mert-tiny"), "--out", dir["o"], .. extra, dir["in"]];

    static Fixtures.TempDir Inputs()
    {
        var dir = new Fixtures.TempDir();
        Directory.CreateDirectory(dir["in"]);
        foreach (var name in new[] { "a", "b", "c", "d" }) File.Copy(Path.Combine(Fixtures.Dir("mert-tiny"), "input.wav"), dir[$"in/{name}.wav"]);
        return dir;
    }

    [Fact]
    public void Cli_SlurmArrayStartingAtOne_EmbedsThatShard()
    {
        using var dir = Inputs();
        // sbatch --array=1-3, task id 2 → shard 1 of 3.
        var rc = WithEnvironment(() => CliApp.Run(Embed(dir)),
            ("SLURM_ARRAY_TASK_ID", "2"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "3"));
        Assert.Equal(0, rc);
        var expected = new Shard(1, 3).Select(BatchJob.Plan([dir["in"]], dir["o"])).Select(t => t.Path);
        Assert.Equal(expected, Manifest.ReadIndex(dir["o/index.shard-1-of-3.csv"]).Select(r => r.Path));
        Assert.False(File.Exists(dir["o/index.csv"]));
    }

    [Fact]
    public void Cli_ExplicitShardOrMpiWorldOfOne_OverridesTheEnvironment()
    {
        using var dir = Inputs();
        Assert.Equal(0, WithEnvironment(() => CliApp.Run(Embed(dir, "--shard", "0/1")), ("OMPI_COMM_WORLD_RANK", "1"), ("OMPI_COMM_WORLD_SIZE", "2")));
        Assert.Equal(4, Manifest.ReadIndex(dir["o/index.csv"]).Count);
        Assert.Equal(0, WithEnvironment(() => CliApp.Run(Embed(dir)), ("PMI_RANK", "0"), ("PMI_SIZE", "1")));
        Assert.Empty(Directory.EnumerateFiles(dir["o"], "index.shard-*"));
    }

    [Fact]
    public void Cli_KubernetesIndexWithoutCount_ExitCode2BeforeAnyWork()
    {
        using var dir = Inputs();
        Assert.Equal(2, WithEnvironment(() => CliApp.Run(Embed(dir)), ("JOB_COMPLETION_INDEX", "0")));
        Assert.False(Directory.Exists(dir["o"]));
        Assert.Equal(0, WithEnvironment(() => CliApp.Run(Embed(dir)), ("JOB_COMPLETION_INDEX", "0"), ("CULTUREMERT_SHARD_COUNT", "2")));
        Assert.True(File.Exists(dir["o/index.shard-0-of-2.csv"]));
    }
}
