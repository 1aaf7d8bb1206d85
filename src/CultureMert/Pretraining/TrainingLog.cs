using System.Globalization;
using CultureMert.Reports;
using ScottPlot;
using CultureMert.IO;

namespace CultureMert.Pretraining;

/// <summary>
/// <c>log.csv</c>: one row per optimiser step, flushed as it is written. On resume the rows at or past the checkpoint's
/// step (written by the interrupted run after its last checkpoint) are dropped, so the log matches the weights.
/// </summary>
public sealed class TrainingLog : IDisposable
{
    private readonly StreamWriter writer;
    public IReadOnlyList<string> Columns { get; }
    public string Path { get; }

    /// <summary>The columns: those of a <see cref="TrainingLogRow"/> (one list names and fills them, so they cannot drift apart).</summary>
    public static List<string> ColumnsFor(int codebooks, IEnumerable<string> sources) =>
        new TrainingLogRow(0, "", 0, new StepStats(codebooks), 0, 0, 0, 0, sources.Select(s => (s, 0.0)).ToList()).Cells().Select(c => c.Column).ToList();

    /// <summary>A run's <c>log.csv</c>: its table, and one row per step in step order (a step logged twice keeps its last row).</summary>
    public static (CsvTable Table, List<CsvRow> Steps) Read(string path)
    {
        var table = Csv.Read(path);
        var step = table.Column("step");
        var rows = step < 0 ? [] : table.Rows.Where(r => r.Int(step) is not null).GroupBy(r => r.Int(step)!.Value).OrderBy(g => g.Key).Select(g => g.Last()).ToList();
        return (table, rows);
    }

    public TrainingLog(string path, IReadOnlyList<string> columns, int resumeStep)
    {
        Path = path;
        Columns = columns;
        var keep = new List<string[]>();
        if (resumeStep > 0 && File.Exists(path))
        {
            var table = Csv.Read(path);
            if (!table.Header.SequenceEqual(columns))
                throw new InvalidDataException($"{path}: its columns differ from this run's ({string.Join(",", columns)}); move it away to resume.");
            keep.AddRange(table.Rows.Where(r => r.Int(0) < resumeStep).Select(r => r.Fields));
        }
        Csv.Write(path, columns, keep);
        writer = new StreamWriter(path, append: true) { AutoFlush = true };
    }

    public void Write(TrainingLogRow row)
    {
        var cells = row.Cells().ToList();
        if (!cells.Select(c => c.Column).SequenceEqual(Columns))
            throw new InvalidOperationException($"{Path}: a row with columns {string.Join(",", cells.Select(c => c.Column))} under the header {string.Join(",", Columns)}.");
        writer.WriteLine(string.Join(",", cells.Select(c => Csv.Field(Format(c.Value)))));
    }

    private static string Format(object v) => v switch
    {
        double d => d.ToString("G6", CultureInfo.InvariantCulture),
        float f => f.ToString("G6", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "",
    };

    public void Dispose() => writer.Dispose();

    /// <summary>
    /// <c>loss.png</c>: the total loss (and its running mean), the masked accuracy against that of always guessing the
    /// most frequent token, and the learning rate, with the stage boundaries marked, read back from <paramref name="csv"/>.
    /// </summary>
    public static void Plot(string csv, string png, IReadOnlyList<(string Name, int FirstStep)> stages)
    {
        var table = Csv.Read(csv);
        if (table.Rows.Count < 1) return;
        var header = table.Header;
        int Col(string n) => table.Column(n);
        double At(CsvRow r, int c) => r.Double(c) ?? double.NaN;
        var data = table.Rows;
        var steps = data.Select(r => At(r, Col("step")) + 1).ToArray();
        var loss = data.Select(r => At(r, Col("loss"))).ToArray();
        var lr = data.Select(r => At(r, Col("lr"))).ToArray();
        double[] MeanOf(string prefix)
        {
            var cols = header.Select((h, i) => (h, i)).Where(x => x.h.StartsWith(prefix, StringComparison.Ordinal)).Select(x => x.i).ToArray();
            return data.Select(r => cols.Average(c => At(r, c))).ToArray();
        }
        var window = Math.Max(1, Math.Min(50, steps.Length / 10));
        double[] Smooth(double[] v) => v.Select((_, i) => v.Skip(Math.Max(0, i - window + 1)).Take(Math.Min(window, i + 1)).Average()).ToArray();
        var smooth = Smooth(loss);

        using var plot = new Plot();
        if (Heatmap.Font is { } font) plot.Font.Set(font);
        plot.Title("pre-training: loss, masked accuracy and learning rate");
        plot.XLabel("step");
        plot.YLabel("loss (Σ CE + 10·pen + CQT MSE)");
        var raw = plot.Add.ScatterLine(steps, loss);
        raw.Color = Colors.SteelBlue.WithAlpha(0.35);
        raw.LegendText = "loss";
        var mean = plot.Add.ScatterLine(steps, smooth);
        mean.Color = Colors.SteelBlue;
        mean.LineWidth = 2;
        mean.LegendText = $"loss, {window}-step mean";

        var right = plot.Axes.Right;
        right.Label.Text = "learning rate / masked accuracy (scaled)";
        var lrMax = lr.Where(double.IsFinite).DefaultIfEmpty(1).Max();
        var lrLine = plot.Add.ScatterLine(steps, lr.Select(v => v / lrMax).ToArray());
        lrLine.Axes.YAxis = right;
        lrLine.Color = Colors.OrangeRed;
        lrLine.LegendText = FormattableString.Invariant($"LR / {lrMax:G3}");
        var accLine = plot.Add.ScatterLine(steps, Smooth(MeanOf("acc_")));
        accLine.Axes.YAxis = right;
        accLine.Color = Colors.SeaGreen;
        accLine.LineWidth = 2;
        accLine.LegendText = $"masked accuracy, {window}-step mean";
        var chanceLine = plot.Add.ScatterLine(steps, Smooth(MeanOf("chance_")));
        chanceLine.Axes.YAxis = right;
        chanceLine.Color = Colors.SeaGreen;
        chanceLine.LinePattern = LinePattern.Dotted;
        chanceLine.LegendText = "always the most frequent token";
        foreach (var (name, first) in stages.Skip(1))
        {
            var v = plot.Add.VerticalLine(first + 0.5);
            v.Color = Colors.Gray;
            v.LinePattern = LinePattern.Dashed;
            v.LabelText = name;
        }
        plot.Axes.SetLimitsY(0, 1.05, right);
        plot.ShowLegend(Alignment.UpperRight);
        var bytes = plot.GetImageBytes(900, 480, ImageFormat.Png);
        AtomicFile.Write(png, s => s.Write(bytes));
    }
}

/// <summary>One row of log.csv: optimiser step <paramref name="Step"/> (0-based) and how it went.</summary>
/// <param name="Seconds">seconds of audio drawn from each source so far, in the log's source order</param>
/// <param name="EtaSeconds">time left to the run's last step at this run's mean step time</param>
public sealed record TrainingLogRow(int Step, string Stage, double Lr, StepStats Stats, double MsPerStep, double AudioSecondsPerSecond,
                                    double EtaSeconds, double RssMib, IReadOnlyList<(string Source, double Seconds)> Seconds)
{
    /// <summary>The cells in column order: step, stage, loss, lr first (the issue's contract), then the per-term figures.</summary>
    public IEnumerable<(string Column, object Value)> Cells()
    {
        var s = Stats;
        IEnumerable<(string, object)> PerCodebook(string name, double[] v) => v.Select((x, i) => ($"{name}_{i}", (object)x));
        return [("step", Step), ("stage", Stage), ("loss", s.Loss), ("lr", Lr), ("ce", s.Ce.Sum()),
                .. PerCodebook("ce", s.Ce), .. PerCodebook("acc", s.Acc), .. PerCodebook("chance", s.Chance),
                ("features_pen", s.FeaturesPen), ("cqt_mse", s.CqtMse), ("grad_norm", s.GradNorm), ("masked_frames", (long)s.MaskedFrames),
                ("ms_per_step", MsPerStep), ("ms_data", s.Times.Data), ("ms_forward", s.Times.Forward), ("ms_backward", s.Times.Backward),
                ("ms_allreduce", s.Times.AllReduce), ("ms_clip", s.Times.Clip), ("ms_optimizer", s.Times.Optimizer), ("steps_per_s", 1000 / MsPerStep), ("audio_s_per_s", AudioSecondsPerSecond), ("eta_s", EtaSeconds),
                ("rss_mib", RssMib),
                .. Seconds.Select(x => ($"seconds_{x.Source}", (object)x.Seconds))];   // cumulative seconds of audio drawn from each source
    }
}
