using ScottPlot;
using CultureMert.IO;

namespace CultureMert.Reports;

/// <summary>
/// Annotated heatmaps (rows × columns of numbers, each cell coloured and labelled with its value) as PNG, drawn with
/// ScottPlot 5 headless. ScottPlot's SkiaSharp build ships without fontconfig (ScottPlot issues #3504, #2366), so text
/// can come out empty on a bare Linux machine: we register a TrueType file from the usual font folders ourselves
/// (DejaVu Sans first; the first plot installs fonts-dejavu-core where it can, see <see cref="Setup.SystemPackages"/>).
/// </summary>
public static class Heatmap
{
    const int CellPx = 80;
    static readonly Lazy<string?> FontFamily = new(RegisterFont);

    /// <summary>The registered font family (null: ScottPlot's default), for the other plots of Reports/.</summary>
    internal static string? Font => FontFamily.Value;

    /// <summary>Font files tried in order: Debian/Ubuntu, Fedora, Arch, then any DejaVu or Liberation file under /usr/share/fonts.</summary>

    /// <summary>
    /// Writes a heatmap of <paramref name="values"/> (rows × columns, row 0 at the top) to <paramref name="path"/>
    /// atomically. Every cell shows its value formatted with <paramref name="valueFormat"/> (e.g. <c>0.000</c>); NaN cells
    /// are grey and read "n/a". The colour bar spans the finite values.
    /// </summary>
    public static void SavePng(string path, string title, string[] rowLabels, string[] colLabels, double[,] values, string valueFormat)
    {
        var (rows, cols) = (values.GetLength(0), values.GetLength(1));
        if (rows == 0 || cols == 0) throw new ArgumentException($"{path}: nothing to plot ({rows} × {cols} values).");
        if (rowLabels.Length != rows || colLabels.Length != cols)
            throw new ArgumentException($"{path}: {rowLabels.Length} row and {colLabels.Length} column labels for {rows} × {cols} values.");

        var font = FontFamily.Value;
        using var plot = new Plot();
        if (font is not null) plot.Font.Set(font);
        plot.Title(title);

        var finite = values.Cast<double>().Where(double.IsFinite).ToArray();
        var (lo, hi) = finite.Length == 0 ? (0.0, 1.0) : (finite.Min(), finite.Max());
        if (hi - lo < 1e-12) (lo, hi) = (lo - 0.5, hi + 0.5);            // one value only: a colour bar needs a span

        // Cells are drawn as rectangles: ScottPlot's heatmap plottable leaves a 1 × 1 map blank. It stays, hidden, as
        // the colour bar's source, so the bar and the cells share one colormap and range.
        var colormap = new ScottPlot.Colormaps.Viridis();
        var heatmap = plot.Add.Heatmap(values);
        heatmap.Colormap = colormap;
        heatmap.ManualRange = new ScottPlot.Range(lo, hi);
        heatmap.IsVisible = false;
        var bar = plot.Add.ColorBar(heatmap);
        bar.Width = 20;

        for (var i = 0; i < rows; i++)
            for (var j = 0; j < cols; j++)
            {
                var v = values[i, j];
                var y = rows - 1 - i;                                              // row 0 at the top
                var fill = double.IsFinite(v) ? colormap.GetColor(Math.Clamp((v - lo) / (hi - lo), 0, 1)) : Colors.LightGray;
                var cell = plot.Add.Rectangle(j - 0.5, j + 0.5, y - 0.5, y + 0.5);
                cell.FillColor = fill;
                cell.LineWidth = 0;
                var text = plot.Add.Text(double.IsFinite(v) ? v.ToString(valueFormat, System.Globalization.CultureInfo.InvariantCulture) : "n/a", j, y);
                text.LabelFontSize = 14;
                text.LabelAlignment = Alignment.MiddleCenter;
                text.LabelBold = true;
                // black on light cells (viridis' yellow end), white on dark ones (its purple end): relative luminance
                var luminance = 0.2126 * fill.Red + 0.7152 * fill.Green + 0.0722 * fill.Blue;
                text.LabelFontColor = luminance > 140 ? Colors.Black : Colors.White;
            }

        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, cols).Select(j => (double)j).ToArray(), colLabels);
        plot.Axes.Left.SetTicks(Enumerable.Range(0, rows).Select(i => (double)(rows - 1 - i)).ToArray(), rowLabels);
        var longest = colLabels.Max(l => l.Length);
        var labelPx = 8 * Math.Max(longest, rowLabels.Max(l => l.Length));    // room for the longest name (~8 px a character)
        if (longest > 8)
        {
            // long names tilted (ScottPlot cookbook "rotated tick labels"); the axis panel does not grow by itself
            plot.Axes.Bottom.TickLabelStyle.Rotation = -45;
            plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleRight;
            plot.Axes.Bottom.MinimumSize = 0.75f * 8 * longest + 20;
        }
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Axes.Left.MajorTickStyle.Length = 0;
        plot.Axes.Bottom.MinorTickStyle.Length = 0;
        plot.Axes.Left.MinorTickStyle.Length = 0;
        plot.HideGrid();
        plot.Axes.SetLimits(-0.5, cols - 0.5, -0.5, rows - 0.5);

        var width = Math.Clamp(Math.Max(180 + labelPx + CellPx * cols, 40 + 10 * title.Length), 420, 4000);   // the title must fit
        var height = Math.Clamp(120 + (longest > 8 ? (int)(0.75 * 8 * longest) : 30) + CellPx * rows, 320, 4000);
        var png = plot.GetImageBytes(width, height, ImageFormat.Png);
        AtomicFile.Write(path, s => s.Write(png));
    }

    /// <summary>Registers the first font file found under a fixed family name; null when none is (ScottPlot's default is used).</summary>
    static string? RegisterFont()
    {
        try { Setup.SystemPackages.Require(Setup.SystemPackages.Plots); }
        catch (Setup.MissingSystemPackagesException e) { Console.Error.WriteLine($"note: plots will have no text. {e.Message}"); }
        var file = Setup.SystemPackages.FindFontFile();
        if (file is null) return null;
        const string family = "CultureMert Sans";
        Fonts.AddFontFile(family, file, bold: false, italic: false);
        var bold = Path.Combine(Path.GetDirectoryName(file)!, Path.GetFileNameWithoutExtension(file).Replace("-Regular", "") + "-Bold.ttf");
        Fonts.AddFontFile(family, File.Exists(bold) ? bold : file, bold: true, italic: false);
        Fonts.Default = family;
        return family;
    }
}
