using CultureMert.IO;
using CultureMert.Reports;
using ScottPlot;

/// <summary>
/// Several pre-training runs' loss against the step, read from their log.csv files, one colour per group (e.g. fp32 and
/// bf16, several seeds each): the loss-curve plot of bench/bf16-training.sh.
/// </summary>
static class LossCurves
{
    /// <param name="runs">(group, log.csv) per run; runs of a group share a colour</param>
    /// <param name="window">steps in the running mean drawn for each run</param>
    public static void SavePng(string png, string title, IReadOnlyList<(string Group, string Log)> runs, int window = 20)
    {
        using var plot = new Plot();
        if (Heatmap.Font is { } font) plot.Font.Set(font);
        plot.Title(title);
        plot.XLabel("step");
        plot.YLabel($"loss, {window}-step running mean");
        var palette = new ScottPlot.Palettes.Category10();
        var groups = runs.Select(r => r.Group).Distinct().ToList();
        foreach (var (group, log) in runs)
        {
            var table = Csv.Read(log);
            var (stepCol, lossCol) = (table.Column("step"), table.Column("loss"));
            var steps = table.Rows.Select(r => (r.Double(stepCol) ?? double.NaN) + 1).ToArray();
            var loss = table.Rows.Select(r => r.Double(lossCol) ?? double.NaN).ToArray();
            var mean = loss.Select((_, i) => loss.Skip(Math.Max(0, i - window + 1)).Take(Math.Min(window, i + 1)).Average()).ToArray();
            var line = plot.Add.ScatterLine(steps, mean);
            var g = groups.IndexOf(group);
            line.Color = palette.GetColor(g);
            line.LineWidth = g == 0 ? 4 : 1.5f;                                            // later groups drawn thin and dashed
            if (g > 0) line.LinePattern = LinePattern.Dashed;                              // over the first: both stay visible
            if (runs.First(r => r.Group == group).Log == log) line.LegendText = group;   // one legend entry per group
        }
        plot.ShowLegend(Alignment.UpperRight);
        var bytes = plot.GetImageBytes(900, 480, ImageFormat.Png);
        AtomicFile.Write(png, s => s.Write(bytes));
    }
}
