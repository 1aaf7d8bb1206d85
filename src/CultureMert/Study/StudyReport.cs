using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CultureMert.Corpus;
using CultureMert.Evaluation;
using CultureMert.Reports;
using CultureMert.Teachers;
using CultureMert.IO;
using CultureMert.Merging;

namespace CultureMert.Study;

/// <summary>
/// <c>REPORT.md</c> (+ <c>report.json</c>, <c>scores.csv</c>, <c>comparisons.csv</c>) of a <see cref="CultureStudy"/>:
/// corpus, the sanity ladder, paired comparisons over pre-training seeds with equivalence tests, per-task deltas, the λ
/// sweep (λ chosen on validation), the culture × culture transfer map, token similarity, loss curves, and a reading
/// that follows from those numbers only.
/// </summary>
/// <remarks>
/// The unit of replication is the pre-training run: each model is pre-trained once per pre-training seed, and its number
/// for that seed is the mean over the probe seeds nested inside. Intervals are 95 % t intervals over pre-training seeds
/// of the paired per-seed differences; equivalence is TOST against the margin fixed in <c>plan.json</c> before the run.
/// </remarks>
internal static partial class StudyReport
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    // CultureMERT-95M vs MERT-v1-95M (HF model cards, paper.md §5): mean of ROC-AUC and AP ×100.
    const double PaperNonWesternGain = 4.9, PaperWesternChange = -0.05, PaperTaGain = 4.4, PaperTaVsCpt = -0.5;

    /// <summary>The ladder's rungs in order, with their labels.</summary>
    static readonly (string Role, string Label)[] Ladder =
    [
        ("random", "(a) random-init model of the same shape"),
        ("handcrafted", "(b) hand-crafted: MFCC + chroma statistics (nothing pre-trained; one value)"),
        ("base", "(c) base: pre-trained on Western music only"),
        ("control", "(d) matched-compute control: base + as many Western steps as CPT"),
        ("cpt-multi", "(e) multi-culture CPT (two stages, 20 % replay)"),
    ];

    public static IReadOnlyList<string> Write(StudyPaths paths, CorpusSummary corpus, StudyCultures cultures, IReadOnlyList<StudyModel> models,
                                              IReadOnlyList<EvalTask> tasks, IReadOnlyList<EvalCell> results, RepeatedMerges repeated, TokenStatistics tokens, StudyOptions o,
                                              IReadOnlyList<(string Phase, TimeSpan Time)> phases, TimeSpan wall)
    {
        var scores = new StudyScores(paths.Evaluation, models, tasks, results, o.PretrainSeeds, o.EquivalenceMargin);
        var sb = new StringBuilder("# CultureMERT in miniature\n\n");
        Preamble(sb, o, wall);
        CorpusTable(sb, corpus, cultures.Western, o);
        var ladder = LadderTable(sb, scores, paths.Root);
        var comparisons = ComparisonTable(sb, scores, paths.ComparisonsCsv);
        TaskDeltas(sb, scores);
        ClassesAndRetrieval(sb, scores);
        MergeSweep(sb, scores, paths.Root);
        RepeatedMergeSection(sb, scores, repeated, paths.Root);
        TransferMap(sb, scores, cultures.Others, paths.Root);
        TokenSimilarity(sb, scores, cultures.Others, tokens, paths);
        var objective = ObjectiveVsPrior.Measure(paths, cultures, o.PretrainSeeds);
        LossCurves(sb, paths.Runs, objective);
        var (learned, findings) = Reading(sb, scores);
        TimeTable(sb, phases, wall);
        sb.Append("\nEvery interval above is recomputable from [`scores.csv`](scores.csv) (one row per model × task × probe seed) and ")
          .Append("[`comparisons.csv`](comparisons.csv) (one row per comparison × pre-training seed). Full probing report: ")
          .Append("[evaluation/report.md](evaluation/report.md). Recipes: `recipes/`. Plan fixed before the run: [`plan.json`](plan.json). Corpus: `corpus/corpus.json`.\n");
        WriteScoresCsv(paths.ScoresCsv, scores);
        AtomicFile.WriteText(paths.Report, sb.ToString());
        HtmlReport.Write(paths.Report);
        WriteJson(Path.Combine(paths.Root, "report.json"), scores, phases, wall, ladder, comparisons, objective, learned, findings);
        return findings;
    }

    /// <summary>What ran, where, and how far its results go.</summary>
    static void Preamble(StringBuilder sb, StudyOptions o, TimeSpan wall)
    {
        var minutes = wall.ToString(@"mm\:ss", Inv);
        var gpu = o.Device is { type: not TorchSharp.DeviceType.CPU } d ? $" and {d}" : "";
        sb.Append($"Wall time **{minutes}** (min:s) on {Environment.ProcessorCount} CPU cores{gpu}; model preset `{o.Preset}`; ")
          .Append($"**{o.PretrainSeeds} pre-training seeds** per model (the unit of replication), {o.Seeds} probe seeds nested in each; ")
          .Append("λ ∈ {" + LambdaList(o) + "}, chosen on the validation split; k-means teacher fitted on ")
          .Append(o.TeacherData == TeacherData.Western ? "the Western training audio only" : "every culture's training audio")
          .Append(FormattableString.Invariant($"; equivalence margin ±{o.EquivalenceMargin:0.###} points (fixed in `plan.json` before the run). "))
          .Append("Everything below was computed by this run; the corpus is rendered MIDI (real scores and procedural music), the teacher a ")
          .Append("k-means codebook, the model tiny: the study's *mechanics* are CultureMERT's, its *scale* is not.\n\n");
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

    /// <summary>The sanity ladder: each rung's group averages over pre-training seeds, and <c>ladder.png</c>.</summary>
    /// <returns>report.json's <c>ladder</c>: role → {western, non_western}</returns>
    static JsonObject LadderTable(StringBuilder sb, StudyScores s, string outDir)
    {
        var rungs = Ladder.Where(r => s.Has(r.Role)).ToList();
        if (s.BestTa is { } ta) rungs.Add((ta, $"(f) {s.MergeOf(ta)!.Label} (chosen on validation)"));
        if (s.BestMerge is { } best && best != s.BestTa) rungs.Add((best, $"(g) {s.MergeOf(best)!.Label} (best merge of any method, chosen on validation)"));
        sb.Append("## Sanity ladder\n\nTest mean of ROC-AUC and AP (×100) per group, mean ± 95 % t interval over pre-training seeds ")
          .Append("(the hand-crafted rung has no pre-training, so one value). Pre-training *learned* when the base beats both (a) and (b) on the Western tasks.\n\n")
          .Append("| rung | Western avg | non-Western avg | pre-training seeds |\n| --- | --- | --- | --- |\n");
        var json = new JsonObject();
        foreach (var (role, label) in rungs)
        {
            var (w, nw) = (Rung(s, role, true), Rung(s, role, false));
            sb.Append($"| {label} | {Ci(w)} | {Ci(nw)} | {(s.SeedIndependent(role) ? "–" : Math.Max(w.N, nw.N))} |\n");
            json[role] = new JsonObject { ["western"] = J(w), ["non_western"] = J(nw) };
        }
        if (rungs.Any(r => double.IsFinite(Summary.Of(s.Group(r.Role, true)).Mean)))
        {
            BarPlot.SavePng(Path.Combine(outDir, "ladder.png"), "sanity ladder: group averages over pre-training seeds", "mean ROC-AUC & AP (×100)",
                [.. rungs.Select(r => r.Label[..3])],
                [.. new[] { true, false }.Select(w => (w ? "Western" : "non-Western",
                    rungs.Select(r => Rung(s, r.Role, w).Mean).ToArray(), rungs.Select(r => Rung(s, r.Role, w).HalfWidth).ToArray()))]);
            sb.Append("\n![sanity ladder](ladder.png)\n");
        }
        return json;
    }

    /// <summary>A rung's summary over pre-training seeds; a seed-independent rung is one value (no interval).</summary>
    static Summary Rung(StudyScores s, string role, bool western) =>
        Summary.Of(s.SeedIndependent(role) ? s.Group(role, western).Take(1) : s.Group(role, western));

    /// <summary>The comparisons the reading rests on, each paired by pre-training seed.</summary>
    static IEnumerable<(string A, string B, bool Western)> Comparisons(StudyScores s)
    {
        var pairs = new List<(string, string, bool)> { ("base", "random", true), ("base", "random", false), ("base", "handcrafted", true), ("base", "handcrafted", false),
                                                       ("cpt-multi", "control", false), ("cpt-multi", "control", true),
                                                       ("cpt-multi", "base", false), ("cpt-multi", "base", true), ("control", "base", false), ("control", "base", true) };
        foreach (var merge in new[] { s.BestTa, s.BestMerge }.OfType<string>().Distinct())
            pairs.AddRange([(merge, "base", false), (merge, "base", true), (merge, "cpt-multi", false)]);
        return pairs.Where(p => s.Has(p.Item1) && s.Has(p.Item2));
    }

    /// <summary>Every comparison with its interval, equivalence test and verdict; its per-seed rows in <c>comparisons.csv</c>.</summary>
    /// <returns>report.json's <c>comparisons</c></returns>
    static JsonArray ComparisonTable(StringBuilder sb, StudyScores s, string csvPath)
    {
        sb.Append("\n## Paired comparisons\n\nΔ of a group average (points ×100), paired by pre-training seed: mean ± 95 % t interval; ")
          .Append(FormattableString.Invariant($"the 90 % interval and the TOST p value test equivalence within ±{s.Margin:0.###}. "))
          .Append("Verdict: *higher*/*lower* when the 95 % interval excludes 0, *equivalent* when the 90 % interval lies inside the margin, ")
          .Append("otherwise *inconclusive* (an interval that merely contains 0 shows nothing).\n\n")
          .Append("| comparison | group | Δ (95 % CI) | 90 % CI | TOST p | verdict |\n| --- | --- | --- | --- | --- | --- |\n");
        var json = new JsonArray();
        var rows = new List<string[]>();
        foreach (var (a, b, western) in Comparisons(s))
        {
            var e = s.Compare(a, b, western);
            var group = western ? "Western" : "non-Western";
            sb.Append($"| {a} − {b} | {group} | {Pm(e.Diff)} | {Interval(e)} | {P(e.TostP)} | {Verdict(e.Verdict)} |\n");
            json.Add(new JsonObject { ["a"] = a, ["b"] = b, ["group"] = group, ["diff"] = J(e.Diff), ["ci90"] = new JsonArray(N(e.Low90), N(e.High90)),
                                      ["tost_p"] = N(e.TostP), ["verdict"] = e.Verdict.ToString().ToLowerInvariant() });
            var (x, y) = (s.Group(a, western), s.Group(b, western));
            rows.AddRange(Enumerable.Range(0, x.Length).Select(k => new[] { $"{a} - {b}", group, k.ToString(Inv), R(x[k]), R(y[k]), R(x[k] - y[k]) }));
        }
        Csv.Write(csvPath, ["comparison", "group", "pretrain_seed", "a", "b", "difference"], rows);
        return json;
    }

    /// <summary>Every task's ΔROC-AUC for the comparisons that carry the paper's claims; regressions named.</summary>
    static void TaskDeltas(StringBuilder sb, StudyScores s)
    {
        var pairs = new[] { ("cpt-multi", "control"), ("cpt-multi", "base") }.Where(p => s.Has(p.Item1) && s.Has(p.Item2)).ToList();
        if (pairs.Count == 0) return;
        sb.Append("\n## Per-task deltas\n\nTest ROC-AUC Δ (×100) per task, mean ± 95 % t interval over pre-training seeds.\n\n| task | ")
          .Append(string.Join(" | ", pairs.Select(p => $"{p.Item1} − {p.Item2}"))).Append(" |\n| --- |").Append(string.Concat(pairs.Select(_ => " --- |"))).Append('\n');
        var regressions = new List<string>();
        foreach (var t in Enumerable.Range(0, s.Tasks.Count).Where(t => s.Tasks[t].Tagging))
        {
            var cells = pairs.Select(p => s.CompareTask(p.Item1, p.Item2, t)).ToList();
            sb.Append($"| {s.Tasks[t].Name}{(s.Tasks[t].Western ? " (W)" : "")} | ").Append(string.Join(" | ", cells.Select(e => $"{Pm(e.Diff)} {Verdict(e.Verdict)}"))).Append(" |\n");
            regressions.AddRange(pairs.Zip(cells).Where(x => x.Second.Verdict == Comparison.Lower).Select(x => $"{s.Tasks[t].Name} ({x.First.Item1} − {x.First.Item2}: {Pm(x.Second.Diff)})"));
        }
        sb.Append(regressions.Count == 0 ? "\nNo task's interval lies below 0.\n" : $"\nRegressions (interval below 0): {string.Join("; ", regressions)}.\n");
    }

    /// <summary><c>transfer.png</c>: single-culture CPT (rows) × task (columns), ΔROC-AUC vs the base, mean over pre-training seeds.</summary>
    static void TransferMap(StringBuilder sb, StudyScores s, IReadOnlyList<string> others, string outDir)
    {
        var singles = others.Select(c => $"cpt-{c}").Where(s.Has).ToList();
        if (singles.Count == 0 || !s.Has("base")) return;
        var seeds = s.Models.Count(m => m.Role == singles[0]);
        var tagging = Enumerable.Range(0, s.Tasks.Count).Where(t => s.Tasks[t].Tagging).ToList();
        var grid = new double[singles.Count, tagging.Count];
        for (var r = 0; r < singles.Count; r++)
            for (var t = 0; t < tagging.Count; t++)
                grid[r, t] = s.CompareTask(singles[r], "base", tagging[t]).Diff.Mean;
        if (grid.Cast<double>().Any(double.IsFinite))
            Heatmap.SavePng(Path.Combine(outDir, "transfer.png"), seeds == 1 ? "ΔROC-AUC vs base (×100), pre-training seed 0: CPT on one culture (rows) → task (columns)" : "ΔROC-AUC vs base (×100), mean over pre-training seeds: CPT on one culture (rows) → task (columns)",
                            [.. singles], [.. tagging.Select(t => s.Tasks[t].Name)], grid, "+0.0;-0.0;0.0");
        sb.Append("\n## Culture × culture transfer\n\nEach row: the base continually pre-trained on one culture; each column: a task. Cell: ΔROC-AUC vs the ")
          .Append(seeds == 1 ? "base (×100) of pre-training seed 0 only: descriptive, one run per cell, no interval and no verdict (`--full` probes every seed). "
                             : FormattableString.Invariant($"base (×100), mean over {seeds} pre-training seeds (per-seed values: `scores.csv`). "))
          .Append("The diagonal is a culture's gain on its own task.\n\n")
          .Append(File.Exists(Path.Combine(outDir, "transfer.png")) ? "![transfer](transfer.png)\n" : "(no cell could be scored)\n");
    }

    /// <summary>The bases' objective against the token prior, and the loss curves of pre-training seed 0's runs (the
    /// other seeds' are beside them in <c>runs/</c>).</summary>
    static void LossCurves(StringBuilder sb, string runs, ObjectiveVsPrior? objective)
    {
        sb.Append("\n## Pre-training\n\n");
        if (objective is { } o)
        {
            sb.Append("Did the objective learn more than token frequencies? The base's masked-prediction cross-entropy over the last tenth of its steps ")
              .Append(FormattableString.Invariant($"against the entropy of the Western clips' token distribution, **{o.PriorNats:0.000} nats**: the loss of a predictor that ignores the audio. "))
              .Append(FormattableString.Invariant($"Always predicting the most frequent token is right {o.MostFrequentShare:P1} of the time.\n\n"))
              .Append("| base | cross-entropy (nats) | − prior | masked accuracy |\n| --- | --- | --- | --- |\n");
            foreach (var b in o.Bases)
                sb.Append(FormattableString.Invariant($"| base-s{b.Seed} | {b.CrossEntropy:0.000} | {b.CrossEntropy - o.PriorNats:+0.000;-0.000} | {b.Accuracy:P1} |\n"));
            sb.Append(FormattableString.Invariant($"\n{o.BelowPrior} of {o.Bases.Count} bases ended below the prior's entropy (mean gap {o.MeanGapNats:+0.000;-0.000} nats). "))
              .Append("A base at or above it predicts masked frames no better than token counts do, so its features hold little the probes could use.\n\n");
        }
        sb.Append("Loss curves of pre-training seed 0; every seed's run folder (log.csv, loss.png) is under `runs/`.\n\n");
        foreach (var run in Directory.GetDirectories(runs, "*-s0").Order(StringComparer.Ordinal))
            if (File.Exists(Path.Combine(run, "loss.png")))
                sb.Append($"![{Path.GetFileName(run)}](runs/{Path.GetFileName(run)}/loss.png)\n");
    }

    /// <summary>What follows from the comparisons, next to the paper's headline results. Nothing is read when the base
    /// does not beat the random-init model on the Western tasks: then pre-training did not learn at this scale.</summary>
    /// <returns>whether pre-training learned, and the findings, one line each</returns>
    static (bool Learned, List<string> Findings) Reading(StringBuilder sb, StudyScores s)
    {
        sb.Append("\n## Reading\n\n");
        var rungs = new[] { "random", "handcrafted" }.Where(s.Has).ToList();
        var learnedTests = rungs.Select(r => (Rung: r, Test: s.Compare("base", r, western: true))).ToList();
        var learned = learnedTests.Count > 0 && learnedTests.All(x => x.Test.Verdict == Comparison.Higher);
        var findings = new List<string> { "Pre-training learned at this scale (the base beats " + string.Join(" and ", learnedTests.Select(x => $"{x.Rung}: {Ours(x.Test)}")) +
                                          ", Western average) → " + (learned ? "**yes**" : "**not shown**: the paper's effects are not testable at this scale") + "." };
        var claims = new List<(string Claim, string Paper, string A, string B, bool Western, Comparison Wanted)>
        {
            ("Multi-culture CPT improves the non-Western tasks beyond matched compute (cpt-multi − control)", $"paper: +{PaperNonWesternGain:0.0} vs MERT-v1", "cpt-multi", "control", false, Comparison.Higher),
            ("Western tasks are not forgotten (cpt-multi − base, 20 % replay in stage 1)", $"paper: {PaperWesternChange:+0.00;-0.00}", "cpt-multi", "base", true, Comparison.Equivalent),
        };
        if (s.BestTa is { } ta)
        {
            claims.Add(($"Task arithmetic (λ = {s.MergeOf(ta)!.Lambda.ToString(Inv)}, chosen on validation) improves the non-Western tasks ({ta} − base)", $"paper: +{PaperTaGain:0.0} at λ = 0.2", ta, "base", false, Comparison.Higher));
            claims.Add(($"Task arithmetic is on par with multi-culture CPT ({ta} − cpt-multi)", $"paper: {PaperTaVsCpt:+0.0;-0.0}", ta, "cpt-multi", false, Comparison.Equivalent));
        }
        foreach (var c in claims.Where(c => s.Has(c.A) && s.Has(c.B)))
        {
            var e = s.Compare(c.A, c.B, c.Western);
            var verdict = !learned ? "**not testable** (pre-training did not learn at this scale)"
                : e.Verdict == c.Wanted ? "**appeared**"
                : e.Verdict == Comparison.Inconclusive ? "**inconclusive**"
                : e.Verdict == Comparison.NotMeasured ? "**not measured**"
                : $"**did not appear** ({Verdict(e.Verdict)})";
            findings.Add($"{c.Claim} — {c.Paper}; ours: {Ours(e)} → {verdict}.");
        }
        foreach (var f in findings) sb.Append("- ").Append(f).Append('\n');
        sb.Append(FormattableString.Invariant($"\nA claim of no difference (\"not forgotten\", \"on par\") needs the 90 % interval inside ±{s.Margin:0.###}; "))
          .Append("a gain needs the 95 % interval above 0; intervals are over pre-training seeds. ")
          .Append(learned ? "" : "Because the base does not beat both random-init and hand-crafted features on the Western tasks, differences between the models ")
          .Append(learned ? "" : "above measure noise in features that carry no learned information, and are not read. ")
          .Append("What this does **not** show: the paper's numbers. The corpus is rendered MIDI of a few minutes per culture, the model is tiny ")
          .Append("and pre-trained for minutes, the teacher is k-means rather than EnCodec; rendered cultures share the same General MIDI ")
          .Append("instruments, so a Western-only base already hears their timbres.\n");
        return (learned, findings);
    }

    static void TimeTable(StringBuilder sb, IReadOnlyList<(string Phase, TimeSpan Time)> phases, TimeSpan wall)
    {
        sb.Append("\n## Time\n\n| phase | min:s |\n| --- | --- |\n");
        foreach (var (phase, time) in phases) sb.Append(FormattableString.Invariant($"| {phase} | {time:mm\\:ss} |\n"));
        sb.Append(FormattableString.Invariant($"| **total** | **{wall:mm\\:ss}** |\n"));
    }

    /// <summary><c>scores.csv</c>: one row per model × task × probe seed, the numbers every interval is computed from.</summary>
    static void WriteScoresCsv(string path, StudyScores s)
    {
        var rows = new List<string[]>();
        for (var m = 0; m < s.Models.Count; m++)
            for (var t = 0; t < s.Tasks.Count; t++)
                if (s.Cells[m, t] is { } c)
                    for (var p = 0; p < c.SeedRocAuc.Length; p++)
                        rows.Add([s.Models[m].Name, s.Models[m].Role, s.Models[m].Seed.ToString(Inv), s.Tasks[t].Name, s.Tasks[t].Western ? "western" : "non-western",
                                  TaskKind(s.Tasks[t]), p.ToString(Inv), c.Layer, R(c.LearningRate), R(p < c.SeedValid.Length ? c.SeedValid[p] : double.NaN),
                                  R(c.SeedRocAuc[p]), R(c.SeedAp[p]), R(At(c.SeedAccuracy, p)), R(At(c.SeedF1Macro, p)),
                                  R(c.Retrieval?.MapAt10 ?? double.NaN), R(c.Retrieval?.Mrr ?? double.NaN), R(c.Retrieval?.RecallAt10 ?? double.NaN)]);
        Csv.Write(path, ["model", "role", "pretrain_seed", "task", "group", "task_type", "probe_seed", "layer", "lr", "valid_score", "test_roc_auc", "test_ap",
                         "test_accuracy", "test_f1_macro", "test_map_at_10", "test_mrr", "test_recall_at_10"], rows);
    }

    static double At(double[] xs, int i) => i < xs.Length ? xs[i] : double.NaN;

    /// <summary>scores.csv's task_type: the declared type, "tagging" for an undeclared manifest.</summary>
    static string TaskKind(EvalTask t) => t.Type is { } type ? Corpus.Datasets.TaskManifest.Name(type) : "tagging";

    /// <summary><c>report.json</c>: the plan, the times, the ladder, every comparison and the findings.</summary>
    static void WriteJson(string path, StudyScores s, IReadOnlyList<(string Phase, TimeSpan Time)> phases, TimeSpan wall, JsonObject ladder,
                          JsonArray comparisons, ObjectiveVsPrior? objective, bool learned, List<string> findings)
    {
        var json = new JsonObject
        {
            ["wall_seconds"] = Math.Round(wall.TotalSeconds, 1),
            ["phases"] = new JsonObject(phases.Select(p => KeyValuePair.Create(p.Phase, (JsonNode?)JsonValue.Create(Math.Round(p.Time.TotalSeconds, 1))))),
            ["pretrain_seeds"] = s.PretrainSeeds,
            ["equivalence_margin"] = s.Margin,
            ["chosen_lambda"] = s.BestTa is { } ta ? s.MergeOf(ta)!.Lambda : null,
            ["chosen_merge"] = s.BestMerge is { } best ? new JsonObject { ["method"] = s.MergeOf(best)!.Method.Name(), ["lambda"] = s.MergeOf(best)!.Lambda } : null,
            ["learned"] = learned,
            ["objective"] = objective is not { } o ? null : new JsonObject
            {
                ["prior_entropy_nats"] = N(o.PriorNats),
                ["most_frequent_share"] = N(o.MostFrequentShare),
                ["bases"] = new JsonArray([.. o.Bases.Select(b => (JsonNode?)new JsonObject { ["seed"] = b.Seed, ["cross_entropy"] = N(b.CrossEntropy), ["accuracy"] = N(b.Accuracy) })]),
            },
            ["ladder"] = ladder,
            ["comparisons"] = comparisons,
            ["findings"] = new JsonArray([.. findings.Select(f => (JsonNode?)JsonValue.Create(f))]),
        };
        AtomicFile.WriteText(path, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    static string Ours(Equivalence e) =>
        $"{Pm(e.Diff)} (90 % CI {Interval(e)}, TOST p {P(e.TostP)}, {e.Diff.N} pre-training seeds)";

    static string Verdict(Comparison c) => c switch
    {
        Comparison.NotMeasured => "not measured",
        Comparison.Equivalent => "equivalent",
        Comparison.Higher => "higher",
        Comparison.Lower => "lower",
        _ => "inconclusive",
    };

    static string LambdaList(StudyOptions o) => string.Join(", ", o.Lambdas.Select(l => l.ToString(Inv)));

    static string Ci(Summary s) => !double.IsFinite(s.Mean) ? "–" : s.Mean.ToString("0.0", Inv) + (double.IsFinite(s.HalfWidth) ? " ± " + s.HalfWidth.ToString("0.0", Inv) : "");
    static string Pm(Summary s) => !double.IsFinite(s.Mean) ? "–" :
        (s.Mean >= 0 ? "+" : "") + s.Mean.ToString("0.0", Inv) + (double.IsFinite(s.HalfWidth) ? " ± " + s.HalfWidth.ToString("0.0", Inv) : "");
    static string Interval(Equivalence e) => double.IsFinite(e.Low90) ? $"[{e.Low90.ToString("0.0", Inv)}, {e.High90.ToString("0.0", Inv)}]" : "–";
    static string P(double p) => !double.IsFinite(p) ? "–" : p < 0.001 ? "< 0.001" : p.ToString("0.000", Inv);
    static string R(double v) => double.IsFinite(v) ? v.ToString("R", Inv) : "";
    static JsonNode? N(double v) => double.IsFinite(v) ? JsonValue.Create(Math.Round(v, 3)) : null;
    static JsonObject J(Summary s) => new() { ["mean"] = N(s.Mean), ["ci95"] = N(s.HalfWidth), ["n"] = s.N };
}
