using System.Text;
using CultureMert.Evaluation;
using CultureMert.IO;
using CultureMert.Merging;
using CultureMert.Reports;

namespace CultureMert.Study;

/// <summary>The report's merging sections: the sweep of methods and λ, and the repeated merges.</summary>
internal static partial class StudyReport
{
    /// <summary>Every merge of the sweep: validation score (what chooses method and λ) and test group averages, and
    /// <c>merge-sweep.png</c>.</summary>
    static void MergeSweep(StringBuilder sb, StudyScores s, string outDir)
    {
        if (s.Merges.Count == 0) return;
        sb.Append("\n## Merging: methods and λ\n\nθ = θ_base + λ·merge(τ_c) over the single-culture CPT models' task vectors τ_c, one merge per method, λ and ")
          .Append("pre-training seed (each method's formula: `merge.json` in `merges/`). Method and λ are chosen by the non-Western average of the probes' ")
          .Append("**validation** ROC-AUC (mean over pre-training seeds): once among task arithmetic's λ (the paper's claims) and once among every method. ")
          .Append("The test columns are read only for the chosen merges.\n\n")
          .Append("| method | λ | validation non-Western ROC-AUC | test non-Western avg | test Western avg |\n| --- | --- | --- | --- | --- |\n");
        foreach (var m in s.Merges)
        {
            var chosen = string.Join(", ", new[] { (s.BestTa, "chosen: task arithmetic"), (s.BestMerge, "chosen: any method") }.Where(x => x.Item1 == m.Role).Select(x => x.Item2));
            sb.Append($"| {m.Method.Name()} | {m.Lambda.ToString(Inv)}{(chosen.Length > 0 ? $" ({chosen})" : "")} | {Ci(Summary.Of(s.ValidNonWestern(m.Role)))} | ")
              .Append($"{Ci(Summary.Of(s.Group(m.Role, false)))} | {Ci(Summary.Of(s.Group(m.Role, true)))} |\n");
        }
        var roles = s.Merges.Select(m => m.Role).ToList();
        if (!roles.Any(r => double.IsFinite(Summary.Of(s.ValidNonWestern(r)).Mean))) return;
        (string, double[], double[]) Series(string name, Func<string, double[]> values) =>
            (name, [.. roles.Select(r => Summary.Of(values(r)).Mean)], [.. roles.Select(r => Summary.Of(values(r)).HalfWidth)]);
        BarPlot.SavePng(Path.Combine(outDir, "merge-sweep.png"), "merges by method and λ (mean ± 95 % CI over pre-training seeds)", "mean ROC-AUC (& AP) ×100",
            [.. s.Merges.Select(m => $"{m.Method.Name()} {m.Lambda.ToString(Inv)}")],
            [Series("validation non-Western", s.ValidNonWestern), Series("test non-Western", r => s.Group(r, false)), Series("test Western", r => s.Group(r, true))]);
        sb.Append("\n![merge sweep](merge-sweep.png)\n");
    }

    /// <summary>
    /// The repeated merges against the one-shot merge: weight-space measures and per-culture probe scores per merge, the
    /// paired Δ of the non-Western average with its verdict, <c>repeated-merges.csv</c> (per pre-training seed) and one
    /// plot per measure against the re-merge round k.
    /// </summary>
    static void RepeatedMergeSection(StringBuilder sb, StudyScores s, RepeatedMerges r, string outDir)
    {
        if (r.Merge is not { } merge || s.BestTa is not { } oneShot) return;
        var cultures = Enumerable.Range(0, s.Tasks.Count).Where(t => s.Tasks[t].Tagging && !s.Tasks[t].Western).ToList();
        var merges = r.Kinds.Prepend(RepeatedMerge.Remerge(1) with { Role = oneShot }).ToList();
        double[] Measure(Func<StabilityRow, bool> which, Func<StabilityRow, double> pick) =>
            [.. Enumerable.Range(0, s.PretrainSeeds).Select(k => r.Rows.Where(x => x.Seed == k && which(x.Row)).Select(x => pick(x.Row)).DefaultIfEmpty(double.NaN).Average())];

        sb.Append($"\n## Repeated merges\n\nIs merging stable when it is repeated? {merge.Label} (chosen on validation), per pre-training seed: **order** — the left fold ")
          .Append("merge(merge(A, B), C) with each culture joining last (the merge is symmetric in its models, so these are the distinct orderings); **re-merging** — ")
          .Append("round k merges round k − 1's model again with every culture model. Weight space (mean ± 95 % CI over pre-training seeds): distance ‖τ − τ*‖ / ‖τ*‖ ")
          .Append("to the one-shot merge's task vector τ*, cosine, and effective λ = λ·⟨τ, τ*⟩ / ‖τ*‖² (λ drift). Probing: test ROC-AUC ×100 of each non-Western ")
          .Append("culture's task; Δ: the non-Western average against the one-shot merge, paired by pre-training seed, verdict as in the paired comparisons.\n\n")
          .Append("| merge | distance | cosine | effective λ | ").Append(string.Join(" | ", cultures.Select(t => $"{s.Tasks[t].Name} ROC-AUC"))).Append(" | Δ non-Western avg | verdict |\n")
          .Append("| --- | --- | --- | --- |").Append(string.Concat(cultures.Select(_ => " --- |"))).Append(" --- | --- |\n");
        var rows = new List<string[]>();
        var findings = new List<string>();
        foreach (var (role, label, _, which) in merges)
        {
            var (d, c, l) = (Measure(which, x => x.RelativeDistance), Measure(which, x => x.Cosine), Measure(which, x => x.EffectiveLambda));
            var e = role == oneShot ? null : s.Compare(role, oneShot, western: false);
            sb.Append($"| {label} | {Ci3(Summary.Of(d))} | {Ci3(Summary.Of(c))} | {Ci3(Summary.Of(l))} | ")
              .Append(string.Join(" | ", cultures.Select(t => Ci(Summary.Of(s.TaskRocAuc(role, t))))))
              .Append($" | {(e is null ? "–" : Pm(e.Diff))} | {(e is null ? "–" : Verdict(e.Verdict))} |\n");
            if (e is not null && e.Verdict != Comparison.Inconclusive) findings.Add($"{label}: {Verdict(e.Verdict)} ({Pm(e.Diff)})");
            for (var k = 0; k < s.PretrainSeeds; k++)
                rows.Add([role, k.ToString(Inv), R(d[k]), R(c[k]), R(l[k]), .. cultures.Select(t => R(s.TaskRocAuc(role, t)[k])), R(s.Group(role, false)[k])]);
        }
        Csv.Write(Path.Combine(outDir, "repeated-merges.csv"),
                  ["merge", "pretrain_seed", "relative_distance", "cosine", "effective_lambda", .. cultures.Select(t => $"{s.Tasks[t].Name}_test_roc_auc"), "non_western_avg"], rows);
        sb.Append("\nRead as far as the intervals allow: ")
          .Append(findings.Count == 0 ? "no repeated merge differs from the one-shot merge beyond its interval, and none is shown equivalent either (inconclusive at this size)."
                                      : string.Join("; ", findings) + "; every other row is inconclusive.")
          .Append(" Per-seed rows: [`repeated-merges.csv`](repeated-merges.csv); every ordering's weight-space rows: `merges/repeated/s*/stability.csv`.\n");
        RoundPlots(sb, s, [.. merges.Where(m => m.Round > 0)], cultures, Measure, outDir);
    }

    /// <summary>One plot per measure against the re-merge round k: the weight-space measures, and the per-culture ROC-AUC.</summary>
    static void RoundPlots(StringBuilder sb, StudyScores s, List<RepeatedMerge> rounds, List<int> cultures,
                           Func<Func<StabilityRow, bool>, Func<StabilityRow, double>, double[]> measure, string outDir)
    {
        string[] ks = [.. Enumerable.Range(1, rounds.Count).Select(k => k.ToString(Inv))];
        (string, double[], double[]) Series(string name, Func<int, double[]> perSeed) =>
            (name, [.. Enumerable.Range(0, rounds.Count).Select(i => Summary.Of(perSeed(i)).Mean)], [.. Enumerable.Range(0, rounds.Count).Select(i => Summary.Of(perSeed(i)).HalfWidth)]);
        var plots = new (string File, string Measure, (string, double[], double[])[] Series)[]
        {
            ("repeated-distance.png", "relative distance to the one-shot merge", [Series("distance", i => measure(rounds[i].Measures, x => x.RelativeDistance))]),
            ("repeated-cosine.png", "cosine with the one-shot task vector", [Series("cosine", i => measure(rounds[i].Measures, x => x.Cosine))]),
            ("repeated-lambda.png", "effective λ", [Series("effective λ", i => measure(rounds[i].Measures, x => x.EffectiveLambda))]),
            ("repeated-roc-auc.png", "test ROC-AUC ×100", [.. cultures.Select(t => Series(s.Tasks[t].Name, i => s.TaskRocAuc(rounds[i].Role, t)))]),
        };
        sb.Append('\n');
        foreach (var (file, name, series) in plots.Where(p => p.Series.Any(x => x.Item2.Any(double.IsFinite))))
        {
            LayerPlot.SavePng(Path.Combine(outDir, file), $"re-merging: {name}", $"{name} (mean ± 95 % CI)", ks, series, xLabel: "re-merge round k (over pre-training seeds)");
            sb.Append($"![{name}]({file})\n");
        }
    }

    static string Ci3(Summary s) => !double.IsFinite(s.Mean) ? "–" : s.Mean.ToString("0.000", Inv) + (double.IsFinite(s.HalfWidth) ? " ± " + s.HalfWidth.ToString("0.000", Inv) : "");
}
