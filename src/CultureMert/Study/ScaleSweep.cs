using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using CultureMert.Corpus;
using CultureMert.Evaluation;
using CultureMert.IO;
using CultureMert.Reports;

namespace CultureMert.Study;

/// <summary>One point of a scale sweep: the study at <paramref name="Factor"/> times the baseline's pre-training steps.</summary>
public sealed record ScalePoint(double Factor, StudyOptions Options)
{
    public string Name => "x" + Factor.ToString("0.###", CultureInfo.InvariantCulture);

    /// <summary>Audio the multi-culture CPT's lineage (base, then CPT) was trained on, in hours: steps × batch × crop.</summary>
    public double TrainingAudioHours =>
        (double)(Options.BaseSteps + Options.Stage1Steps + Options.Stage2Steps) * Options.BatchSize * Options.CropSeconds / 3600;
}

/// <summary>What a sweep wrote: its report and, per point, the study's result.</summary>
public sealed record ScaleSweepResult(string Report, IReadOnlyList<(ScalePoint Point, StudyResult Study)> Points);

/// <summary>
/// The paper's "next check: scale-up", in miniature: the whole study (sanity ladder, seeds, matched control) at several
/// multiples of the baseline's pre-training steps, all on one corpus and one teacher, and <c>SCALE.md</c> with a plot of
/// the CPT gain over the matched-compute control on the non-Western average against training compute.
/// </summary>
/// <remarks>Only the steps scale: corpus, model size and teacher stay the baseline's, so compute is proportional to the
/// audio seen. Each point is a study folder of its own (<c>x3/REPORT.md</c>) and resumes like the demo.</remarks>
public static class ScaleSweep
{
    public static IReadOnlyList<ScalePoint> Points(StudyOptions baseline, IReadOnlyList<double> factors)
    {
        if (factors.Count < 2 || factors.Any(f => !(f > 0) || !double.IsFinite(f)) || factors.Distinct().Count() != factors.Count)
            throw new ArgumentException($"--scale {string.Join(",", factors)}: give at least two distinct positive factors.");
        return [.. factors.Order().Select(f => new ScalePoint(f, baseline with
        {
            BaseSteps = Scale(baseline.BaseSteps, f), Stage1Steps = Scale(baseline.Stage1Steps, f), Stage2Steps = Scale(baseline.Stage2Steps, f),
        }))];
    }

    static int Scale(int steps, double f) => Math.Max(1, (int)Math.Round(steps * f));

    public static ScaleSweepResult Run(IReadOnlyList<MusicPiece> pieces, string outDir, StudyOptions baseline, IReadOnlyList<double> factors,
                                       Func<MusicPiece, double, float[]> render, Action<string> log, CancellationToken cancel = default)
    {
        var points = Points(baseline, factors);
        Directory.CreateDirectory(outDir);
        var shared = Path.Combine(outDir, "shared");
        var results = new List<(ScalePoint, StudyResult)>();
        foreach (var p in points)
        {
            log($"=== scale point {p.Name}: {p.Options.BaseSteps} base steps, {p.Options.Stage1Steps} + {p.Options.Stage2Steps} CPT steps");
            results.Add((p, CultureStudy.Run(pieces, Path.Combine(outDir, p.Name), p.Options with { SharedRoot = shared }, render, log, cancel)));
            // Rewritten after every point, so a sweep stopped part-way (hours at the large factors) still reports what it has.
            var partial = Write(outDir, [.. results.Select(r => r.Item1)], baseline.EquivalenceMargin, points.Count);
            log($"wrote {partial} ({results.Count} of {points.Count} points)");
        }
        var report = Path.Combine(outDir, "SCALE.md");
        return new ScaleSweepResult(report, results);
    }

    /// <summary><c>SCALE.md</c>, <c>scale.csv</c> and <c>scale.png</c> from each point's report.json.</summary>
    static string Write(string outDir, IReadOnlyList<ScalePoint> points, double margin, int planned)
    {
        var inv = CultureInfo.InvariantCulture;
        var rows = new List<string[]>();
        var sb = new StringBuilder("# Scale sweep\n\n");
        sb.Append("The study at several multiples of the baseline's pre-training steps (corpus, model and teacher fixed). Δ: paired by ")
          .Append(FormattableString.Invariant($"pre-training seed, mean ± 95 % t interval; verdicts as in each point's REPORT.md (margin ±{margin:0.###}).\n\n"))
          .Append("| point | training audio (h) | base − random (W) | base − hand-crafted (W) | learned | cpt-multi − control (non-W) | verdict |\n| --- | --- | --- | --- | --- | --- | --- |\n");
        var gains = new List<(string Label, double Mean, double Ci)>();
        foreach (var p in points)
        {
            var json = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, p.Name, "report.json")))!;
            JsonNode? Cmp(string a, string b, string group) =>
                json["comparisons"]!.AsArray().FirstOrDefault(c => (string?)c!["a"] == a && (string?)c["b"] == b && (string?)c["group"] == group);
            string Show(JsonNode? c) => c?["diff"]?["mean"] is { } m ? $"{m.GetValue<double>():+0.0;-0.0} ± {(c["diff"]!["ci95"] is { } h ? h.GetValue<double>().ToString("0.0", inv) : "–")}" : "–";
            var (random, crafted, gain) = (Cmp("base", "random", "Western"), Cmp("base", "handcrafted", "Western"), Cmp("cpt-multi", "control", "non-Western"));
            var hours = p.TrainingAudioHours.ToString("0.00", inv);
            sb.Append($"| [{p.Name}]({p.Name}/REPORT.md) | {hours} | {Show(random)} | {Show(crafted)} | {((bool?)json["learned"] == true ? "yes" : "no")} | {Show(gain)} | {(string?)gain?["verdict"] ?? "–"} |\n");
            double D(JsonNode? c, string k) => c?["diff"]?[k] is { } v ? v.GetValue<double>() : double.NaN;
            gains.Add(($"{hours} h", D(gain, "mean"), D(gain, "ci95")));
            rows.Add([p.Name, p.Factor.ToString("R", inv), p.TrainingAudioHours.ToString("R", inv), ((bool?)json["learned"] == true).ToString().ToLowerInvariant(),
                      D(random, "mean").ToString("R", inv), D(crafted, "mean").ToString("R", inv), D(gain, "mean").ToString("R", inv), D(gain, "ci95").ToString("R", inv), (string?)gain?["verdict"] ?? ""]);
        }
        Csv.Write(Path.Combine(outDir, "scale.csv"), ["point", "factor", "training_audio_hours", "learned", "base_minus_random_western", "base_minus_handcrafted_western",
                                                      "cpt_minus_control_non_western", "cpt_minus_control_ci95", "verdict"], rows);
        if (gains.Any(g => double.IsFinite(g.Mean)))
        {
            LayerPlot.SavePng(Path.Combine(outDir, "scale.png"), "CPT gain over the matched-compute control (non-Western avg)", "Δ mean ROC-AUC & AP (×100)",
                              [.. gains.Select(g => g.Label)], [("cpt-multi − control", [.. gains.Select(g => g.Mean)], [.. gains.Select(g => g.Ci)])], xLabel: "training audio (hours, base + CPT)");
            sb.Append("\n![scale](scale.png)\n");
        }
        sb.Append("\nA gain is read only at points where pre-training learned (the base beats random-init and hand-crafted features on the Western ")
          .Append("tasks). Per-point numbers: `scale.csv`; each point's full report, per-seed CSVs and plots are in its folder.\n");
        if (points.Count < planned)
            sb.Append(FormattableString.Invariant($"\n**{points.Count} of {planned} points finished**; run the same command again to resume the others.\n"));
        var path = Path.Combine(outDir, "SCALE.md");
        AtomicFile.WriteText(path, sb.ToString());
        return path;
    }
}
