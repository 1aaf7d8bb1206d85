using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CultureMert.Corpus;
using CultureMert.Evaluation;
using CultureMert.Reports;
using CultureMert.IO;

namespace CultureMert.Study;

/// <summary>
/// <c>REPORT.md</c> (+ <c>report.json</c>) of a <see cref="CultureStudy"/>: corpus, the paper-style table, deltas with
/// confidence intervals over probe seeds, the λ sweep, the culture × culture transfer heat map, token similarity, loss
/// curves, and a reading of what appeared next to the paper's headline results.
/// </summary>
/// <remarks>
/// A delta's interval pairs the probe seeds (seed i of one model with seed i of the other: same probe initialisation
/// and batch order) and is the 95 % t interval of the per-seed differences of the group average. It covers probe
/// randomness only: each model was pre-trained once, so pre-training randomness is not in it.
/// </remarks>
internal static class StudyReport
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    // CultureMERT-95M vs MERT-v1-95M (HF model cards, paper.md §5): mean of ROC-AUC and AP ×100.
    const double PaperNonWesternGain = 4.9, PaperWesternChange = -0.05, PaperTaGain = 4.4, PaperTaVsCpt = -0.5;

    public static IReadOnlyList<string> Write(StudyPaths paths, CorpusSummary corpus, StudyCultures cultures, IReadOnlyList<EvalModel> models,
                                              IReadOnlyList<EvalTask> tasks, IReadOnlyList<EvalCell> results, StudyOptions o,
                                              IReadOnlyList<(string Phase, TimeSpan Time)> phases, TimeSpan wall)
    {
        var scores = new StudyScores(paths.Evaluation, models, tasks, results);
        var sb = new StringBuilder("# CultureMERT in miniature\n\n");
        Preamble(sb, o, wall);
        CorpusTable(sb, corpus, cultures.Western, o);
        PaperTable(sb, scores);
        var deltas = DeltaTable(sb, scores);
        LambdaSweep(sb, scores, paths.Root);
        TransferMap(sb, scores, cultures.Others, paths.Root);
        TokenSimilarity(sb, paths.Root);
        LossCurves(sb, paths.Runs);
        var findings = Reading(sb, scores);
        TimeTable(sb, phases, wall);
        sb.Append("\nFull probing report: [evaluation/report.md](evaluation/report.md). Recipes: `recipes/`. Corpus: `corpus/corpus.json`.\n");
        AtomicFile.WriteText(paths.Report, sb.ToString());
        WriteJson(Path.Combine(paths.Root, "report.json"), scores, phases, wall, deltas, findings);
        return findings;
    }

    /// <summary>What ran, where, and how far its results go.</summary>
    static void Preamble(StringBuilder sb, StudyOptions o, TimeSpan wall)
    {
        var minutes = wall.ToString(@"mm\:ss", Inv);
        var gpu = o.Device is { type: not TorchSharp.DeviceType.CPU } d ? $" and {d}" : "";
        sb.Append($"Wall time **{minutes}** (min:s) on {Environment.ProcessorCount} CPU cores{gpu}; model preset `{o.Preset}`, {o.Seeds} probe seeds, ")
          .Append("λ ∈ {" + LambdaList(o) + "}. Everything below was computed by this run; ")
          .Append("the corpus is rendered MIDI (real scores and procedural music), the teacher a k-means codebook, the model tiny: ")
          .Append("the study's *mechanics* are CultureMERT's, its *scale* is not (see the reading at the end).\n\n");
    }

    /// <summary>One row per culture, from the corpus's own <c>corpus.json</c>.</summary>
    static void CorpusTable(StringBuilder sb, CorpusSummary corpus, IReadOnlyList<string> western, StudyOptions o)
    {
        var stamp = JsonNode.Parse(File.ReadAllText(Path.Combine(corpus.Dir, "corpus.json")))!;
        sb.Append("## Corpus\n\n| culture | group | pieces (train / valid / test) | clips | minutes | tags | source |\n| --- | --- | --- | --- | --- | --- | --- |\n");
        foreach (var (name, node) in stamp["cultures"]!.AsObject())
        {
            var s = node!["splits"]!;
            var tags = node["label_counts_per_clip"]!.AsObject().Count;
            var source = name switch { "turkish-makam" => "SymbTr scores (CC BY-NC-SA 4.0)", "western-folk" => "Nottingham Music Database (GPL-3.0)", _ => "procedural (this project)" };
            sb.Append(FormattableString.Invariant($"| {name} | {(western.Contains(name) ? "Western" : "non-Western")} | {node["pieces"]} ({s["train"]!["pieces"]} / {s["valid"]!["pieces"]} / {s["test"]!["pieces"]}) | {node["clips"]} | {node["hours"]!.GetValue<double>() * 60:0.0} | {tags} | {source} |\n"));
        }
        sb.Append(FormattableString.Invariant($"\nClips of {o.SecondsPerClip} s at 24 kHz; splits by piece (no piece in two splits); pre-training reads the train split only.\n\n"));
    }

    /// <summary>Every model × task as "ROC-AUC / AP", the paper's three rows (base, multi-culture CPT, best merge) first.</summary>
    static void PaperTable(StringBuilder sb, StudyScores s)
    {
        var (models, tasks) = (s.Models, s.Tasks);
        var main = new[] { s.Base, s.Multi, s.BestTa }.Where(i => i >= 0).ToList();
        sb.Append("## Probing: the paper's table\n\nTest ROC-AUC / AP (macro, ×100, mean over probe seeds). Averages: mean of all ROC-AUC and AP numbers of the group (the paper's convention).\n\n");
        sb.Append("| model | ").Append(string.Join(" | ", tasks.Select(t => $"{t.Name}{(t.Western ? " (W)" : "")}"))).Append(" | non-Western avg | Western avg |\n");
        sb.Append("| --- |").Append(string.Concat(Enumerable.Repeat(" --- |", tasks.Count + 2))).Append('\n');
        foreach (var m in main.Concat(Enumerable.Range(0, models.Count).Except(main)))
            sb.Append($"| {Label(models[m].Name, m == s.BestTa)} | ")
              .Append(string.Join(" | ", Enumerable.Range(0, tasks.Count).Select(t => s.Cells[m, t] is { } c ? $"{F(100 * c.RocAuc)} / {F(100 * c.Ap)}" : "–")))
              .Append($" | {F(s.Avg(m, false))} | {F(s.Avg(m, true))} |\n");
    }

    /// <returns>report.json's <c>deltas_to_base</c>: model → {non_western, western}</returns>
    static JsonObject DeltaTable(StringBuilder sb, StudyScores s)
    {
        sb.Append("\n## Deltas to the base model\n\nΔ of the group average (points ×100) with a 95 % interval over probe seeds (paired by seed; probe randomness only).\n\n");
        sb.Append("| model | Δ non-Western avg | Δ Western avg |\n| --- | --- | --- |\n");
        var deltas = new JsonObject();
        for (var m = 0; m < s.Models.Count; m++)
        {
            if (m == s.Base) continue;
            var (dn, dw) = (s.DeltaOf(m, s.Base, false), s.DeltaOf(m, s.Base, true));
            sb.Append($"| {Label(s.Models[m].Name, m == s.BestTa)} | {Pm(dn)} | {Pm(dw)} |\n");
            deltas[s.Models[m].Name] = new JsonObject { ["non_western"] = J(dn), ["western"] = J(dw) };
        }
        return deltas;
    }

    /// <summary>The merges' group averages by λ, and <c>lambda-sweep.png</c> (bars with the seed intervals, the base first).</summary>
    static void LambdaSweep(StringBuilder sb, StudyScores s, string outDir)
    {
        var lambdaModels = s.LambdaModels;
        if (lambdaModels.Count == 0) return;
        sb.Append("\n## Task arithmetic: λ sweep\n\nθ = θ_base + λ Σ_c τ_c over the single-culture CPT models' task vectors τ_c.\n\n| λ | non-Western avg | Western avg |\n| --- | --- | --- |\n");
        foreach (var (name, i) in lambdaModels) sb.Append($"| {name[3..]} | {F(s.Avg(i, false))} | {F(s.Avg(i, true))} |\n");
        var groups = lambdaModels.Select(x => $"λ {x.Name[3..]}").Prepend("base").ToArray();
        var idx = lambdaModels.Select(x => x.i).Prepend(s.Base).ToArray();
        if (idx.Any(i => double.IsFinite(s.Avg(i, false)) || double.IsFinite(s.Avg(i, true))))
            BarPlot.SavePng(Path.Combine(outDir, "lambda-sweep.png"), "task arithmetic: group averages by λ", "mean ROC-AUC & AP (×100)", groups,
            [("non-Western", [.. idx.Select(i => s.Avg(i, false))], [.. idx.Select(i => Summary.Of(s.SeedAvg(i, false)).HalfWidth)]),
             ("Western", [.. idx.Select(i => s.Avg(i, true))], [.. idx.Select(i => Summary.Of(s.SeedAvg(i, true)).HalfWidth)])]);
        if (File.Exists(Path.Combine(outDir, "lambda-sweep.png"))) sb.Append("\n![λ sweep](lambda-sweep.png)\n");
    }

    /// <summary><c>transfer.png</c>: single-culture CPT (rows) × task (columns), ΔROC-AUC vs the base.</summary>
    static void TransferMap(StringBuilder sb, StudyScores s, IReadOnlyList<string> others, string outDir)
    {
        var singles = others.Select(c => s.Index($"cpt-{c}")).Where(i => i >= 0).ToList();
        if (singles.Count == 0 || s.Base < 0) return;
        var grid = new double[singles.Count, s.Tasks.Count];
        for (var r = 0; r < singles.Count; r++)
            for (var t = 0; t < s.Tasks.Count; t++)
                grid[r, t] = s.Cells[singles[r], t] is { } c && s.Cells[s.Base, t] is { } b ? 100 * (c.RocAuc - b.RocAuc) : double.NaN;
        if (grid.Cast<double>().Any(double.IsFinite))
            Heatmap.SavePng(Path.Combine(outDir, "transfer.png"), "ΔROC-AUC vs base (×100): CPT on one culture (rows) → task (columns)",
                        [.. singles.Select(i => s.Models[i].Name)], [.. s.Tasks.Select(t => t.Name)], grid, "+0.0;-0.0;0.0");
        sb.Append("\n## Culture × culture transfer\n\nEach row: the base model continually pre-trained on one culture; each column: a task. Cell: ΔROC-AUC vs the base (×100). ")
          .Append("The diagonal is a culture's gain on its own task; off-diagonal cells are transfer (or interference).\n\n")
          .Append(File.Exists(Path.Combine(outDir, "transfer.png")) ? "![transfer](transfer.png)\n" : "(no cell could be scored)\n");
    }

    /// <summary>The token statistics' JSD heat map, when they wrote one.</summary>
    static void TokenSimilarity(StringBuilder sb, string outDir)
    {
        if (!File.Exists(Path.Combine(outDir, "tokens", "jsd-heatmap.png"))) return;
        sb.Append("\n## Token similarity across cultures\n\nJensen–Shannon divergence (bits) between the cultures' token histograms under the study's teacher ")
          .Append("(`tokens/divergence.csv`): how differently the cultures use the pre-training vocabulary.\n\n![token JSD](tokens/jsd-heatmap.png)\n");
    }

    /// <summary>Each run's <c>loss.png</c>, in run-name order.</summary>
    static void LossCurves(StringBuilder sb, string runs)
    {
        sb.Append("\n## Pre-training\n\n");
        foreach (var run in Directory.GetDirectories(runs).Order(StringComparer.Ordinal))
            if (File.Exists(Path.Combine(run, "loss.png")))
                sb.Append($"![{Path.GetFileName(run)}](runs/{Path.GetFileName(run)}/loss.png)\n");
    }

    /// <summary>The paper's headline results next to ours, and what this miniature cannot show.</summary>
    /// <returns>the findings, one line each</returns>
    static List<string> Reading(StringBuilder sb, StudyScores s)
    {
        var (baseM, multi, bestTa) = (s.Base, s.Multi, s.BestTa);
        var findings = new List<string>();
        sb.Append("\n## Reading\n\n");
        if (multi >= 0 && baseM >= 0)
        {
            var (dn, dw) = (s.DeltaOf(multi, baseM, false), s.DeltaOf(multi, baseM, true));
            findings.Add(Finding("Multi-culture CPT improves the non-Western tasks", $"paper: +{PaperNonWesternGain:0.0}", dn, expectPositive: true));
            findings.Add(Finding("Western tasks are not forgotten (20 % replay in stage 1)", $"paper: {PaperWesternChange:+0.0;-0.0}", dw, expectPositive: null));
        }
        if (bestTa >= 0 && baseM >= 0)
            findings.Add(Finding($"Task arithmetic ({s.Models[bestTa].Name}) improves the non-Western tasks", $"paper: +{PaperTaGain:0.0} at λ = 0.2", s.DeltaOf(bestTa, baseM, false), expectPositive: true));
        if (bestTa >= 0 && multi >= 0)
            findings.Add(Finding($"Task arithmetic ({s.Models[bestTa].Name}) is on par with multi-culture CPT", $"paper: {PaperTaVsCpt:+0.0;-0.0} on the non-Western average", s.DeltaOf(bestTa, multi, false), expectPositive: null));
        foreach (var f in findings) sb.Append("- ").Append(f).Append('\n');
        if (multi >= 0 && baseM >= 0 && s.DeltaOf(multi, baseM, true) is { } w && double.IsFinite(w.HalfWidth) && w.Mean - w.HalfWidth > 0)
            sb.Append("\nThe Western gain after CPT says more about the base than about replay: a base pre-trained for minutes is far from ")
              .Append("converged, so further pre-training on any music still improves its features for every task.\n");
        sb.Append("\nWhat this does **not** show: the paper's numbers. The corpus is rendered MIDI of a few minutes per culture, the model ")
          .Append("has ~0.1 M parameters and minutes of pre-training, the teacher is k-means rather than EnCodec, and each model was ")
          .Append("pre-trained once (the intervals above cover probe seeds, not pre-training seeds). A Western-only base already hears ")
          .Append("other cultures' timbres here (same General MIDI instruments), so the room for adaptation is smaller than in real audio. ")
          .Append("`--full` scales data, model steps and teacher up.\n");
        return findings;
    }

    static void TimeTable(StringBuilder sb, IReadOnlyList<(string Phase, TimeSpan Time)> phases, TimeSpan wall)
    {
        sb.Append("\n## Time\n\n| phase | min:s |\n| --- | --- |\n");
        foreach (var (phase, time) in phases) sb.Append(FormattableString.Invariant($"| {phase} | {time:mm\\:ss} |\n"));
        sb.Append(FormattableString.Invariant($"| **total** | **{wall:mm\\:ss}** |\n"));
    }

    /// <summary><c>report.json</c>: the times, every model's group averages, the deltas to the base and the findings.</summary>
    static void WriteJson(string path, StudyScores s, IReadOnlyList<(string Phase, TimeSpan Time)> phases, TimeSpan wall, JsonObject deltas, List<string> findings)
    {
        var json = new JsonObject
        {
            ["wall_seconds"] = Math.Round(wall.TotalSeconds, 1),
            ["phases"] = new JsonObject(phases.Select(p => KeyValuePair.Create(p.Phase, (JsonNode?)JsonValue.Create(Math.Round(p.Time.TotalSeconds, 1))))),
            ["group_averages"] = new JsonObject(s.Models.Select((x, i) => KeyValuePair.Create(x.Name, (JsonNode?)new JsonObject { ["non_western"] = N(s.Avg(i, false)), ["western"] = N(s.Avg(i, true)) }))),
            ["deltas_to_base"] = deltas,
            ["findings"] = new JsonArray([.. findings.Select(f => (JsonNode?)JsonValue.Create(f))]),
        };
        AtomicFile.WriteText(path, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>One line of the reading: the effect, the paper's figure, ours with its interval, and whether it appeared.</summary>
    static string Finding(string claim, string paper, Summary d, bool? expectPositive)
    {
        if (!double.IsFinite(d.Mean)) return $"{claim} ({paper}): not measured (a probe cell is missing).";
        var ours = $"ours: {Pm(d)}";
        var lo = d.Mean - (double.IsFinite(d.HalfWidth) ? d.HalfWidth : 0);
        var hi = d.Mean + (double.IsFinite(d.HalfWidth) ? d.HalfWidth : 0);
        var verdict = expectPositive switch
        {
            true when lo > 0 => "**appeared** (interval above 0)",
            true when d.Mean > 0 => "**not established**: positive but the interval includes 0",
            true => "**did not appear**",
            _ when lo <= 0 && hi >= 0 => "**appeared** (no difference distinguishable from 0)",
            _ => d.Mean < 0 ? "**did not appear**: a measurable loss" : "**differs**: a measurable gain",
        };
        return $"{claim} — {paper}; {ours} → {verdict}.";
    }

    static string Label(string name, bool bestTa) => name switch
    {
        "base" => "base (Western-only pre-training)",
        "cpt-multi" => "CPT multi-culture (two-stage, 20 % replay)",
        _ when bestTa => $"{name} (best λ)",
        _ => name,
    };

    static string LambdaList(StudyOptions o) => string.Join(", ", o.Lambdas.Select(l => l.ToString(Inv)));

    static string F(double v) => double.IsFinite(v) ? v.ToString("0.0", Inv) : "–";
    static string Pm(Summary s) => !double.IsFinite(s.Mean) ? "–" :
        (s.Mean >= 0 ? "+" : "") + s.Mean.ToString("0.0", Inv) + (double.IsFinite(s.HalfWidth) ? " ± " + s.HalfWidth.ToString("0.0", Inv) : "");
    static JsonNode? N(double v) => double.IsFinite(v) ? JsonValue.Create(Math.Round(v, 3)) : null;
    static JsonObject J(Summary s) => new() { ["mean"] = N(s.Mean), ["ci95"] = N(s.HalfWidth), ["n"] = s.N };
}
