using ScottPlot;
using CultureMert.IO;

namespace CultureMert.Reports;

/// <summary>Grouped bars with error whiskers (e.g. per-task ROC-AUC, one bar per model), PNG, fonts as <see cref="Heatmap"/>.</summary>
public static class BarPlot
{
    /// <summary>
    /// One group per entry of <paramref name="groups"/>, one bar per series inside each group; <c>Values[g]</c> and
    /// <c>Errors[g]</c> per group (NaN value: no bar; NaN error: no whisker). Written to <paramref name="path"/> atomically.
    /// <paramref name="yRange"/> fixes the value axis (e.g. 0–1 for ROC-AUC, where a wide interval over few seeds would
    /// otherwise stretch the axis past any possible score); whiskers beyond it are cut at the edge.
    /// </summary>
    public static void SavePng(string path, string title, string yLabel, string[] groups,
                               IReadOnlyList<(string Name, double[] Values, double[] Errors)> series, (double Min, double Max)? yRange = null)
    {
        if (groups.Length == 0 || series.Count == 0) throw new ArgumentException($"{path}: nothing to plot.");
        using var plot = new Plot();
        if (Heatmap.Font is { } font) plot.Font.Set(font);
        plot.Title(title);
        plot.YLabel(yLabel);
        var palette = new ScottPlot.Palettes.Category10();
        var width = 0.8 / series.Count;
        var bars = new List<Bar>();
        for (var s = 0; s < series.Count; s++)
        {
            var (name, values, errors) = series[s];
            if (values.Length != groups.Length || errors.Length != groups.Length)
                throw new ArgumentException($"{path}: series '{name}' has {values.Length} values for {groups.Length} groups.");
            var color = palette.GetColor(s);
            for (var g = 0; g < groups.Length; g++)
            {
                if (!double.IsFinite(values[g])) continue;
                bars.Add(new Bar
                {
                    Position = g + (s - (series.Count - 1) / 2.0) * width, Value = values[g], Size = width * 0.9,
                    Error = double.IsFinite(errors[g]) ? errors[g] : 0, FillColor = color,
                });
            }
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = name, FillColor = color });
        }
        plot.Add.Bars(bars);
        plot.Axes.Bottom.SetTicks([.. Enumerable.Range(0, groups.Length).Select(i => (double)i)], groups);
        plot.Axes.Margins(bottom: 0);
        if (yRange is var (min, max)) plot.Axes.SetLimitsY(min, max);
        plot.ShowLegend(Alignment.UpperRight);
        var png = plot.GetImageBytes(Math.Clamp(160 + 40 * groups.Length * series.Count, 560, 3000), 440, ImageFormat.Png);
        AtomicFile.Write(path, st => st.Write(png));
    }
}
