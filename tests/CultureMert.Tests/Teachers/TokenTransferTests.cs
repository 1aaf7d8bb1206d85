using System.Globalization;
using System.Text.Json.Nodes;
using CultureMert.Cli;
using CultureMert.IO;
using CultureMert.Teachers;
using static CultureMert.Tests.Teachers.TokenStatisticsTests;

namespace CultureMert.Tests.Teachers;

public class TokenTransferTests
{
    const double GoldenTol = 1e-10;

    // ---- against numpy/scipy (tests/fixtures/tokens/transfer_golden.py) ------------------------------------------------

    static readonly JsonNode Golden = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.Dir("tokens"), "transfer-golden.json")))!;

    /// <summary>The golden's token rows as token files, its labels (with pieces) and gains as CSVs; statistics with pieces.</summary>
    static (TokenStatistics Stats, List<TransferGain> Gains) GoldenData(Fixtures.TempDir dir)
    {
        var k = Golden["codebook_size"]!.GetValue<int>();
        var labels = new List<string> { "path,culture,piece" };
        foreach (var file in Golden["files"]!.AsArray())
        {
            var (name, culture, piece) = (file!["name"]!.GetValue<string>(), file["culture"]!.GetValue<string>(), file["piece"]!.GetValue<string>());
            var codes = file["codes"]!.AsArray().Select(row => row!.AsArray().Select(t => t!.GetValue<long>()).ToArray()).ToArray();
            WriteCodes(dir[$"codes/{name}.safetensors"], codes, dir[$"audio/{culture}/{name}.wav"], k);
            labels.Add($"audio/{culture}/{name}.wav,{culture},{piece}");
        }
        File.WriteAllText(dir["labels.csv"], string.Join("\n", labels) + "\n");
        File.WriteAllText(dir["gains.csv"], "model_culture,task_culture,gain\n" + string.Concat(Golden["gains"]!.AsArray().Select(g =>
            $"{g!["model"]},{g["task"]},{(g["gain"] is { } v ? v.GetValue<double>().ToString("R", CultureInfo.InvariantCulture) : "")}\n")));
        return (TokenStatistics.Compute([dir["codes"]], dir["labels.csv"], keepPieces: true), TransferGain.ReadCsv(dir["gains.csv"]));
    }

    static readonly (string Json, TokenDivergence Measure)[] Measures = [("jsd", TokenDivergence.Jsd), ("jsd_bigram", TokenDivergence.JsdBigram), ("kl", TokenDivergence.Kl)];

    [Fact]
    public void Analyze_GoldenData_DivergencesAndRhoMatchScipy()
    {
        using var dir = new Fixtures.TempDir();
        var (stats, gains) = GoldenData(dir);
        var result = TokenTransfer.Analyze(stats, gains, bootstrap: 20);

        var expected = Golden["pairs"]!.AsArray();
        Assert.Equal(expected.Count, result.Pairs.Count);                          // diagonal pairs stay in the table
        foreach (var e in expected)
        {
            var pair = result.Pairs.Single(p => p.ModelCulture == e!["model"]!.GetValue<string>() && p.TaskCulture == e["task"]!.GetValue<string>());
            foreach (var (json, measure) in Measures)
                Assert.Equal(e![json]!.GetValue<double>(), pair.Divergence(measure), GoldenTol);
        }
        foreach (var (json, measure) in Measures)
        {
            var c = result.Correlation(measure);
            Assert.Equal(Golden["spearman"]![json]!["rho"]!.GetValue<double>(), c.Rho, GoldenTol);
            Assert.Equal(Golden["spearman"]![json]!["pairs"]!.GetValue<int>(), c.Pairs);   // off-diagonal, with a gain
            Assert.True(c.IntervalMeaningful);
        }
        Assert.All(result.Cultures, c => Assert.Equal(3, c.Pieces));

        // the unigram JSD is the one `tokens stats` reports
        var cultures = stats.Cultures;
        var matrix = stats.Matrices().Jsd[stats.Codebooks];
        foreach (var p in result.Pairs)
            Assert.Equal(matrix[Array.IndexOf(cultures, p.ModelCulture), Array.IndexOf(cultures, p.TaskCulture)], p.Jsd, 1e-12);
    }

    [Fact]
    public void Divergences_FixedResample_MatchScipy()
    {
        using var dir = new Fixtures.TempDir();
        var (stats, _) = GoldenData(dir);
        var cultures = stats.Cultures;                                             // the analysis orders cultures ordinally too
        var histograms = new TransferHistograms(stats, cultures);
        var draw = Golden["resample"]!["pieces"]!;
        var weights = cultures.Select(c =>
        {
            var names = stats.Pieces(c).Select(p => p.Name).ToList();
            var w = new int[names.Count];
            foreach (var piece in draw[c]!.AsArray()) w[names.IndexOf(piece!.GetValue<string>())]++;
            return w;
        }).ToArray();
        var divergences = histograms.Divergences([weights])[0];

        var n = cultures.Length;
        foreach (var e in Golden["resample"]!["pairs"]!.AsArray())
        {
            var slot = Array.IndexOf(cultures, e!["model"]!.GetValue<string>()) * n + Array.IndexOf(cultures, e["task"]!.GetValue<string>());
            foreach (var (json, measure) in Measures)
                Assert.Equal(e[json]!.GetValue<double>(), divergences[slot * 3 + measure.Index], GoldenTol);
        }
    }

    [Fact]
    public void Spearman_EdgeCases_FollowTheDefinition()
    {
        Assert.Equal(1.0, TokenTransfer.Spearman([1, 2, 3, 10], [0.1, 0.2, 0.3, 0.4]), 1e-15);   // ranks only: monotone is 1
        Assert.Equal(-1.0, TokenTransfer.Spearman([1, 2, 3], [3, 2, 1]), 1e-15);
        // ties share the average rank: x ranks [1.5, 1.5, 3], y ranks [1, 2, 3] → Pearson = 0.75 / √(0.5 · 2) … = √3/2
        Assert.Equal(Math.Sqrt(3) / 2, TokenTransfer.Spearman([5, 5, 7], [1, 2, 3]), 1e-15);
        Assert.True(double.IsNaN(TokenTransfer.Spearman([1, 1, 1], [1, 2, 3])));             // a constant side has no ranks to correlate
        Assert.True(double.IsNaN(TokenTransfer.Spearman([1], [1])));
    }

    [Fact]
    public void SparseCounts_OfAndPlus_CountAndMergeKeys()
    {
        var a = SparseCounts.Of(new[] { 5, 1, 5, 3 });
        var b = SparseCounts.Of(new[] { 3, 7, 3 });
        var sum = a.Plus(b);
        Assert.Equal([1, 3, 5, 7], sum.Keys.ToArray());
        Assert.Equal([1, 3, 2, 1], sum.Counts.ToArray());
        Assert.Equal(7, sum.Total);
        Assert.Equal(0, sum[4]);
        Assert.Same(a, a.Plus(SparseCounts.Empty));
        Assert.Equal(0, SparseCounts.Pairs([4], 8).Length);                         // one frame: no pair
    }

    // ---- the bootstrap ---------------------------------------------------------------------------------------------------

    /// <summary>
    /// Four cultures on a line: culture i's tokens peak at token 4i of 16, so token divergence grows with |i − j|, and
    /// the gain falls with it. Eight one-file pieces of 60 frames each, drawn from a seeded generator.
    /// </summary>
    static (TokenStatistics Stats, List<TransferGain> Gains) Separated(Fixtures.TempDir dir, bool pieceColumn)
    {
        const int K = 16, Cultures = 4, Pieces = 8, Frames = 60;
        var random = new Random(11);
        var labels = new List<string> { pieceColumn ? "path,culture,track" : "path,culture" };
        for (var c = 0; c < Cultures; c++)
        {
            var weights = Enumerable.Range(0, K).Select(t => Math.Exp(-0.5 * Math.Pow((t - 4.0 * c) / 1.5, 2))).ToArray();
            for (var p = 0; p < Pieces; p++)
            {
                var row = Enumerable.Range(0, Frames).Select(_ => (long)Draw(random, weights)).ToArray();
                var name = $"c{c}-p{p}";
                WriteCodes(dir[$"codes/{name}.safetensors"], [row], dir[$"audio/{name}.wav"], K);
                labels.Add($"audio/{name}.wav,c{c}{(pieceColumn ? $",track{p}" : "")}");
            }
        }
        File.WriteAllText(dir["labels.csv"], string.Join("\n", labels) + "\n");
        var gains = (from a in Enumerable.Range(0, Cultures) from b in Enumerable.Range(0, Cultures)
                     select new TransferGain($"c{a}", $"c{b}", 0.1 - 0.03 * Math.Abs(a - b) + 0.001 * a)).ToList();
        return (TokenStatistics.Compute([dir["codes"]], dir["labels.csv"], keepPieces: true), gains);
    }

    static int Draw(Random random, double[] weights)
    {
        var u = random.NextDouble() * weights.Sum();
        for (var i = 0; i < weights.Length; i++) if ((u -= weights[i]) < 0) return i;
        return weights.Length - 1;
    }

    [Fact]
    public void Bootstrap_WellSeparated_IntervalHoldsEstimateAndSeedReproducesIt()
    {
        using var dir = new Fixtures.TempDir();
        var (stats, gains) = Separated(dir, pieceColumn: true);
        var result = TokenTransfer.Analyze(stats, gains, bootstrap: 200, seed: 7);
        foreach (var c in result.Correlations)
        {
            Assert.Equal(12, c.Pairs);
            Assert.True(c.Rho < -0.5, $"{c.Measure.Name}: rho {c.Rho}");
            Assert.InRange(c.Rho, c.Low, c.High);
            Assert.True(c.High < 0, $"{c.Measure.Name}: interval [{c.Low}, {c.High}]");
            Assert.True(c.Low < c.High);
        }
        var again = TokenTransfer.Analyze(stats, gains, bootstrap: 200, seed: 7);
        Assert.Equal(result.Correlations, again.Correlations);                       // records: every field equal
        var other = TokenTransfer.Analyze(stats, gains, bootstrap: 200, seed: 8);
        Assert.Equal(result.Correlations.Select(c => c.Rho), other.Correlations.Select(c => c.Rho));   // the estimate has no randomness
    }

    [Fact]
    public void Resamples_SameSeed_SameDraws_AndEachDrawsEveryCulturesCount()
    {
        var a = TokenTransfer.Resamples([3, 5], 10, seed: 3);
        var b = TokenTransfer.Resamples([3, 5], 10, seed: 3);
        Assert.Equal(a.SelectMany(r => r.SelectMany(w => w)), b.SelectMany(r => r.SelectMany(w => w)));
        Assert.All(a, r => { Assert.Equal(3, r[0].Sum()); Assert.Equal(5, r[1].Sum()); });
    }

    // ---- pieces ----------------------------------------------------------------------------------------------------------

    [Fact]
    public void Labels_NoPieceColumn_EachFileIsItsOwnPiece()
    {
        using var dir = new Fixtures.TempDir();
        var (stats, _) = Separated(dir, pieceColumn: false);
        Assert.All(stats.Cultures, c =>
        {
            Assert.Equal(8, stats.Pieces(c).Count);
            Assert.All(stats.Pieces(c), p => Assert.Equal(1, p.Files));
        });
    }

    [Fact]
    public void Pieces_TwoFilesOfOneTrack_SumCountsButNoPairAcrossFiles()
    {
        using var dir = new Fixtures.TempDir();
        const int K = 4;
        File.WriteAllText(dir["labels.csv"], "path,culture,track\na1.wav,lyra,song\na2.wav,lyra,song\na3.wav,lyra,\nb1.wav,makam,song\n");
        WriteCodes(dir["c/a1.safetensors"], [[0, 1, 1, 2]], dir["a1.wav"], K);
        WriteCodes(dir["c/a2.safetensors"], [[1, 0]], dir["a2.wav"], K);
        WriteCodes(dir["c/a3.safetensors"], [[2, 2]], dir["a3.wav"], K);               // empty track: a piece of its own
        WriteCodes(dir["c/b1.safetensors"], [[3, 3]], dir["b1.wav"], K);               // same name, other culture: another piece
        var stats = TokenStatistics.Compute([dir["c"]], dir["labels.csv"], keepPieces: true);

        var lyra = stats.Pieces("lyra");
        Assert.Equal(2, lyra.Count);
        var song = lyra.Single(p => p.Name == "song");
        Assert.Equal((2, 6L), (song.Files, song.Frames));
        Assert.Equal([0, 1, 2], song.Unigrams[0].Keys.ToArray());
        Assert.Equal([2, 3, 1], song.Unigrams[0].Counts.ToArray());
        // a1: (0, 1), (1, 1), (1, 2); a2: (1, 0); a1's last frame → a2's first is no pair, so (2, 1) never occurs
        Assert.Equal([0 * K + 1, 1 * K + 0, 1 * K + 1, 1 * K + 2], song.Bigrams[0].Keys.ToArray());
        Assert.Equal([1, 1, 1, 1], song.Bigrams[0].Counts.ToArray());
        Assert.Equal(0, song.Bigrams[0][2 * K + 1]);
        Assert.Equal(4, song.Bigrams[0].Total);
        Assert.Equal(dir["a3.wav"], lyra.Single(p => p.Name != "song").Name);
        Assert.Single(stats.Pieces("makam"));
        Assert.Throws<InvalidOperationException>(() => TokenStatistics.Compute([dir["c"]], dir["labels.csv"]).Pieces("lyra"));
    }

    // ---- errors ----------------------------------------------------------------------------------------------------------

    [Fact]
    public void ReadCsv_BadFiles_ErrorsNameFileAndLine()
    {
        using var dir = new Fixtures.TempDir();
        string Error(string text)
        {
            File.WriteAllText(dir["gains.csv"], text);
            return Assert.Throws<InvalidDataException>(() => TransferGain.ReadCsv(dir["gains.csv"])).Message;
        }
        var missing = Error("model_culture,task,gain\na,b,0.1\n");
        Assert.Contains("gains.csv:1: missing column(s) task_culture", missing);
        var number = Error("model_culture,task_culture,gain\na,b,0.1\nb,a,zero\n");
        Assert.Contains("gains.csv:3: column 'gain': 'zero' is not a number", number);
        Assert.Contains("gains.csv:3: the pair a → b is already on line 2", Error("model_culture,task_culture,gain\na,b,0.1\na,b,0.2\n"));
        Assert.Contains("gains.csv:2: needs both", Error("model_culture,task_culture,gain\n,b,0.1\n"));
        Assert.Contains("gains.csv:2: 2 fields", Error("model_culture,task_culture,gain\na,b\n"));
        Assert.Throws<FileNotFoundException>(() => TransferGain.ReadCsv(dir["none.csv"]));

        File.WriteAllText(dir["gains.csv"], "gain,task_culture,model_culture,notes\n0.5,b,a,x\nnan,a,b,\n,a,a,\n");   // column order is free
        var gains = TransferGain.ReadCsv(dir["gains.csv"]);
        Assert.Equal(new TransferGain("a", "b", 0.5), gains[0]);
        Assert.True(double.IsNaN(gains[1].Gain) && double.IsNaN(gains[2].Gain));    // not measured: kept, not correlated
    }

    [Fact]
    public void Analyze_UnknownCulture_ErrorNamesIt()
    {
        using var dir = new Fixtures.TempDir();
        var (stats, _) = Separated(dir, pieceColumn: false);
        var e = Assert.Throws<InvalidDataException>(() => TokenTransfer.Analyze(stats, [new("c0", "zeta", 0.1), new("eta", "c1", 0.2)]));
        Assert.Contains("'eta', 'zeta'", e.Message);
        Assert.Contains("'c0'", e.Message);                                           // and says which cultures there are
    }

    // ---- outputs and the CLI -----------------------------------------------------------------------------------------------

    [Fact]
    public void TokensStats_WithTransfer_WritesTablesPlotsAndFlagsFewPairs()
    {
        using var dir = new Fixtures.TempDir();
        const int K = 8;
        File.WriteAllText(dir["labels.csv"], "path,culture,piece\na1.wav,lyra,x\na2.wav,lyra,y\nb1.wav,makam,z\nb2.wav,makam,z\n");
        WriteCodes(dir["c/a1.safetensors"], [Repeat(20, 0, 1, 2), Repeat(20, 3, 4)], dir["a1.wav"], K);
        WriteCodes(dir["c/a2.safetensors"], [Repeat(15, 1, 2), Repeat(15, 4)], dir["a2.wav"], K);
        WriteCodes(dir["c/b1.safetensors"], [Repeat(20, 5, 6), Repeat(20, 3, 7)], dir["b1.wav"], K);
        WriteCodes(dir["c/b2.safetensors"], [Repeat(10, 2, 6), Repeat(10, 7)], dir["b2.wav"], K);
        File.WriteAllText(dir["gains.csv"], "model_culture,task_culture,gain\nlyra,makam,0.01\nmakam,lyra,0.03\nlyra,lyra,0.1\nmakam,makam,0.2\n");

        var rc = CliApp.Run(["tokens", "stats", "--codes", dir["c"], "--labels", dir["labels.csv"], "--out", dir["out"], "--transfer", dir["gains.csv"], "--bootstrap", "50"]);
        Assert.Equal(0, rc);

        var pairs = Csv.Read(dir["out/transfer-pairs.csv"]);
        Assert.Equal(["model_culture", "task_culture", "gain", "jsd", "jsd_bigram", "kl"], pairs.Header);
        Assert.Equal(["lyra→lyra", "lyra→makam", "makam→lyra", "makam→makam"], pairs.Rows.Select(r => $"{r[0]}→{r[1]}"));
        Assert.Equal("0", pairs.Rows[0][3]);                                           // a culture against itself
        Assert.NotEqual(pairs.Rows[1][5], pairs.Rows[2][5]);                           // KL is directional, JSD is not
        Assert.Equal(pairs.Rows[1][3], pairs.Rows[2][3]);
        var correlation = Csv.Read(dir["out/transfer-correlation.csv"]);
        Assert.Equal(["measure", "spearman_rho", "ci95_low", "ci95_high", "pairs", "bootstrap", "interval_meaningful"], correlation.Header);
        Assert.Equal(["jsd", "jsd-bigram", "kl"], correlation.Rows.Select(r => r[0]));
        Assert.All(correlation.Rows, r => Assert.Equal(["50", "false"], r.Fields[5..]));
        Assert.Equal("2", correlation.Rows[2][4]);                                     // two off-diagonal pairs: flagged, still computed
        foreach (var measure in TokenDivergence.All) AssertPng(dir[$"out/{TokenTransferResult.PlotFile(measure)}"]);
        var markdown = File.ReadAllText(dir["out/transfer.md"]);
        Assert.Contains("](transfer-vs-jsd-bigram.png)", markdown);
        Assert.Contains("†", markdown);
        Assert.Contains("not a causal claim", markdown);
        Assert.Empty(Directory.EnumerateFiles(dir["out"], ".cmtmp.*"));

        File.WriteAllText(dir["gains.csv"], "model_culture,task_culture,gain\nlyra,carnatic,0.01\n");
        Assert.Equal(3, CliApp.Run(["tokens", "stats", "--codes", dir["c"], "--labels", dir["labels.csv"], "--out", dir["out2"], "--transfer", dir["gains.csv"]]));
        Assert.Equal(2, CliApp.Run(["tokens", "stats", "--codes", dir["c"], "--labels", dir["labels.csv"], "--out", dir["out2"], "--transfer", dir["gains.csv"], "--bootstrap", "-1"]));
    }

    [Fact]
    public void Markdown_ImageFolder_PrefixesLinks()
    {
        using var dir = new Fixtures.TempDir();
        var (stats, gains) = Separated(dir, pieceColumn: false);
        var result = TokenTransfer.Analyze(stats, gains, bootstrap: 10);
        var text = result.Markdown("tokens/", headingLevel: 3);
        Assert.StartsWith("### ", text);
        foreach (var measure in TokenDivergence.All) Assert.Contains($"](tokens/{TokenTransferResult.PlotFile(measure)})", text);
        Assert.Contains("| c0→c1 |", text);
        Assert.Contains("c0 8 (8 files)", text);
    }
}
