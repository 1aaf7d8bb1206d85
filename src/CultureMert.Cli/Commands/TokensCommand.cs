using System.CommandLine;
using System.Globalization;
using CultureMert.Teachers;

namespace CultureMert.Cli.Commands;

/// <summary><c>culturemert tokens</c>: tools over teacher tokens written by <c>culturemert tokenize</c>.</summary>
static class TokensCommand
{
    public static Command Create() => Examples.Add(new Command("tokens", "Tools over teacher tokens written by `culturemert tokenize`.") { CreateStats() }, StatsExamples);

    static readonly (string, string)[] StatsExamples =
    [
        ("Token statistics of one tokenize output, cultures from a CSV", "culturemert tokens stats --codes targets --labels culture.csv --out token-stats"),
        ("Several token folders together", "culturemert tokens stats --codes targets/greek targets/western --labels culture.csv --out token-stats"),
        ("Also relate token divergence to transfer gains (pieces from culture.csv's piece column)",
         "culturemert tokens stats --codes targets --labels culture.csv --out token-stats --transfer gains.csv"),
    ];

    /// <summary><c>culturemert tokens stats</c>: per-culture token histograms and their divergences.</summary>
    static Command CreateStats()
    {
        var codes = new Option<string[]>("--codes")
        {
            Description = "Token folders written by `culturemert tokenize` (their index.csv, or every *.safetensors below them).",
            Required = true, AllowMultipleArgumentsPerToken = true, Arity = ArgumentArity.OneOrMore,
        };
        var labels = new Option<string>("--labels")
        {
            Description = "CSV with columns path (audio file) and culture, and optionally piece (or track): files of one piece are one " +
                          "unit for --transfer's bootstrap; a file without one is a piece of its own.",
            Required = true,
        };
        var output = new Option<string>("--out")
        {
            Description = "Output folder: histograms.csv, divergence.csv, summary.json, jsd-heatmap.png, cosine-heatmap.png; with --transfer " +
                          "also transfer-pairs.csv, transfer-correlation.csv, transfer.md and transfer-vs-<measure>.png.",
            Required = true,
        };
        var transfer = new Option<string?>("--transfer")
        {
            Description = "CSV with columns model_culture, task_culture, gain (the single-culture model of model_culture evaluated on " +
                          "task_culture's task): Spearman rho of the gain against token divergences (jsd, jsd-bigram, kl) over ordered pairs.",
        };
        var bootstrap = new Option<int>("--bootstrap") { Description = "Bootstrap resamples of pieces for --transfer's 95 % intervals.", DefaultValueFactory = _ => 1000 };
        var command = new Command("stats", "Token histograms per culture and codebook; Jensen-Shannon divergence and cosine similarity between cultures; " +
                                           "with --transfer, their rank correlation with transfer gains between cultures.")
            { codes, labels, output, transfer, bootstrap };
        command.SetAction(r => Common.Guard(() =>
        {
            var outDir = r.GetValue(output)!;
            var resamples = r.GetValue(bootstrap);
            if (resamples < 0) throw new ArgumentException($"--bootstrap {resamples}: expected 0 or more resamples.");
            var gains = r.GetValue(transfer) is { } gainsCsv ? TransferGain.ReadCsv(gainsCsv) : null;   // read first: a bad file fails fast
            var stats = TokenStatistics.Compute(r.GetValue(codes)!, r.GetValue(labels)!, keepPieces: gains is not null);
            stats.Write(outDir);
            var cultures = stats.Cultures;
            Console.WriteLine($"{cultures.Length} cultures, {cultures.Sum(c => stats.Size(c).Files)} files, {stats.Codebooks} codebooks of {stats.CodebookSize} tokens" +
                              $"{(stats.UnlabeledFiles > 0 ? $"; {stats.UnlabeledFiles} files without a culture label (e.g. {stats.UnlabeledExamples[0]})" : "")}" +
                              $"{(stats.DuplicateFiles > 0 ? $"; {stats.DuplicateFiles} duplicate files skipped" : "")}");
            Console.WriteLine();
            Console.WriteLine($"Jensen-Shannon divergence (bits), mean over {stats.Codebooks} codebooks:");
            var jsd = stats.Matrices().Jsd[stats.Codebooks];
            var width = Math.Max(6, cultures.Max(c => c.Length));
            Console.WriteLine(new string(' ', width) + string.Concat(cultures.Select(c => "  " + c.PadLeft(width))));
            for (var i = 0; i < cultures.Length; i++)
                Console.WriteLine(cultures[i].PadRight(width) + string.Concat(Enumerable.Range(0, cultures.Length)
                    .Select(j => "  " + (double.IsNaN(jsd[i, j]) ? "n/a" : jsd[i, j].ToString("0.0000", CultureInfo.InvariantCulture)).PadLeft(width))));
            Console.WriteLine();
            Console.WriteLine($"wrote {outDir}: histograms.csv, divergence.csv, summary.json, jsd-heatmap.png, cosine-heatmap.png");
            if (gains is not null) ReportTransfer(TokenTransfer.Analyze(stats, gains, resamples), outDir);
            return ExitCodes.Ok;
        }));
        return Examples.Add(command, StatsExamples);
    }

    /// <summary>Writes the transfer analysis and prints ρ with its interval per divergence.</summary>
    static void ReportTransfer(TokenTransferResult result, string outDir)
    {
        result.Write(outDir);
        Console.WriteLine();
        Console.WriteLine($"Token divergence against transfer gain: Spearman rho, 95 % bootstrap interval over {result.Bootstrap} resamples of pieces " +
                          $"({string.Join(", ", result.Cultures.Select(c => $"{c.Culture} {c.Pieces}"))}); expected negative; a correlation, not a cause:");
        foreach (var c in result.Correlations)
            Console.WriteLine($"  {c.Measure.Name,-10}  {TokenTransferResult.RhoText(c)}");
        Console.WriteLine($"wrote {outDir}: {TokenTransferResult.PairsFile}, {TokenTransferResult.CorrelationFile}, {TokenTransferResult.MarkdownFile}, " +
                          string.Join(", ", TokenDivergence.All.Where(m => result.Points(m).Any()).Select(TokenTransferResult.PlotFile)));
    }
}
