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
    ];

    /// <summary><c>culturemert tokens stats</c>: per-culture token histograms and their divergences.</summary>
    static Command CreateStats()
    {
        var codes = new Option<string[]>("--codes")
        {
            Description = "Token folders written by `culturemert tokenize` (their index.csv, or every *.safetensors below them).",
            Required = true, AllowMultipleArgumentsPerToken = true, Arity = ArgumentArity.OneOrMore,
        };
        var labels = new Option<string>("--labels") { Description = "CSV with columns path (audio file) and culture.", Required = true };
        var output = new Option<string>("--out") { Description = "Output folder: histograms.csv, divergence.csv, summary.json, jsd-heatmap.png, cosine-heatmap.png.", Required = true };
        var command = new Command("stats", "Token histograms per culture and codebook; Jensen-Shannon divergence and cosine similarity between cultures.")
            { codes, labels, output };
        command.SetAction(r => Common.Guard(() =>
        {
            var outDir = r.GetValue(output)!;
            var stats = TokenStatistics.Compute(r.GetValue(codes)!, r.GetValue(labels)!);
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
            return ExitCodes.Ok;
        }));
        return Examples.Add(command, StatsExamples);
    }
}
