using ScottPlot;
using CultureMert.IO;

namespace CultureMert.Reports;

/// <summary>Labelled points (e.g. one per ordered pair of cultures, "A→B"), PNG, fonts as <see cref="Heatmap"/>.</summary>
public static class ScatterPlot
{
    /// <summary>
    /// Writes one marker per point, its label just above and to the right of it, to <paramref name="path"/> atomically.
    /// Points with a non-finite coordinate are left out; the right margin leaves room for the labels of the rightmost points.
    /// </summary>
    public static void SavePng(string path, string title, string xLabel, string yLabel, IReadOnlyList<(string Label, double X, double Y)> points)
    {
        var shown = points.Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToArray();
        if (shown.Length == 0) throw new ArgumentException($"{path}: nothing to plot.");
        using var plot = new Plot();
        if (Heatmap.Font is { } font) plot.Font.Set(font);
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        var color = new ScottPlot.Palettes.Category10().GetColor(0);
        var markers = plot.Add.Scatter(shown.Select(p => p.X).ToArray(), shown.Select(p => p.Y).ToArray());
        markers.LineWidth = 0;
        markers.MarkerSize = 9;
        markers.Color = color;
        foreach (var (label, x, y) in shown)
        {
            var text = plot.Add.Text(label, x, y);
            text.LabelFontSize = 12;
            text.LabelAlignment = Alignment.LowerLeft;
            (text.OffsetX, text.OffsetY) = (6, -4);                             // pixels: right of the marker, above it
        }
        plot.Axes.Margins(left: 0.08, right: 0.25, bottom: 0.1, top: 0.15);
        var width = Math.Clamp(Math.Max(640, 40 + 10 * title.Length), 640, 3000);   // the title must fit
        var png = plot.GetImageBytes(width, 480, ImageFormat.Png);
        AtomicFile.Write(path, st => st.Write(png));
    }
}
