using CultureMert.Audio;
using CultureMert.Batch;
using CultureMert.Checkpoints;

namespace CultureMert.Tests.Faults;

/// <summary>
/// <c>kill -9</c> in the middle of each long command, then the same command again: it finishes, its outputs equal those of
/// an uninterrupted run byte for byte, every output present after the kill was complete, and no temporary is left.
/// </summary>
public class KillResumeTests
{
    const int Killed = 137;                                                             // 128 + SIGKILL

    static void Music(string dir, int files, double seconds)
    {
        for (var k = 0; k < files; k++)
            AudioFile.WriteWav(Path.Combine(dir, $"{k:00}.wav"),
                [.. Enumerable.Range(0, (int)(24000 * seconds)).Select(i => (float)(0.3 * Math.Sin(i * (0.02 + 0.002 * k)) + 0.1 * Math.Sin(i * 0.31)))], 24000);
    }

    /// <summary>A batch command killed once <paramref name="before"/> outputs are on disk, then rerun; returns the index rows of the rerun.</summary>
    static List<IndexRow> KillAfterSomeOutputsThenRerun(string[] command, string outDir, string cleanDir, int files)
    {
        Assert.Equal(0, CliProcess.Run([.. command, "--out", cleanDir]).Code);
        var (code, err) = CliProcess.Run([.. command, "--out", outDir], p =>
        {
            CliProcess.WaitUntil(p, () => CliProcess.Count(outDir, "*.safetensors") >= 2);
            CliProcess.Signal(p, "KILL");
        });
        Assert.True(code == Killed, $"not killed mid-run (exit {code}): {err}");
        var present = Directory.GetFiles(outDir, "*.safetensors");
        Assert.InRange(present.Length, 2, files - 1);
        foreach (var f in present) Assert.NotNull(SafeTensors.ReadHeader(f).Metadata.GetValueOrDefault("source"));   // complete, never partial

        (code, err) = CliProcess.Run([.. command, "--out", outDir]);
        Assert.True(code == 0, err);
        Assert.Empty(CliProcess.Temporaries(outDir));
        var rows = Manifest.ReadIndex(Path.Combine(outDir, BatchJob.IndexFile));
        Assert.Equal(files, rows.Count);
        Assert.Equal(present.Length, rows.Count(r => r.Status == "skipped"));          // what the killed run finished is kept
        foreach (var r in rows) Fixtures.AssertSameTensors(Path.Combine(cleanDir, r.Output), Path.Combine(outDir, r.Output));
        return rows;
    }

    [Fact]
    public void Embed_Kill9_RerunResumes_SameAsUninterrupted()
    {
        using var dir = new Fixtures.TempDir();
        Music(dir["music"], files: 24, seconds: 12);
        KillAfterSomeOutputsThenRerun(["embed", "--model", Fixtures.Dir("mert-tiny"), "--pool", "none", dir["music"]], dir["o"], dir["clean"], 24);
    }

    [Fact]
    public void Tokenize_Kill9_RerunResumes_SameAsUninterrupted()
    {
        using var dir = new Fixtures.TempDir();
        Music(dir["music"], files: 24, seconds: 12);
        Assert.Equal(0, CliProcess.Run(["teacher", "fit-kmeans", "--k", "8", "--out", dir["km.safetensors"], dir["music"]]).Code);
        KillAfterSomeOutputsThenRerun(["tokenize", "--teacher", "kmeans:" + dir["km.safetensors"], dir["music"]], dir["o"], dir["clean"], 24);
    }

    [Fact]
    public void Pretrain_Kill9_ResumeFromTheLastCheckpoint_SameWeightsAsUninterrupted()
    {
        using var dir = new Fixtures.TempDir();
        File.WriteAllText(dir["recipe.json"], """
            { "base": "init:tiny", "init_seed": 0, "targets": { "teacher": "kmeans-fit", "k": 8 },
              "sources": { "a": { "synthesize": { "piece": "makam-hicaz", "clips": 4, "seconds": 4, "seed": 1 } },
                           "b": { "synthesize": { "piece": "western-major", "clips": 4, "seconds": 4, "seed": 2 } } },
              "crop_seconds": 1, "batch_size": 4, "seed": 7, "checkpoint_every": 3,
              "stages": [ { "name": "one", "steps": 12, "warmup_steps": 2, "peak_lr": 1e-3, "floor_lr": 0, "decay": "linear", "mix": { "a": 0.5, "b": 0.5 } } ] }
            """);
        Assert.Equal(0, CliProcess.Run(["pretrain", "--recipe", dir["recipe.json"], "--out", dir["clean"]]).Code);
        var (code, err) = CliProcess.Run(["pretrain", "--recipe", dir["recipe.json"], "--out", dir["run"]], p =>
        {
            CliProcess.WaitUntil(p, () => Directory.Exists(dir["run/checkpoints/step-0000003"]));
            CliProcess.Signal(p, "KILL");
        });
        Assert.True(code == Killed, $"not killed mid-run (exit {code}): {err}");
        Assert.False(Directory.Exists(dir["run/checkpoints/step-0000012"]));

        (code, err) = CliProcess.Run(["pretrain", "--recipe", dir["recipe.json"], "--out", dir["run"], "--resume"]);
        Assert.True(code == 0, err);
        Assert.Empty(CliProcess.Temporaries(dir["run"]));
        Fixtures.AssertSameTensors(dir["clean/checkpoints/step-0000012/model.safetensors"], dir["run/checkpoints/step-0000012/model.safetensors"]);
    }

    [Fact]
    public void Merge_Kill9_RerunCompletes_SameAsUninterrupted_NoTemporaryLeft()
    {
        using var dir = new Fixtures.TempDir();
        Assert.Equal(0, CliProcess.Run(["init", "--preset", "tiny", "--seed", "3", "--out", dir["m3"]]).Code);
        string[] merge = ["merge", "--method", "ties", "--density", "0.5", "--lambda", "0.2,0.4,0.6,0.8,1",
                          "--base", Fixtures.Dir("mert-tiny"), "--models", dir["m3"], Fixtures.Dir("mert-tiny")];
        Assert.Equal(0, CliProcess.Run([.. merge, "--out", dir["clean"]]).Code);
        // Killed as soon as it writes (a merge of tiny models takes a moment, so the kill may also land after it ended:
        // either way the rerun must finish the job and clean up, and a temporary planted from a dead writer goes too).
        var (code, _) = CliProcess.Run([.. merge, "--out", dir["out"]], p =>
        {
            CliProcess.WaitUntil(p, () => Directory.Exists(dir["out"]) && CliProcess.Temporaries(dir["out"]).Count > 0);
            CliProcess.Signal(p, "KILL");
        });
        Assert.True(code is Killed or 0);
        Directory.CreateDirectory(dir["out/lambda-0.2"]);
        File.WriteAllText(dir["out/lambda-0.2/.cmtmp.999999.0123456789ab.tmp"], "partial");
        var (rerun, err) = CliProcess.Run([.. merge, "--out", dir["out"]]);
        Assert.True(rerun == 0, err);
        Assert.Empty(CliProcess.Temporaries(dir["out"]));
        foreach (var l in new[] { "0.2", "0.4", "0.6", "0.8", "1" })
            Fixtures.AssertSameTensors(dir[$"clean/lambda-{l}/model.safetensors"], dir[$"out/lambda-{l}/model.safetensors"]);
    }

    [Fact]
    public void Evaluate_Kill9_RerunSkipsFinishedCells_SameReportAsUninterrupted()
    {
        using var dir = new Fixtures.TempDir();
        var (makam, west) = Evaluate.EvaluateTests.WriteTasks(dir);
        Assert.Equal(0, CliProcess.Run(["init", "--preset", "tiny", "--seed", "3", "--out", dir["init3"]]).Code);
        string[] evaluate = ["evaluate", "--models", $"base={Fixtures.Dir("mert-tiny")}", "init3=" + dir["init3"], "--tasks", makam, west,
                             "--seeds", "2", "--max-epochs", "3", "--hidden", "8", "--batch-size", "8", "--lr", "1e-2", "--chunk-seconds", "1", "--threads", "2"];
        Assert.Equal(0, CliProcess.Run([.. evaluate, "--out", dir["clean"]]).Code);
        var (code, err) = CliProcess.Run([.. evaluate, "--out", dir["eval"]], p =>
        {
            CliProcess.WaitUntil(p, () => CliProcess.Count(dir["eval/probes"], "results.json") >= 1);
            CliProcess.Signal(p, "KILL");
        });
        Assert.True(code == Killed, $"not killed mid-run (exit {code}): {err}");
        Assert.False(File.Exists(dir["eval/report.csv"]));
        File.WriteAllText(dir["eval/probes/.cmtmp.999999.0123456789ab.tmp"], "partial");   // a dead writer's, as the kill may leave one

        (code, err) = CliProcess.Run([.. evaluate, "--out", dir["eval"]]);
        Assert.True(code == 0, err);
        Assert.Contains("already done", err);
        Assert.Equal([], CliProcess.Temporaries(dir["eval"]));
        Assert.Equal(File.ReadAllText(dir["clean/report.csv"]).Replace(dir["clean"], ""), File.ReadAllText(dir["eval/report.csv"]).Replace(dir["eval"], ""));
    }
}
