using System.Globalization;
using System.Text;
using CultureMert.IO;
using CultureMert.Reports;

namespace CultureMert.Teachers;

/// <summary>What <see cref="TokenTransfer.Analyze"/> found: the pair table, one correlation per divergence, the cultures' pieces.</summary>
public sealed class TokenTransferResult(IReadOnlyList<TransferPair> pairs, IReadOnlyList<TransferCorrelation> correlations,
                                        IReadOnlyList<TransferCulture> cultures, int codebooks, int bootstrap, int seed)
{
    public const string PairsFile = "transfer-pairs.csv", CorrelationFile = "transfer-correlation.csv", MarkdownFile = "transfer.md";

    /// <summary>Every ordered pair the gains list, diagonal ones included, by model culture then task culture.</summary>
    public IReadOnlyList<TransferPair> Pairs => pairs;

    /// <summary>One per <see cref="TokenDivergence.All"/>, same order.</summary>
    public IReadOnlyList<TransferCorrelation> Correlations => correlations;

    public IReadOnlyList<TransferCulture> Cultures => cultures;
    public int Codebooks => codebooks;
    public int Bootstrap => bootstrap;
    public int Seed => seed;

    public TransferCorrelation Correlation(TokenDivergence measure) => correlations[measure.Index];

    /// <summary>The scatter plot of one divergence: <c>transfer-vs-&lt;name&gt;.png</c>.</summary>
    public static string PlotFile(TokenDivergence measure) => $"transfer-vs-{measure.Name}.png";

    /// <summary>The off-diagonal pairs with a finite gain and divergence: the points of one measure's correlation.</summary>
    public IEnumerable<TransferPair> Points(TokenDivergence measure) =>
        pairs.Where(p => !p.IsDiagonal && double.IsFinite(p.Gain) && double.IsFinite(p.Divergence(measure)));

    /// <summary>
    /// Writes <c>transfer-pairs.csv</c>, <c>transfer-correlation.csv</c>, a <c>transfer-vs-&lt;measure&gt;.png</c> per
    /// divergence that has points, and <c>transfer.md</c> (<see cref="Markdown"/>, images beside it) into
    /// <paramref name="outDir"/>, each atomically.
    /// </summary>
    public void Write(string outDir)
    {
        Directory.CreateDirectory(outDir);
        Csv.Write(Path.Combine(outDir, PairsFile), ["model_culture", "task_culture", "gain", .. TokenDivergence.All.Select(m => m.Column)],
            pairs.Select(p => (IReadOnlyList<string>)[p.ModelCulture, p.TaskCulture, R(p.Gain), .. TokenDivergence.All.Select(m => R(p.Divergence(m)))]));
        Csv.Write(Path.Combine(outDir, CorrelationFile), ["measure", "spearman_rho", "ci95_low", "ci95_high", "pairs", "bootstrap", "interval_meaningful"],
            correlations.Select(c => (IReadOnlyList<string>)[c.Measure.Name, R(c.Rho), R(c.Low), R(c.High), I(c.Pairs), I(c.Bootstrap), c.IntervalMeaningful ? "true" : "false"]));
        foreach (var measure in TokenDivergence.All.Where(m => Points(m).Any()))
            ScatterPlot.SavePng(Path.Combine(outDir, PlotFile(measure)), $"Transfer gain against {measure.Name}: {RhoText(Correlation(measure))}",
                measure.Description, "transfer gain", [.. Points(measure).Select(p => (p.Label, p.Divergence(measure), p.Gain))]);
        AtomicFile.WriteText(Path.Combine(outDir, MarkdownFile), Markdown("", headingLevel: 1));
    }

    /// <summary>
    /// A Markdown section for a report to embed: what was correlated and how, a table of ρ [95 % interval] per divergence,
    /// the pieces per culture, the pair table and the scatter plots. Image links are <paramref name="imageFolder"/> (relative
    /// to the report that embeds the text; "" when the images lie beside it) joined with <see cref="PlotFile"/>.
    /// </summary>
    public string Markdown(string imageFolder, int headingLevel = 2)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{new string('#', Math.Clamp(headingLevel, 1, 6))} Token divergence against transfer gain\n\n");
        text.Append(
            "Spearman ρ between how far a task culture's teacher tokens are from those of the culture a model was continually " +
            $"pre-trained on (mean over {I(codebooks)} codebook{(codebooks == 1 ? "" : "s")}) and that model's gain on the task, over the ordered pairs of two " +
            $"different cultures. 95 % interval: percentile bootstrap over {I(bootstrap)} resamples of pieces within each culture " +
            $"(seed {I(seed)}), the gains fixed. Expected sign: negative (more divergent tokens, less transfer). This is a " +
            $"correlation over few pairs, not a causal claim; with fewer than {I(TransferCorrelation.MinPairsForInterval)} pairs " +
            "the interval is not meaningful (marked †).\n\n");
        text.Append("| divergence | ρ | 95 % interval | pairs |\n|---|---:|:---:|---:|\n");
        foreach (var c in correlations)
            text.Append(CultureInfo.InvariantCulture,
                $"| {c.Measure.Name}: {Cell(c.Measure.Description)} | {N(c.Rho, "0.000")} | [{N(c.Low, "0.000")}, {N(c.High, "0.000")}]{(c.IntervalMeaningful ? "" : " †")} | {c.Pairs} |\n");
        text.Append("\nPieces per culture (the bootstrap's unit): ")
            .AppendJoin(", ", cultures.Select(c => $"{Cell(c.Culture)} {c.Pieces} ({c.Files} files)")).Append(".\n\n");
        text.Append("| model → task | gain | ").AppendJoin(" | ", TokenDivergence.All.Select(m => m.Name)).Append(" |\n|---|")
            .Append(string.Concat(Enumerable.Repeat("---:|", TokenDivergence.All.Count + 1))).Append('\n');
        foreach (var p in pairs)
            text.Append(CultureInfo.InvariantCulture, $"| {Cell(p.Label)}{(p.IsDiagonal ? " (same culture)" : "")} | {N(p.Gain, "0.0000")} | ")
                .AppendJoin(" | ", TokenDivergence.All.Select(m => N(p.Divergence(m), "0.0000"))).Append(" |\n");
        foreach (var measure in TokenDivergence.All.Where(m => Points(m).Any()))
            text.Append(CultureInfo.InvariantCulture, $"\n![transfer gain against {measure.Name}]({Link(imageFolder, PlotFile(measure))})\n");
        return text.ToString();
    }

    /// <summary>"ρ = −0.60 [−0.90, −0.10], 6 pairs", for titles and the console.</summary>
    public static string RhoText(TransferCorrelation c) =>
        $"ρ = {N(c.Rho, "0.00")} [{N(c.Low, "0.00")}, {N(c.High, "0.00")}], {c.Pairs} pairs{(c.IntervalMeaningful ? "" : " (too few for an interval)")}";

    static string Link(string folder, string file) =>
        folder is "" or "." ? file : folder.Replace('\\', '/').TrimEnd('/') + "/" + file;

    static string Cell(string s) => s.Replace("|", "\\|");
    static string N(double x, string format) => double.IsFinite(x) ? x.ToString(format, CultureInfo.InvariantCulture) : "n/a";
    static string R(double x) => double.IsNaN(x) ? "nan" : x.ToString("R", CultureInfo.InvariantCulture);
    static string I(int x) => x.ToString(CultureInfo.InvariantCulture);
}
