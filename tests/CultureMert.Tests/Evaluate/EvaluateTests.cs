using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using CultureMert.Audio;
using CultureMert.Cli;
using CultureMert.Corpus;
using CultureMert.Evaluation;

namespace CultureMert.Tests.Evaluate;

public class EvaluateTests
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Short synthesised clips (makam vs western major), 3 train / 2 valid / 2 test, written as two task manifests.</summary>
    internal static (string Makam, string West) WriteTasks(Fixtures.TempDir dir)
    {
        Directory.CreateDirectory(dir["audio"]);
        var makam = DemoAudio.Pieces[0] with { Seconds = 2.5, SampleRate = 16000 };
        var west = DemoAudio.Pieces[2] with { Seconds = 2.5, SampleRate = 16000 };
        var rows = new List<(string Path, string Split, string Label)>();
        var splits = new[] { "train", "train", "train", "valid", "test" };
        for (var i = 0; i < splits.Length; i++)
            foreach (var (piece, label) in new[] { (makam, "makam"), (west, "western") })
            {
                var name = $"{label}{i}.wav";
                AudioFile.WriteWav(Path.Combine(dir["audio"], name), DemoAudio.Render(piece, 10 + i), piece.SampleRate);
                rows.Add(($"audio/{name}", splits[i], label));
            }
        File.WriteAllLines(dir["turkish-makam.csv"], ["path,split,labels,culture", .. rows.Select(r => $"{r.Path},{r.Split},{r.Label},turkish")]);
        File.WriteAllLines(dir["western-pop.csv"], ["path,split,labels,culture", .. rows.Select(r => $"{r.Path},{r.Split},{r.Label},western")]);
        return (dir["turkish-makam.csv"], dir["western-pop.csv"]);
    }

    static double D(JsonNode? n) => n is null ? double.NaN : n.GetValue<double>();
    static string F1(double v) => double.IsFinite(v) ? v.ToString("0.0", Inv) : "–";

    [Fact]
    public void Evaluate_TwoModelsTwoTasks_TableMatchesProbeResults_RerunSkips()
    {
        using var dir = new Fixtures.TempDir();
        var (makam, west) = WriteTasks(dir);
        Assert.Equal(0, CliApp.Run(["init", "--preset", "tiny", "--seed", "3", "--out", dir["init3"]]));
        var outDir = dir["eval"];
        string[] args = ["evaluate", "--models", $"base={Fixtures.Dir("mert-tiny")}", "init3=" + dir["init3"], "--tasks", makam, west,
                         "--out", outDir, "--seeds", "2", "--max-epochs", "3", "--hidden", "8", "--batch-size", "8", "--lr", "1e-2",
                         "--chunk-seconds", "1", "--threads", "2"];
        Assert.Equal(0, CliApp.Run(args));

        string[] models = ["base", "init3"], tasks = ["turkish-makam", "western-pop"];
        foreach (var f in new[] { "report.md", "report.csv", "report.json" }) Assert.True(File.Exists(Path.Combine(outDir, f)), f);
        foreach (var png in new[] { "tasks.png", "transfer.png", "layers-turkish-makam.png", "layers-western-pop.png" })
        {
            var bytes = File.ReadAllBytes(Path.Combine(outDir, png));
            Assert.True(bytes.Length > 100 && bytes.AsSpan(0, 8).SequenceEqual(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }), png);
        }

        // Each cell's numbers, read independently from its probe results.json (×100).
        var roc = new double[2, 2];
        var ap = new double[2, 2];
        for (var m = 0; m < 2; m++)
            for (var t = 0; t < 2; t++)
            {
                var best = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "probes", models[m], tasks[t], "results.json")))!["best"]!;
                roc[m, t] = 100 * D(best["test_roc_auc_macro"]!["mean"]);
                ap[m, t] = 100 * D(best["test_ap_macro"]!["mean"]);
            }
        // Columns: task0 roc, task0 ap, task1 roc, task1 ap, non-western avg (task 0), western avg (task 1).
        double[] Row(int m) => [roc[m, 0], ap[m, 0], roc[m, 1], ap[m, 1], (roc[m, 0] + ap[m, 0]) / 2, (roc[m, 1] + ap[m, 1]) / 2];
        var expected = new[] { Row(0), Row(1) };

        // report.json: values and deltas.
        var report = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "report.json")))!;
        string[] keys = ["turkish-makam/roc_auc", "turkish-makam/ap", "western-pop/roc_auc", "western-pop/ap", "non_western_avg", "western_avg"];
        for (var m = 0; m < 2; m++)
        {
            var row = report["table"]![m]!;
            Assert.Equal(models[m], row["model"]!.GetValue<string>());
            for (var k = 0; k < keys.Length; k++)
            {
                Assert.Equal(expected[m][k], D(row["values"]![keys[k]]), 9);
                Assert.Equal(expected[m][k] - expected[0][k], D(row["delta_to_first"]![keys[k]]), 9);
            }
        }
        Assert.Equal(2, report["cells"]![0]!["roc_auc"]!["seeds"]!.AsArray().Count);

        // report.md: the first table's cells show the same numbers, bold exactly where the column's maximum is.
        var lines = File.ReadAllLines(Path.Combine(outDir, "report.md"));
        var header = Array.FindIndex(lines, l => l.StartsWith("| model |"));
        for (var m = 0; m < 2; m++)
        {
            var cells = lines[header + 2 + m].Split('|', StringSplitOptions.TrimEntries)[1..^1];
            Assert.Equal(models[m], cells[0]);
            var parts = new[] { cells[1].Split(" / "), cells[2].Split(" / ") }.SelectMany(x => x).Append(cells[3]).Append(cells[4]).ToArray();
            for (var k = 0; k < keys.Length; k++)
            {
                var bold = parts[k].StartsWith("**");
                Assert.Equal(F1(expected[m][k]), parts[k].Trim('*'));
                var max = Math.Max(Math.Round(expected[0][k], 1), Math.Round(expected[1][k], 1));
                Assert.Equal(Math.Round(expected[m][k], 1) == max, bold);
            }
        }
        // Deltas table: init3's row = value − base's value.
        var deltaHeader = Array.FindIndex(lines, l => l.StartsWith("## Deltas"));
        var deltaRow = lines.Skip(deltaHeader).First(l => l.StartsWith("| init3 |")).Split('|', StringSplitOptions.TrimEntries)[1..^1];
        Assert.Equal((expected[1][4] - expected[0][4]).ToString("0.0", Inv).TrimStart('+'), deltaRow[3].TrimStart('+'));

        // report.html, as a browser shows it: the same numbers in its table, the four plots inline and drawn.
        var page = Reports.RenderedPage.Load(Path.Combine(outDir, "report.html"));
        page.AssertSelfContainedWithVisiblePlots(images: 4);
        Assert.Contains("Deltas", page.Text);
        for (var m = 0; m < 2; m++)
            Assert.Contains($"{models[m]}\t{F1(expected[m][0])} / {F1(expected[m][1])}", page.Text.Replace("*", ""));

        // init3's model card (written by init) now carries its numbers; the fixture's folder has no card and gets none.
        var card = File.ReadAllText(Path.Combine(dir["init3"], "README.md"));
        Assert.Contains($"| turkish-makam | roc_auc | {F1(roc[1, 0])}", card);
        Assert.Contains($"| western-pop | ap | {F1(ap[1, 1])}", card);
        Assert.False(File.Exists(Path.Combine(Fixtures.Dir("mert-tiny"), "README.md")));

        // Rerun: every cell skipped, nothing re-probed.
        var stamps = models.SelectMany(m => tasks.Select(t => File.GetLastWriteTimeUtc(Path.Combine(outDir, "probes", m, t, "results.json")))).ToArray();
        Assert.Equal(0, CliApp.Run(args));
        Assert.Equal(stamps, models.SelectMany(m => tasks.Select(t => File.GetLastWriteTimeUtc(Path.Combine(outDir, "probes", m, t, "results.json")))).ToArray());
        var again = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "report.json")))!;
        Assert.All(again["cells"]!.AsArray(), c => Assert.Equal("skipped", c!["status"]!.GetValue<string>()));
    }

    [Fact]
    public void Evaluate_UnreadableModel_ReportsCellAndContinues()
    {
        using var dir = new Fixtures.TempDir();
        var (makam, _) = WriteTasks(dir);
        Directory.CreateDirectory(dir["broken"]);
        var outDir = dir["eval"];
        Assert.Equal(1, CliApp.Run(["evaluate", "--models", "broken=" + dir["broken"], $"base={Fixtures.Dir("mert-tiny")}", "--tasks", makam,
                                    "--out", outDir, "--seeds", "1", "--max-epochs", "2", "--hidden", "8", "--layer", "weighted", "--chunk-seconds", "1"]));
        var report = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "report.json")))!;
        Assert.Equal("error", report["cells"]![0]!["status"]!.GetValue<string>());
        Assert.Equal("ok", report["cells"]![1]!["status"]!.GetValue<string>());
        Assert.True(File.Exists(Path.Combine(outDir, "probes", "base", "turkish-makam", "results.json")));
        Assert.Contains("Failed cells", File.ReadAllText(Path.Combine(outDir, "report.md")));
    }

    /// <summary>
    /// Manifests declaring single-label and retrieval over the tagging task's audio: the paper's table keeps the tagging
    /// task alone, the classification-and-retrieval table shows each cell's accuracy / macro-F1 (mean over probe seeds)
    /// and MAP@10 / MRR / R@10 as its results.json has them, and the three tasks share one embeddings folder.
    /// </summary>
    [Fact]
    public void Evaluate_DeclaredSingleLabelAndRetrieval_OwnTableAndSharedEmbeddings()
    {
        using var dir = new Fixtures.TempDir();
        var (makam, _) = WriteTasks(dir);
        var lines = File.ReadAllLines(makam);
        File.WriteAllLines(dir["makam-class.csv"], [lines[0] + ",task", .. lines.Skip(1).Select(l => l + ",singlelabel")]);
        File.WriteAllLines(dir["makam-retrieval.csv"], [lines[0] + ",task", .. lines.Skip(1).Select(l => l + ",retrieval")]);
        var outDir = dir["eval"];
        Assert.Equal(0, CliApp.Run(["evaluate", "--models", $"base={Fixtures.Dir("mert-tiny")}", "--tasks", makam, dir["makam-class.csv"], dir["makam-retrieval.csv"],
                                    "--out", outDir, "--seeds", "2", "--max-epochs", "3", "--hidden", "8", "--batch-size", "8", "--chunk-seconds", "1"]));
        Assert.Equal(["turkish-makam"], Directory.GetDirectories(Path.Combine(outDir, "embeddings", "base")).Select(Path.GetFileName));

        var single = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "probes", "base", "makam-class", "results.json")))!;
        Assert.Equal("singlelabel", single["task"]!.GetValue<string>());
        var runs = single["best"]!["runs"]!.AsArray();
        var accuracy = 100 * runs.Average(x => D(x!["test_accuracy"]));
        var f1 = 100 * runs.Average(x => D(x!["test_f1_macro"]));
        var retrieval = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "probes", "base", "makam-retrieval", "results.json")))!["retrieval"]!;
        var report = File.ReadAllText(Path.Combine(outDir, "report.md"));
        var tagging = report[..report.IndexOf("## Classification and retrieval", StringComparison.Ordinal)];
        Assert.DoesNotContain("makam-class", tagging.Split('\n').First(l => l.StartsWith("| model |")));
        var row = report[report.IndexOf("## Classification and retrieval", StringComparison.Ordinal)..].Split('\n').First(l => l.StartsWith("| base |"))
                        .Split('|', StringSplitOptions.TrimEntries)[1..^1];
        Assert.StartsWith($"{F1(accuracy)} ± ", row[1].Trim('*'));
        Assert.Contains($" / {F1(f1)}", row[1].Replace("**", ""));
        Assert.Equal($"{F1(100 * D(retrieval["map_at_k"]!["map@10"]))} / {F1(100 * D(retrieval["mrr"]))} / {F1(100 * D(retrieval["recall_at_k"]!["r@10"]))}",
                     row[2].Replace("**", ""));
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "report.json")))!["table"]![0]!["values"]!;
        Assert.Equal(accuracy, D(json["makam-class/accuracy"]), 9);
        Assert.Equal(100 * D(retrieval["mrr"]), D(json["makam-retrieval/mrr"]), 9);
    }

    [Fact]
    public void EvalTask_WesternByMajorityOfCultureColumn()
    {
        using var dir = new Fixtures.TempDir();
        File.WriteAllLines(dir["a.csv"], ["path,split,labels,culture", "x.wav,train,a,western", "y.wav,train,a,Western", "z.wav,test,a,turkish"]);
        File.WriteAllLines(dir["b.csv"], ["path,split,labels,culture", "x.wav,train,a,western", "z.wav,test,a,turkish"]);
        File.WriteAllLines(dir["c.csv"], ["path,split,labels", "x.wav,train,a"]);
        Assert.True(EvalTask.FromManifest(dir["a.csv"]).Western);
        Assert.False(EvalTask.FromManifest(dir["b.csv"]).Western);
        Assert.False(EvalTask.FromManifest(dir["c.csv"]).Western);
        Assert.Equal("a", EvalTask.FromManifest(dir["a.csv"]).Name);
    }

    [Fact]
    public void EvalTask_BadSplit_ErrorNamesManifestLine()
    {
        using var dir = new Fixtures.TempDir();
        File.WriteAllLines(dir["a.csv"], ["path,split,labels", "x.wav,train,a", "y.wav,dev,a"]);
        var e = Assert.Throws<InvalidDataException>(() => EvalTask.FromManifest(dir["a.csv"]));
        Assert.Contains($"{dir["a.csv"]}:3:", e.Message);
        Assert.Contains("'dev'", e.Message);
    }
}
