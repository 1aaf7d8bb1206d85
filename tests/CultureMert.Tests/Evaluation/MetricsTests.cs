using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CultureMert.Evaluation;
using Xunit.Abstractions;

namespace CultureMert.Tests.Evaluation;

/// <summary>ROC-AUC / AP / F1 against scikit-learn (fixtures/metrics, made by metrics_golden.py) and hand-computed cases.</summary>
[Collection(ProcessWideMeasurements.Name)]
public class MetricsTests
{
    static JsonObject Golden() => JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.Dir("metrics"), "sklearn-multilabel.json")))!.AsObject();

    static (bool[,] Truth, double[,] Scores, string[] Tags) GoldenArrays(JsonObject g)
    {
        var y = g["y_true"]!.AsArray();
        var s = g["y_score"]!.AsArray();
        var (n, k) = (y.Count, y[0]!.AsArray().Count);
        var truth = new bool[n, k];
        var scores = new double[n, k];
        for (var i = 0; i < n; i++)
            for (var t = 0; t < k; t++) { truth[i, t] = y[i]![t]!.GetValue<int>() == 1; scores[i, t] = s[i]![t]!.GetValue<double>(); }
        return (truth, scores, [.. Enumerable.Range(0, k).Select(t => $"tag{t}")]);
    }

    [Fact]
    public void MultiLabelMatchesSklearn()
    {
        var g = Golden();
        var (truth, scores, tags) = GoldenArrays(g);
        var m = MultiLabel.Compute(truth, scores, g["threshold"]!.GetValue<double>(), tags);
        const double tol = 1e-9;
        Assert.Equal(g["roc_auc_macro"]!.GetValue<double>(), m.RocAucMacro!.Value, tol);
        Assert.Equal(g["roc_auc_micro"]!.GetValue<double>(), m.RocAucMicro!.Value, tol);
        Assert.Equal(g["ap_macro"]!.GetValue<double>(), m.ApMacro!.Value, tol);
        Assert.Equal(g["ap_micro"]!.GetValue<double>(), m.ApMicro!.Value, tol);
        Assert.Equal(g["f1_micro_at_threshold"]!.GetValue<double>(), m.F1Micro, tol);
        Assert.Equal(g["f1_macro_at_threshold"]!.GetValue<double>(), m.F1Macro, tol);
        var auc = g["roc_auc_per_tag"]!.AsArray();
        var ap = g["ap_per_tag"]!.AsArray();
        Assert.Equal(tags.Length, auc.Count);
        for (var t = 0; t < tags.Length; t++)
        {
            Assert.Equal(auc[t]!.GetValue<double>(), m.PerTag[t].RocAuc!.Value, tol);
            Assert.Equal(ap[t]!.GetValue<double>(), m.PerTag[t].AveragePrecision!.Value, tol);
            var column = Enumerable.Range(0, scores.GetLength(0));
            double[] s = [.. column.Select(i => scores[i, t])];
            bool[] y = [.. column.Select(i => truth[i, t])];
            Assert.Equal(auc[t]!.GetValue<double>(), Metrics.RocAuc(s, y), tol);
            Assert.Equal(ap[t]!.GetValue<double>(), Metrics.AveragePrecision(s, y), tol);
        }
        Assert.Empty(m.SkippedTags);
    }

    [Fact]
    public void HandComputedCases()
    {
        // ecosystem.md §3 / sklearn docs: y=[0,0,1,1], s=[0.1,0.4,0.35,0.8] → AUC 0.75, AP (1/2)·1 + (1/2)·(2/3) = 0.8333…
        double[] s = [0.1, 0.4, 0.35, 0.8];
        bool[] y = [false, false, true, true];
        Assert.Equal(0.75, Metrics.RocAuc(s, y), 1e-15);
        Assert.Equal(5.0 / 6.0, Metrics.AveragePrecision(s, y), 1e-15);
        // All tied: one threshold, the ROC diagonal, precision = prevalence at recall 1.
        double[] tied = [0.3, 0.3, 0.3, 0.3, 0.3];
        bool[] y2 = [true, false, false, true, false];
        Assert.Equal(0.5, Metrics.RocAuc(tied, y2), 1e-15);
        Assert.Equal(0.4, Metrics.AveragePrecision(tied, y2), 1e-15);
        // A tie across classes gets half credit: pos {0.9, 0.5}, neg {0.5, 0.1} → (1 + 1 + 0.5 + 1) / 4.
        Assert.Equal(0.875, Metrics.RocAuc([0.9, 0.5, 0.5, 0.1], [true, true, false, false]), 1e-15);
        // −0 and +0 are one threshold, as in numpy.
        Assert.Equal(0.5, Metrics.RocAuc([-0.0, 0.0], [true, false]), 1e-15);
        // F1 at >= threshold; zero_division=0.
        Assert.Equal(0.5, Metrics.F1(s, y, 0.4), 1e-15);         // predicted {0.4, 0.8}: TP 1, FP 1, FN 1 → 2/(2+1+1)
        Assert.Equal(0.0, Metrics.F1(s, [false, false, false, false], 0.9));
        Assert.Throws<ArgumentException>(() => Metrics.RocAuc([0.1, 0.2], [true, true]));
        Assert.Throws<ArgumentException>(() => Metrics.AveragePrecision([0.1, 0.2], [false, false]));
        Assert.Equal(1.0, Metrics.AveragePrecision([0.1, 0.2], [true, true]));
        Assert.Throws<ArgumentException>(() => Metrics.RocAuc([0.1, double.NaN], [true, false]));
    }

    [Fact]
    public void OneClassTagIsSkippedAndNamed()
    {
        var truth = new bool[,] { { true, false, true }, { false, false, true }, { true, false, true }, { false, false, true } };
        var scores = new double[,] { { 0.9, 0.2, 0.5 }, { 0.1, 0.7, 0.4 }, { 0.6, 0.1, 0.3 }, { 0.4, 0.3, 0.2 } };
        var m = MultiLabel.Compute(truth, scores, 0.5, ["rock", "never", "always"]);
        Assert.Equal(["never", "always"], m.SkippedTags);
        Assert.Null(m.PerTag[1].RocAuc);
        Assert.Null(m.PerTag[2].AveragePrecision);
        Assert.Equal(1.0, m.RocAucMacro);                          // only "rock" counts
        Assert.Equal(1.0, m.ApMacro);
        // F1 macro as sklearn (zero_division=0): rock 1, never 0 (1 FP), always 2·1/(2·1 + 3 FN) = 0.4.
        Assert.Equal((1.0 + 0.0 + 0.4) / 3, m.F1Macro, 1e-15);
        var ex = Assert.Throws<ArgumentException>(() => MultiLabel.Compute(truth, new double[,] { { 0.9, 0.2, 0.5 }, { 0.1, double.NaN, 0.4 }, { 0.6, 0.1, 0.3 }, { 0.4, 0.3, 0.2 } }, 0.5, ["rock", "never", "always"]));
        Assert.Contains("'never'", ex.Message);
    }

    [Fact]
    public void MicroIsPooledPairs()
    {
        // Micro = the binary metric of the flattened (sample, tag) pairs, ties across tags included.
        var rng = new Random(3);
        var (n, k) = (300, 7);
        var truth = new bool[n, k];
        var scores = new double[n, k];
        for (var i = 0; i < n; i++)
            for (var t = 0; t < k; t++) { truth[i, t] = rng.NextDouble() < 0.3; scores[i, t] = Math.Round(rng.NextDouble() + (truth[i, t] ? 0.3 : 0), 1); }
        var m = MultiLabel.Compute(truth, scores, 0.5, [.. Enumerable.Range(0, k).Select(t => $"t{t}")]);
        double[] s = [.. scores.Cast<double>()];
        bool[] y = [.. truth.Cast<bool>()];
        Assert.Equal(Metrics.RocAuc(s, y), m.RocAucMicro!.Value, 1e-12);
        Assert.Equal(Metrics.AveragePrecision(s, y), m.ApMicro!.Value, 1e-12);
        Assert.Equal(Metrics.F1(s, y, 0.5), m.F1Micro, 1e-15);
    }

    // ---- CSV files ----

    static void Write(string path, string text) => File.WriteAllText(path, text);

    [Fact]
    public void CsvAlignsByIdAndTagName()
    {
        using var dir = new Fixtures.TempDir();
        Write(dir["t.csv"], "id,rock,jazz\na,1,0\nb,0,1\n\"c,d\",1,1\n");
        Write(dir["s.csv"], "jazz,id,rock\n0.2,b,0.3\n0.9,\"c,d\",0.8\n0.1,a,0.7\n");
        var table = TagTable.Read(dir["t.csv"], dir["s.csv"]);
        Assert.Equal(["a", "b", "c,d"], table.Ids);
        Assert.Equal(["rock", "jazz"], table.Tags);
        Assert.Equal(0.7, table.Scores[0, 0]);
        Assert.Equal(0.2, table.Scores[1, 1]);
        Assert.Equal(0.9, table.Scores[2, 1]);
        Assert.True(table.Truth[2, 0] && !table.Truth[0, 1]);
    }

    [Theory]
    [InlineData("id,rock\na,1\nb,0\n", "name,rock\na,0.1\nb,0.2\n", "no 'id' column")]
    [InlineData("id,rock\na,1\nb,0\n", "id,rock\na,0.1\nc,0.2\n", "missing 1 ('b') extra 1 ('c')")]
    [InlineData("id,rock\na,1\nb,0\n", "id,rock\na,0.1\n", "missing 1 ('b')")]
    [InlineData("id,rock\na,1\nb,0\n", "id,rock\na,0.1\nb,loud\n", "line 3, column 'rock': 'loud' is not a number")]
    [InlineData("id,rock\na,1\nb,2\n", "id,rock\na,0.1\nb,0.2\n", "line 3, column 'rock': truth must be 0 or 1")]
    [InlineData("id,rock\na,1\nb,0\n", "id,jazz\na,0.1\nb,0.2\n", "missing 1 ('rock') extra 1 ('jazz')")]
    [InlineData("id,rock\na,1\na,0\n", "id,rock\na,0.1\nb,0.2\n", "id 'a' appears twice")]
    [InlineData("id,rock\na,1\nb,0\n", "id,rock\na,0.1\nb\n", "line 3: 1 fields")]
    [InlineData("id,rock\na,1\nb,0\n", "id,rock\na,0.1\nb,nan\n", "'nan' is not a number")]
    public void CsvErrorsNameTheProblem(string truthCsv, string scoresCsv, string message)
    {
        using var dir = new Fixtures.TempDir();
        Write(dir["t.csv"], truthCsv);
        Write(dir["s.csv"], scoresCsv);
        var ex = Assert.Throws<InvalidDataException>(() => TagTable.Read(dir["t.csv"], dir["s.csv"]));
        Assert.Contains(message, ex.Message);
    }

    // ---- CLI ----

    static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var (stdout, stderr) = (Console.Out, Console.Error);
        var (o, e) = (new StringWriter(), new StringWriter());
        Console.SetOut(o);
        Console.SetError(e);
        try { return (CultureMert.Cli.CliApp.Run(args), o.ToString(), e.ToString()); }
        finally { Console.SetOut(stdout); Console.SetError(stderr); }
    }

    static void WriteGoldenCsvs(JsonObject g, string truthPath, string scoresPath)
    {
        var (truth, scores, tags) = GoldenArrays(g);
        var (t, s) = (new StringBuilder("id," + string.Join(",", tags) + "\n"), new StringBuilder("id," + string.Join(",", tags.Reverse()) + "\n"));
        for (var i = 0; i < truth.GetLength(0); i++)
        {
            t.Append($"clip{i}," + string.Join(",", Enumerable.Range(0, tags.Length).Select(k => truth[i, k] ? "1" : "0")) + "\n");
            var j = truth.GetLength(0) - 1 - i;                   // scores in reverse row and column order
            s.Append($"clip{j}," + string.Join(",", Enumerable.Range(0, tags.Length).Reverse().Select(k => scores[j, k].ToString("R", CultureInfo.InvariantCulture))) + "\n");
        }
        Write(truthPath, t.ToString());
        Write(scoresPath, s.ToString());
    }

    [Fact]
    public void CliJsonMatchesSklearn()
    {
        var g = Golden();
        using var dir = new Fixtures.TempDir();
        WriteGoldenCsvs(g, dir["truth.csv"], dir["scores.csv"]);
        var (code, stdout, stderr) = Cli("metrics", "--truth", dir["truth.csv"], "--scores", dir["scores.csv"], "--json");
        Assert.True(code == 0, stderr);
        var j = JsonNode.Parse(stdout)!.AsObject();
        foreach (var (key, golden) in new[] { ("roc_auc_macro", "roc_auc_macro"), ("roc_auc_micro", "roc_auc_micro"), ("ap_macro", "ap_macro"),
                                               ("ap_micro", "ap_micro"), ("f1_micro", "f1_micro_at_threshold"), ("f1_macro", "f1_macro_at_threshold") })
            Assert.Equal(g[golden]!.GetValue<double>(), j[key]!.GetValue<double>(), 1e-9);
        Assert.Equal(g["ap_per_tag"]![4]!.GetValue<double>(), j["per_tag"]!["tag4"]!["ap"]!.GetValue<double>(), 1e-9);
        Assert.Empty(j["skipped_tags"]!.AsArray());
    }

    [Fact]
    public void CliTableNamesSkippedTagsAndFailsCleanly()
    {
        using var dir = new Fixtures.TempDir();
        Write(dir["t.csv"], "id,rock,silence\na,1,0\nb,0,0\nc,1,0\n");
        Write(dir["s.csv"], "id,rock,silence\na,0.9,0.1\nb,0.2,0.3\nc,0.6,0.2\n");
        var (code, stdout, _) = Cli("metrics", "--truth", dir["t.csv"], "--scores", dir["s.csv"], "--threshold", "0.25");
        Assert.Equal(0, code);
        Assert.Contains("macro", stdout);
        Assert.Contains("one class only in the truth): silence", stdout);
        var (json, jsonOut, _) = Cli("metrics", "--truth", dir["t.csv"], "--scores", dir["s.csv"], "--json");
        Assert.Equal(0, json);
        var j = JsonNode.Parse(jsonOut)!;
        Assert.Equal("silence", j["skipped_tags"]![0]!.GetValue<string>());
        Assert.Null(j["per_tag"]!["silence"]!["roc_auc"]);

        Write(dir["bad.csv"], "id,rock,silence\na,0.9,0.1\nb,x,0.3\nc,0.6,0.2\n");
        var (bad, _, err) = Cli("metrics", "--truth", dir["t.csv"], "--scores", dir["bad.csv"]);
        Assert.Equal(3, bad);
        Assert.Contains("line 3, column 'rock'", err);
    }
}
