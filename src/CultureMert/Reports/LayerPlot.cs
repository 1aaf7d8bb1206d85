using ScottPlot;
using CultureMert.IO;

namespace CultureMert.Reports;

/// <summary>A per-layer line plot with error bars (e.g. probe ROC-AUC per layer), PNG, fonts as <see cref="Heatmap"/>.</summary>
public static class LayerPlot
{
    /// <summary>
    /// Writes one series per entry of <paramref name="series"/> (values and error half-widths per layer label; NaN errors
    /// draw no bar) to <paramref name="path"/> atomically.
    /// </summary>
    public static void SavePng(string path, string title, string yLabel, string[] layers,
                               IReadOnlyList<(string Name, double[] Values, double[] Errors)> series, string xLabel = "layer")
    {
        if (layers.Length == 0 || series.Count == 0) throw new ArgumentException($"{path}: nothing to plot.");
        using var plot = new Plot();
        if (Heatmap.Font is { } font) plot.Font.Set(font);
        plot.Title(title);
        plot.YLabel(yLabel);
        plot.XLabel(xLabel);
        var xs = Enumerable.Range(0, layers.Length).Select(i => (double)i).ToArray();
        var palette = new ScottPlot.Palettes.Category10();
        for (var s = 0; s < series.Count; s++)
        {
            var (name, values, errors) = series[s];
            if (values.Length != layers.Length || errors.Length != layers.Length)
                throw new ArgumentException($"{path}: series '{name}' has {values.Length} values for {layers.Length} layers.");
            var color = palette.GetColor(s);
            var offset = (s - (series.Count - 1) / 2.0) * 0.08;                    // side by side, so error bars do not overlap
            var x = xs.Select(v => v + offset).ToArray();
            var line = plot.Add.Scatter(x, values);
            line.Color = color;
            line.LegendText = name;
            var bars = plot.Add.ErrorBar(x, values, [.. errors.Select(e => double.IsFinite(e) ? e : 0)]);
            bars.Color = color;
        }
        plot.Axes.Bottom.SetTicks(xs, layers);
        plot.ShowLegend(Alignment.LowerRight);
        var png = plot.GetImageBytes(Math.Clamp(200 + 60 * layers.Length, 520, 3000), 420, ImageFormat.Png);
        AtomicFile.Write(path, st => st.Write(png));
    }
}
