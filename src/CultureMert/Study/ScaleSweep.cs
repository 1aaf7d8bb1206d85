using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using CultureMert.Corpus;
using CultureMert.Evaluation;
using CultureMert.IO;
using CultureMert.Reports;

namespace CultureMert.Study;

/// <summary>One point of a scale sweep: the study with model preset <c>Options.Preset</c> at <paramref name="Factor"/>
/// times the baseline's pre-training steps.</summary>
/// <param name="Name">its folder under the sweep: <c>x3</c> for the baseline's preset, <c>small-x3</c> for another</param>
public sealed record ScalePoint(string Name, double Factor, StudyOptions Options)
{
    /// <summary>Audio the multi-culture CPT's lineage (base, then CPT) was trained on, in hours: steps × batch × crop.</summary>
    public double TrainingAudioHours =>
        (double)(Options.BaseSteps + Options.Stage1Steps + Options.Stage2Steps) * Options.BatchSize * Options.CropSeconds / 3600;
}

/// <summary>What a sweep wrote: its report and, per point, the study's result.</summary>
public sealed record ScaleSweepResult(string Report, IReadOnlyList<(ScalePoint Point, StudyResult Study)> Points);

/// <summary>
/// The paper's "next check: scale-up", in miniature: the whole study (sanity ladder, seeds, matched control) at several
/// model sizes and multiples of the baseline's pre-training steps, all on one corpus and one teacher, and <c>SCALE.md</c>
/// with a plot of the CPT gain over the matched-compute control on the non-Western average against training compute.
/// </summary>
/// <remarks>Steps and model size scale; the corpus and teacher stay the baseline's (the audio available is fixed, the
/// audio seen grows with the steps). Each point is a study folder of its own (<c>x3/REPORT.md</c>) and resumes like the demo.</remarks>
public static class ScaleSweep
{
    /// <summary>The points of <paramref name="spec"/>: comma-separated <c>[PRESET:]FACTOR</c> items, e.g.
    /// <c>1,3,10,small:3</c>; the baseline's points first, then each other preset's, factors ascending.</summary>
    public static IReadOnlyList<ScalePoint> Points(StudyOptions baseline, string spec)
    {
        var points = spec.Split(',').Select(item => Point(baseline, item.Trim(), spec)).ToList();
        if (points.Count < 2 || points.DistinctBy(p => p.Name).Count() != points.Count)
            throw new ArgumentException($"--scale {spec}: give at least two distinct points.");
        return [.. points.OrderBy(p => p.Options.Preset == baseline.Preset ? "" : p.Options.Preset, StringComparer.Ordinal).ThenBy(p => p.Factor)];
    }

    static ScalePoint Point(StudyOptions b, string item, string spec)
    {
        var (preset, factorText) = item.Split(':') is [var p, var f] ? (p.Trim(), f.Trim()) : (b.Preset, item);
        if (!double.TryParse(factorText, NumberStyles.Float, CultureInfo.InvariantCulture, out var factor) || !(factor > 0) || !double.IsFinite(factor))
            throw new ArgumentException($"--scale {spec}: '{item}' is not [PRESET:]FACTOR with a positive factor of the steps.");
        try { Model.MertConfig.Preset(preset); }
        catch (ArgumentException e) { throw new ArgumentException($"--scale {spec}: {e.Message}"); }
        var name = (preset == b.Preset ? "" : preset + "-") + "x" + factor.ToString("0.###", CultureInfo.InvariantCulture);
        return new ScalePoint(name, factor, b with
        {
            Preset = preset, BaseSteps = Scale(b.BaseSteps, factor), Stage1Steps = Scale(b.Stage1Steps, factor), Stage2Steps = Scale(b.Stage2Steps, factor),
        });
    }

    static int Scale(int steps, double f) => Math.Max(1, (int)Math.Round(steps * f));

    public static ScaleSweepResult Run(IReadOnlyList<MusicPiece> pieces, string outDir, StudyOptions baseline, string spec,
                                       Func<MusicPiece, double, float[]> render, Action<string> log, CancellationToken cancel = default)
    {
        var points = Points(baseline, spec);
        using var held = FolderLock.Acquire(outDir);
        var shared = Path.Combine(outDir, "shared");
        var results = new List<(ScalePoint, StudyResult)>();
        foreach (var p in points)
        {
            log($"=== scale point {p.Name}: model {p.Options.Preset}, {p.Options.BaseSteps} base steps, {p.Options.Stage1Steps} + {p.Options.Stage2Steps} CPT steps");
            results.Add((p, CultureStudy.Run(pieces, Path.Combine(outDir, p.Name), p.Options with { SharedRoot = shared }, render, log, cancel)));
            // Rewritten after every point, so a sweep stopped part-way (hours at the large factors) still reports what it has.
            var partial = Write(outDir, [.. results.Select(r => r.Item1)], baseline.EquivalenceMargin, points.Count);
            log($"wrote {partial} ({results.Count} of {points.Count} points)");
        }
        var report = Path.Combine(outDir, "SCALE.md");
        return new ScaleSweepResult(report, results);
    }

    /// <summary><c>SCALE.md</c>, <c>scale.csv</c> and <c>scale.png</c> from each point's report.json and run logs.</summary>
    static string Write(string outDir, IReadOnlyList<ScalePoint> points, double margin, int planned)
    {
        var inv = CultureInfo.InvariantCulture;
        var rows = new List<string[]>();
        var sb = new StringBuilder("# Scale sweep\n\n");
        sb.Append("The study at several model sizes and multiples of the baseline's pre-training steps (corpus and teacher fixed). Δ: paired by ")
          .Append(FormattableString.Invariant($"pre-training seed, mean ± 95 % t interval; verdicts as in each point's REPORT.md (margin ±{margin:0.###}). "))
          .Append("Pre-training time: the sum of every run's logged step times on this machine. Base CE − prior: the bases' final masked-prediction ")
          .Append("cross-entropy minus the entropy of the Western token distribution (nats; below 0: the objective learned more than token frequencies).\n\n")
          .Append("| point | model | training audio (h) | pre-training (min) | base CE − prior | base − random (W) | base − hand-crafted (W) | learned | cpt-multi − control (non-W) | verdict |\n")
          .Append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
        var plotted = new List<(double Minutes, string Label, double[] Gain, double[] Crafted)>();
        foreach (var p in points)
        {
            var dir = Path.Combine(outDir, p.Name);
            var json = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "report.json")))!;
            JsonNode? Cmp(string a, string b, string group) =>
                json["comparisons"]!.AsArray().FirstOrDefault(c => (string?)c!["a"] == a && (string?)c["b"] == b && (string?)c["group"] == group);
            double D(JsonNode? c, string k) => c?["diff"]?[k] is { } v ? v.GetValue<double>() : double.NaN;
            string Show(JsonNode? c) => double.IsFinite(D(c, "mean")) ? FormattableString.Invariant($"{D(c, "mean"):+0.0;-0.0} ± {D(c, "ci95"):0.0}") : "–";
            var (random, crafted, gain) = (Cmp("base", "random", "Western"), Cmp("base", "handcrafted", "Western"), Cmp("cpt-multi", "control", "non-Western"));
            var minutes = PretrainMinutes(Path.Combine(dir, "runs"));
            var priorGap = json["objective"] is { } o ? o["bases"]!.AsArray().Average(b => b!["cross_entropy"]!.GetValue<double>()) - o["prior_entropy_nats"]!.GetValue<double>() : double.NaN;
            var learned = (bool?)json["learned"] == true;
            sb.Append(FormattableString.Invariant($"| [{p.Name}]({p.Name}/REPORT.md) | {p.Options.Preset} | {p.TrainingAudioHours:0.00} | {minutes:0.0} | {priorGap:+0.000;-0.000} | "))
              .Append($"{Show(random)} | {Show(crafted)} | {(learned ? "yes" : "no")} | {Show(gain)} | {(string?)gain?["verdict"] ?? "–"} |\n");
            plotted.Add((minutes, FormattableString.Invariant($"{p.Name} ({minutes:0} min)"), [D(gain, "mean"), D(gain, "ci95")], [D(crafted, "mean"), D(crafted, "ci95")]));
            rows.Add([p.Name, p.Options.Preset, p.Factor.ToString("R", inv), p.TrainingAudioHours.ToString("R", inv), minutes.ToString("R", inv), priorGap.ToString("R", inv),
                      learned.ToString().ToLowerInvariant(), D(random, "mean").ToString("R", inv), D(random, "ci95").ToString("R", inv), D(crafted, "mean").ToString("R", inv),
                      D(crafted, "ci95").ToString("R", inv), D(gain, "mean").ToString("R", inv), D(gain, "ci95").ToString("R", inv), (string?)gain?["verdict"] ?? ""]);
        }
        Csv.Write(Path.Combine(outDir, "scale.csv"), ["point", "preset", "factor", "training_audio_hours", "pretrain_minutes", "base_ce_minus_prior_nats", "learned",
                                                      "base_minus_random_western", "base_minus_random_ci95", "base_minus_handcrafted_western", "base_minus_handcrafted_ci95",
                                                      "cpt_minus_control_non_western", "cpt_minus_control_ci95", "verdict"], rows);
        if (plotted.Any(g => double.IsFinite(g.Gain[0]) || double.IsFinite(g.Crafted[0])))
        {
            var order = plotted.OrderBy(g => g.Minutes).ToList();
            LayerPlot.SavePng(Path.Combine(outDir, "scale.png"), "Scale sweep: what pre-training learned, and what CPT adds", "Δ mean ROC-AUC & AP (×100)",
                              [.. order.Select(g => g.Label)],
                              [("base − hand-crafted (Western): > 0 means pre-training learned", [.. order.Select(g => g.Crafted[0])], [.. order.Select(g => g.Crafted[1])]),
                               ("cpt-multi − control (non-Western): the CPT gain", [.. order.Select(g => g.Gain[0])], [.. order.Select(g => g.Gain[1])])],
                              xLabel: "point (pre-training time on this machine, all seeds and runs)");
            sb.Append("\n![scale](scale.png)\n");
        }
        sb.Append("\nA gain is read only at points where pre-training learned (the base beats random-init and hand-crafted features on the Western ")
          .Append("tasks). Per-point numbers: `scale.csv`; each point's full report, per-seed CSVs and plots are in its folder.\n");
        if (points.Count < planned)
            sb.Append(FormattableString.Invariant($"\n**{points.Count} of {planned} points finished**; run the same command again to resume the others.\n"));
        var path = Path.Combine(outDir, "SCALE.md");
        AtomicFile.WriteText(path, sb.ToString());
        HtmlReport.Write(path);
        return path;
    }

    /// <summary>Minutes of pre-training behind a point: every run's logged step times (<c>ms_per_step</c>), each step
    /// counted once however often a resumed run logged it.</summary>
    static double PretrainMinutes(string runs)
    {
        var ms = 0.0;
        foreach (var log in Directory.Exists(runs) ? Directory.GetFiles(runs, "log.csv", SearchOption.AllDirectories) : [])
        {
            var (t, steps) = Pretraining.TrainingLog.Read(log);
            var time = t.Column("ms_per_step");
            if (time >= 0) ms += steps.Sum(r => r.Double(time) ?? 0);
        }
        return ms / 60_000;
    }
}
