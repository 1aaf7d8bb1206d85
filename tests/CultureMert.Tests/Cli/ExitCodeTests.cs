using System.Diagnostics;
using CultureMert.Audio;
using CultureMert.Batch;

namespace CultureMert.Tests.Cli;

/// <summary>
/// The exit codes a scheduler acts on, from the real <c>culturemert</c> process (README, "Exit codes"): 0 all done,
/// 1 done with some inputs failed, 2 invalid usage (nothing done), 3 fatal (nothing done), 130 interrupted, 143
/// terminated (SIGTERM); and the
/// deploy examples map only 1 to success.
/// </summary>
[Collection(ProcessWideMeasurements.Name)]       // alone: a loaded machine once let embed finish all files before SIGINT arrived
public class ExitCodeTests
{
    static (int Code, string Err) RunCli(string[] args, Action<Process>? whileRunning = null) => CliProcess.Run(args, whileRunning);

    static string Clip(string path, int k)
    {
        AudioFile.WriteWav(path, [.. Enumerable.Range(0, 24000).Select(i => (float)(0.3 * Math.Sin(i * (0.02 + 0.001 * k))))], 24000);
        return path;
    }

    [Fact]
    public void Embed_EachOutcomeHasItsCode()
    {
        using var dir = new Fixtures.TempDir();
        var model = Fixtures.Dir("mert-tiny");
        var good = Clip(dir["good.wav"], 0);
        File.WriteAllBytes(dir["broken.wav"], "RIFF\x10\0\0\0WAVEjunk"u8.ToArray());

        Assert.Equal(0, RunCli(["embed", "--model", model, "--out", dir["ok"], good]).Code);

        var (code, err) = RunCli(["embed", "--model", model, "--out", dir["some"], good, dir["broken.wav"]]);
        Assert.Equal(1, code);
        Assert.Contains("broken.wav", err);
        Assert.Contains(Manifest.ReadIndex(dir["some/index.csv"]), r => r.Status == "error");

        // A mistyped option is refused before any work, naming the nearest valid one; its value is not taken for an input.
        (code, err) = RunCli(["embed", "--model", model, "--out", dir["typo"], "--layer", "0", good]);
        Assert.Equal(2, code);
        Assert.Contains("unknown option '--layer'", err);
        Assert.Contains("did you mean --layers?", err);
        Assert.False(Directory.Exists(dir["typo"]));
        (code, err) = RunCli(["embed", "--bogus-option", "x", "--model", model, "--out", dir["typo"], good]);
        Assert.Equal(2, code);
        Assert.Contains("'--bogus-option'", err);
        Assert.False(Directory.Exists(dir["typo"]));

        (code, err) = RunCli(["embed", "--model", dir["no-such-model"], "--out", dir["fatal"], good]);
        Assert.Equal(3, code);
        Assert.Contains("no-such-model", err);
        Assert.Empty(Directory.Exists(dir["fatal"]) ? Directory.GetFiles(dir["fatal"], "*.safetensors", SearchOption.AllDirectories) : []);
    }

    [Fact]
    public void EveryCommand_RefusesAnUnknownOption_With2()
    {
        static IEnumerable<string[]> Leaves(System.CommandLine.Command c, string[] path) =>
            c.Subcommands.Count == 0 ? [path] : c.Subcommands.SelectMany(s => Leaves(s, [.. path, s.Name]));
        var leaves = Leaves(CultureMert.Cli.CliApp.CreateRoot(), []).ToList();
        Assert.True(leaves.Count >= 15, $"{leaves.Count} commands");
        foreach (var command in leaves)
        {
            var (code, err) = Merging.MergeFixtures.Run([.. command, "--bogus-option", "x"]);
            Assert.True(code == 2, $"{string.Join(' ', command)}: exit {code}\n{err}");
            Assert.Contains("unknown option '--bogus-option'", err);
        }
    }

    /// <summary>Ctrl-C (SIGINT) and a scheduler's SIGTERM both stop at a file boundary with the index written.</summary>
    [Theory]
    [InlineData("INT", 130)]
    [InlineData("TERM", 143)]
    public void Embed_Signal_StopsAtAFileBoundary_IndexWritten(string signal, int expected)
    {
        using var dir = new Fixtures.TempDir();
        Directory.CreateDirectory(dir["music"]);
        for (var k = 0; k < 300; k++) Clip(dir[$"music/{k:000}.wav"], k);
        var (code, err) = RunCli(["embed", "--model", Fixtures.Dir("mert-tiny"), "--chunk-seconds", "0.05", "--batch-size", "1", "--out", dir["o"], dir["music"]], p =>
        {
            // The signal once the first embedding is on disk: the run is under way, with most files still to do. Chunks of
            // 0.05 s one at a time make each file 20 forward passes, so that a busy machine's late poll still finds work left.
            CliProcess.WaitUntil(p, () => CliProcess.Count(dir["o"], "*.safetensors") > 0);
            CliProcess.Signal(p, signal);
        });
        Assert.True(code == expected, $"SIG{signal}: exit {code}\n{err}");
        var rows = Manifest.ReadIndex(dir["o/index.csv"]);
        Assert.InRange(rows.Count, 1, 299);                                              // the index holds what finished
        Assert.All(rows, r => Assert.True(File.Exists(Path.Combine(dir["o"], r.Output)), r.Output));
    }

    [Fact]
    public void DeployExamples_TreatOnlySomeInputsFailedAsSuccess()
    {
        // The shell line both examples run after culturemert: 1 (some inputs failed, listed in the index) becomes 0;
        // every other code, 2 and 3 included, reaches the scheduler unchanged.
        foreach (var file in new[] { "deploy/k8s/embed-indexed-job.yaml", "deploy/slurm/embed-array.sbatch" })
        {
            var text = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, file));
            var line = text.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("rc=$?;", StringComparison.Ordinal));
            foreach (var (cli, expected) in new[] { (0, 0), (1, 0), (2, 2), (3, 3), (130, 130) })
            {
                using var bash = Process.Start(new ProcessStartInfo("bash", ["-c", $"(exit {cli}); {line}"]))!;
                bash.WaitForExit();
                Assert.True(bash.ExitCode == expected, $"{file}: culturemert exit {cli} became {bash.ExitCode}, expected {expected}");
            }
        }
    }
}
