using System.Text.Json.Nodes;
using CultureMert.Evaluation;
using CultureMert.Merging;
using CultureMert.Study;

namespace CultureMert.Tests.Study;

/// <summary>The study's statistics on hand-made probe results: λ chosen on validation only, comparisons paired by
/// pre-training seed with probe seeds nested, against values computed here by hand.</summary>
public class StudyScoresTests
{
    /// <summary>A probe results.json as <c>ProbeReport</c> writes it, with per-probe-seed (valid, test ROC-AUC, test AP).</summary>
    static void WriteCell(string dir, (double Valid, double Roc, double Ap)[] runs)
    {
        Directory.CreateDirectory(dir);
        JsonObject S(IEnumerable<double> v) => new() { ["mean"] = v.Average(), ["ci95"] = 0.0 };
        var best = new JsonObject
        {
            ["layer"] = "0", ["lr"] = 0.001,
            ["valid"] = S(runs.Select(r => r.Valid)), ["test_roc_auc_macro"] = S(runs.Select(r => r.Roc)), ["test_ap_macro"] = S(runs.Select(r => r.Ap)),
            ["runs"] = new JsonArray([.. runs.Select(r => (JsonNode?)new JsonObject { ["valid"] = r.Valid, ["test_roc_auc_macro"] = r.Roc, ["test_ap_macro"] = r.Ap })]),
        };
        var config = best.DeepClone();
        File.WriteAllText(Path.Combine(dir, "results.json"), new JsonObject { ["best"] = best, ["configs"] = new JsonArray(config) }.ToJsonString());
    }

    [Fact]
    public void LambdaIsChosenOnValidation_ComparisonsPairPretrainingSeeds()
    {
        using var tmp = new Fixtures.TempDir();
        var eval = tmp["eval"];
        EvalTask[] tasks = [new("west", "w.csv", true), new("east", "e.csv", false)];
        var models = new List<StudyModel>();
        var cells = new List<EvalCell>();
        // Per role and pre-training seed k: (valid, test) of the non-Western task; the Western task scores 0.6 + 0.01·k everywhere
        // but for "base" (0.7 + 0.01·k). λ 0.5 wins on validation, λ 0.2 on test: the choice must be λ 0.5.
        var east = new Dictionary<string, Func<int, (double Valid, double Test)>>
        {
            ["base"] = k => (0.60, 0.60 + 0.02 * k),
            ["random"] = k => (0.55, 0.50),
            ["ta-0.2"] = k => (0.61, 0.90),
            ["ta-0.5"] = k => (0.70, 0.65 + 0.01 * k),
        };
        foreach (var (role, f) in east)
            for (var k = 0; k < 3; k++)
            {
                var merge = role.StartsWith("ta-") ? new StudyMerge(MergeMethod.TaskArithmetic, double.Parse(role[3..], System.Globalization.CultureInfo.InvariantCulture)) : null;
                var m = new StudyModel(role, k, "unused", merge);
                Assert.Equal(role, merge?.Role ?? role);
                models.Add(m);
                var (valid, test) = f(k);
                var west = (role == "base" ? 0.7 : 0.6) + 0.01 * k;
                // Two probe seeds around the value: their mean is what a pre-training seed contributes.
                WriteCell(Path.Combine(eval, "probes", m.Name, "east"), [(valid, test - 0.01, test - 0.03), (valid, test + 0.01, test + 0.03)]);
                WriteCell(Path.Combine(eval, "probes", m.Name, "west"), [(0.5, west, west), (0.5, west, west)]);
                cells.AddRange(tasks.Select(t => new EvalCell(m.Name, t.Name, "ok", null, "")));
            }
        var s = new StudyScores(eval, models, tasks, cells, pretrainSeeds: 3, margin: 1.0);

        Assert.Equal("ta-0.5", s.BestTa);
        // Group average = mean of ROC-AUC and AP over the group's tasks, ×100; per seed the probe seeds average out.
        Assert.Equal([60.0, 62.0, 64.0], s.Group("base", false), (a, b) => Math.Abs(a - b) < 1e-9);
        var d = s.Compare("ta-0.5", "base", western: false);           // per seed: 65 − 60, 66 − 62, 67 − 64 = 5, 4, 3
        Assert.Equal(4.0, d.Diff.Mean, 9);
        Assert.Equal(1.0, d.Diff.Std, 9);
        Assert.Equal(3, d.Diff.N);
        Assert.Equal(Comparison.Higher, d.Verdict);
        // base − random on the Western tasks: 10 points at every seed, zero spread: learned.
        Assert.Equal(Comparison.Higher, s.Compare("base", "random", western: true).Verdict);
        // ta-0.2 and ta-0.5 on the Western tasks: identical, so equivalent within ±1.
        Assert.Equal(Comparison.Equivalent, s.Compare("ta-0.2", "ta-0.5", western: true).Verdict);
    }
}
