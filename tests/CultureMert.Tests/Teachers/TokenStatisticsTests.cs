using System.Globalization;
using System.Text.Json.Nodes;
using CultureMert.Checkpoints;
using CultureMert.Cli;
using CultureMert.Batch;
using CultureMert.Reports;
using CultureMert.Teachers;
using static TorchSharp.torch;
using CultureMert.IO;

namespace CultureMert.Tests.Teachers;

public class TokenStatisticsTests
{
    const double Tol = 1e-12;

    // ---- the maths -------------------------------------------------------------------------------------------

    [Fact]
    public void JensenShannon_DisjointSupports_IsOneBit()
    {
        Assert.Equal(1.0, TokenStatistics.JensenShannon([0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]), Tol);
        Assert.Equal(1.0, TokenStatistics.JensenShannon([2, 2, 0, 0], [0, 0, 7, 7]), Tol);   // counts are normalised first
    }

    [Fact]
    public void JensenShannon_Identical_IsZero()
    {
        Assert.Equal(0.0, TokenStatistics.JensenShannon([0.25, 0.25, 0.5, 0], [0.25, 0.25, 0.5, 0]), Tol);
        Assert.Equal(0.0, TokenStatistics.JensenShannon([1, 1, 2, 0], [3, 3, 6, 0]), Tol);    // same distribution, other totals
    }

    [Fact]
    public void JensenShannon_WorkedExample_MatchesHandComputation()
    {
        // P = [1/2, 1/2], Q = [1, 0], M = [3/4, 1/4].
        // KL(P‖M) = ½ log2(½ / ¾) + ½ log2(½ / ¼) = ½ (1 − log2 3) + ½ = 1 − ½ log2 3
        // KL(Q‖M) = 1 · log2(1 / ¾) + 0 · log2(0 / ¼) = 2 − log2 3          (the 0·log 0 term is 0)
        // JSD = ½ (1 − ½ log2 3) + ½ (2 − log2 3) = 3/2 − ¾ log2 3 = 0.311278124459133...
        var expected = 1.5 - 0.75 * Math.Log2(3);
        Assert.Equal(0.311278124459133, expected, 1e-14);
        Assert.Equal(expected, TokenStatistics.JensenShannon([0.5, 0.5], [1, 0]), Tol);
        Assert.Equal(expected, TokenStatistics.JensenShannon([1, 0], [0.5, 0.5]), Tol);       // symmetric
    }

    [Fact]
    public void JensenShannon_ZeroProbabilities_ContributeNothing()
    {
        // P = [½, ½, 0, 0], Q = [½, 0, ½, 0], M = [½, ¼, ¼, 0]: KL(P‖M) = ½ log2 1 + ½ log2 2 = ½ = KL(Q‖M), JSD = ½.
        // The token no culture uses (M = 0) must add 0, not NaN.
        var jsd = TokenStatistics.JensenShannon([0.5, 0.5, 0, 0], [0.5, 0, 0.5, 0]);
        Assert.Equal(0.5, jsd, Tol);
        Assert.Equal(0.0, TokenStatistics.JensenShannon([1, 0, 0], [1, 0, 0]), Tol);
        Assert.True(double.IsNaN(TokenStatistics.JensenShannon([0, 0], [1, 0])));            // an empty histogram has no distribution
    }

    [Fact]
    public void Cosine_KnownVectors_MatchesHandComputation()
    {
        Assert.Equal(24.0 / 25.0, TokenStatistics.Cosine([3, 4, 0], [4, 3, 0]), Tol);        // (12 + 12) / (5 · 5)
        Assert.Equal(1 / Math.Sqrt(2), TokenStatistics.Cosine([1, 1], [2, 0]), Tol);          // 2 / (√2 · 2)
        Assert.Equal(0.0, TokenStatistics.Cosine([1, 0, 0], [0, 0, 5]), Tol);
        Assert.Equal(1.0, TokenStatistics.Cosine([1, 2, 3], [2, 4, 6]), Tol);
        Assert.True(double.IsNaN(TokenStatistics.Cosine([0, 0], [1, 0])));
    }

    // ---- reading token files -----------------------------------------------------------------------------------

    /// <summary>A token file as `culturemert tokenize` writes it: codes (n_q, T) int64 and the metadata.</summary>
    internal static void WriteCodes(string path, long[][] codes, string source, int codebookSize, int? codebooksMeta = null)
    {
        var (nq, t) = (codes.Length, codes[0].Length);
        using var codesTensor = tensor(codes.SelectMany(r => r).ToArray(), [nq, t]);
        SafeTensors.Save(path, [KeyValuePair.Create("codes", codesTensor)], new Dictionary<string, string>
        {
            ["codebook_size"] = codebookSize.ToString(CultureInfo.InvariantCulture),
            ["codebooks"] = (codebooksMeta ?? nq).ToString(CultureInfo.InvariantCulture),
            ["source"] = source,
        });
    }

    internal static long[] Repeat(int length, params long[] pattern) => Enumerable.Range(0, length).Select(i => pattern[i % pattern.Length]).ToArray();

    [Fact]
    public void Add_LabelsByFullPathAndFileName_GroupsCulturesAndCountsUnlabeled()
    {
        using var dir = new Fixtures.TempDir();
        File.WriteAllText(dir["labels.csv"], "path,culture\naudio/a1.wav,makam\nelsewhere/b1.mp3,lyra\naudio/a2.wav,\n");
        WriteCodes(dir["codes/a1.safetensors"], [Repeat(4, 0, 1), Repeat(4, 2)], dir["audio/a1.wav"], 4);       // full path
        WriteCodes(dir["codes/b1.safetensors"], [Repeat(6, 3), Repeat(6, 1, 2, 3)], "/other/disk/b1.flac", 4);  // name only
        WriteCodes(dir["codes/a2.safetensors"], [Repeat(5, 0), Repeat(5, 0)], dir["audio/a2.wav"], 4);          // empty culture
        WriteCodes(dir["codes/c9.safetensors"], [Repeat(5, 0), Repeat(5, 0)], dir["audio/c9.wav"], 4);          // no row

        var stats = TokenStatistics.Compute([dir["codes"]], dir["labels.csv"]);   // no index.csv: every .safetensors

        Assert.Equal(["lyra", "makam"], stats.Cultures);
        Assert.Equal((1, 4L), stats.Size("makam"));
        Assert.Equal((1, 6L), stats.Size("lyra"));
        Assert.Equal([2L, 2, 0, 0], stats.Counts("makam", 0));
        Assert.Equal([0L, 0, 4, 0], stats.Counts("makam", 1));
        Assert.Equal([0L, 0, 0, 6], stats.Counts("lyra", 0));
        Assert.Equal([0L, 2, 2, 2], stats.Counts("lyra", 1));
        Assert.Equal(2, stats.UnlabeledFiles);
        Assert.Equal(0, stats.DuplicateFiles);
        // codebook 0: makam [½, ½, 0, 0] vs lyra [0, 0, 0, 1] share no token: 1 bit, orthogonal counts
        Assert.Equal((1.0, 0.0), stats.Compare("makam", "lyra", 0));
    }

    [Fact]
    public void Labels_SameFileNameTwoCultures_MatchesByFullPathOnly()
    {
        using var dir = new Fixtures.TempDir();
        File.WriteAllText(dir["labels.csv"], "culture,path\nlyra,x/song.wav\nmakam,y/song.wav\n");   // column order is free
        var labels = new CultureLabels(dir["labels.csv"]);
        Assert.Equal("lyra", labels.Find(dir["x/song.wav"]));
        Assert.Equal("makam", labels.Find(dir["y/song.wav"]));
        Assert.Null(labels.Find("/elsewhere/song.wav"));                          // ambiguous name: no guess
    }

    [Fact]
    public void Labels_OneFileTwoCultures_ErrorNamesLine()
    {
        using var dir = new Fixtures.TempDir();
        File.WriteAllText(dir["labels.csv"], "path,culture\na.wav,lyra\na.wav,makam\n");
        var e = Assert.Throws<InvalidDataException>(() => new CultureLabels(dir["labels.csv"]));
        Assert.Contains("labels.csv:3", e.Message);
        Assert.Contains("'lyra' and 'makam'", e.Message);
        File.WriteAllText(dir["labels.csv"], "file,culture\na.wav,lyra\n");
        Assert.Contains("'path' and 'culture'", Assert.Throws<InvalidDataException>(() => new CultureLabels(dir["labels.csv"])).Message);
    }

    [Fact]
    public void Add_CodebookSizeDiffers_ErrorNamesBothFiles()
    {
        using var dir = new Fixtures.TempDir();
        File.WriteAllText(dir["labels.csv"], "path,culture\na.wav,lyra\nb.wav,makam\n");
        WriteCodes(dir["c/a.safetensors"], [Repeat(3, 0), Repeat(3, 1)], dir["a.wav"], 1024);
        WriteCodes(dir["c/b.safetensors"], [Repeat(3, 0), Repeat(3, 1)], dir["b.wav"], 2048);
        var e = Assert.Throws<InvalidDataException>(() => TokenStatistics.Compute([dir["c"]], dir["labels.csv"]));
        Assert.Contains("b.safetensors", e.Message);
        Assert.Contains("a.safetensors", e.Message);
        Assert.Contains("2048", e.Message);
    }

    [Fact]
    public void Add_CodebookCountDiffers_ErrorNamesFile()
    {
        using var dir = new Fixtures.TempDir();
        File.WriteAllText(dir["labels.csv"], "path,culture\na.wav,lyra\nb.wav,makam\n");
        WriteCodes(dir["c/a.safetensors"], [Repeat(3, 0), Repeat(3, 1)], dir["a.wav"], 8);
        WriteCodes(dir["c/b.safetensors"], [Repeat(3, 0), Repeat(3, 1), Repeat(3, 1)], dir["b.wav"], 8);
        var e = Assert.Throws<InvalidDataException>(() => TokenStatistics.Compute([dir["c"]], dir["labels.csv"]));
        Assert.Contains("b.safetensors: 3 codebooks", e.Message);
    }

    [Fact]
    public void Add_MalformedTokenFiles_ErrorsNameFileAndProblem()
    {
        using var dir = new Fixtures.TempDir();
        File.WriteAllText(dir["labels.csv"], "path,culture\na.wav,lyra\n");
        var stats = new TokenStatistics(new CultureLabels(dir["labels.csv"]));

        WriteCodes(dir["shape.safetensors"], [Repeat(3, 0), Repeat(3, 1)], dir["a.wav"], 8, codebooksMeta: 4);
        Assert.Contains("shape.safetensors: codes have shape [2, 3], expected [4, frames]",
            Assert.Throws<InvalidDataException>(() => stats.Add(dir["shape.safetensors"])).Message);

        WriteCodes(dir["range.safetensors"], [Repeat(3, 0), Repeat(3, 8)], dir["a.wav"], 8);
        Assert.Contains("range.safetensors: codebook 1 holds token 8, outside 0..7",
            Assert.Throws<InvalidDataException>(() => stats.Add(dir["range.safetensors"])).Message);

        using (var t = tensor(new long[] { 0, 1 }, [1, 2]))
            SafeTensors.Save(dir["nometa.safetensors"], [KeyValuePair.Create("codes", t)], new Dictionary<string, string> { ["source"] = "a.wav" });
        Assert.Contains("nometa.safetensors: metadata 'codebook_size' is missing",
            Assert.Throws<InvalidDataException>(() => stats.Add(dir["nometa.safetensors"])).Message);

        using (var t = zeros(2, 2))
            SafeTensors.Save(dir["emb.safetensors"], [KeyValuePair.Create("layer_0", t)]);
        Assert.Contains("emb.safetensors: no 'codes' tensor", Assert.Throws<InvalidDataException>(() => stats.Add(dir["emb.safetensors"])).Message);
    }

    [Fact]
    public void Compute_NoFileLabelled_ErrorSaysWhat()
    {
        using var dir = new Fixtures.TempDir();
        File.WriteAllText(dir["labels.csv"], "path,culture\nzzz.wav,lyra\n");
        WriteCodes(dir["c/a.safetensors"], [Repeat(3, 0)], dir["a.wav"], 8);
        var e = Assert.Throws<InvalidDataException>(() => TokenStatistics.Compute([dir["c"]], dir["labels.csv"]));
        Assert.Contains("no token file", e.Message);
        Assert.Contains("1 unlabeled", e.Message);
    }

    [Fact]
    public void Heatmap_NaNAndOneCell_WritesPng()
    {
        using var dir = new Fixtures.TempDir();
        Heatmap.SavePng(dir["one.png"], "one", ["a"], ["a"], new double[,] { { 0 } }, "0.00");
        Heatmap.SavePng(dir["nan.png"], "nan", ["a", "b"], ["x", "y"], new double[,] { { double.NaN, 1 }, { 2, 3 } }, "0.00");
        AssertPng(dir["one.png"]);
        AssertPng(dir["nan.png"]);
        Assert.Throws<ArgumentException>(() => Heatmap.SavePng(dir["bad.png"], "bad", ["a"], ["x", "y"], new double[2, 2], "0"));
    }

    // ---- end to end -------------------------------------------------------------------------------------------

    /// <summary>
    /// Three synthetic cultures, codebook size 8, 2 codebooks, spread over two token folders (one with an index, one
    /// without) plus an unlabeled file and a failed index row; the CLI's CSV and JSON must agree with counts and
    /// divergences computed here from the token arrays directly (JSD through the entropy form H(M) − ½H(P) − ½H(Q),
    /// independent of the library's KL form).
    /// </summary>
    [Fact]
    public void TokensStats_ThreeCultures_OutputsMatchIndependentComputation()
    {
        using var dir = new Fixtures.TempDir();
        const int K = 8, Nq = 2;
        var files = new (string Name, string Culture, long[][] Codes)[]
        {
            ("lyra1", "lyra", [Repeat(40, 0, 1, 2, 3), Repeat(40, 0, 0, 1)]),
            ("lyra2", "lyra", [Repeat(20, 0, 1), Repeat(20, 5)]),
            ("makam1", "makam", [Repeat(30, 2, 3, 4, 5), Repeat(30, 0, 1, 6)]),
            ("makam2", "makam", [Repeat(10, 7), Repeat(10, 6, 7)]),
            ("carnatic1", "carnatic", [Repeat(50, 4, 5, 6, 7, 7), Repeat(50, 1, 2, 3, 4, 5)]),
        };
        var labels = new List<string> { "path,culture" };
        var index = new List<string> { Manifest.IndexHeader("frames") };
        foreach (var (name, culture, codes) in files)
        {
            var inA = name != "carnatic1";                                           // carnatic lives in the folder without an index
            var folder = inA ? "codes-a" : "codes-b";
            var audio = dir[$"audio/{culture}/{name}.wav"];
            WriteCodes(dir[$"{folder}/{culture}/{name}.safetensors"], codes, audio, K);
            if (inA) index.Add($"{audio},{culture}/{name}.safetensors,1.0,1,ok,");
            labels.Add($"audio/{culture}/{name}.wav,{culture}");
        }
        WriteCodes(dir["codes-a/unknown.safetensors"], [Repeat(9, 1), Repeat(9, 1)], dir["audio/unknown.wav"], K);
        index.Add($"{dir["audio/unknown.wav"]},unknown.safetensors,1.0,1,ok,");
        index.Add($"{dir["audio/broken.wav"]},broken.safetensors,,,error,\"broken.wav: could not decode\"");   // not read
        File.WriteAllText(dir["codes-a/index.csv"], string.Join("\n", index) + "\n");
        File.WriteAllText(dir["labels.csv"], string.Join("\n", labels) + "\n");

        var rc = CliApp.Run(["tokens", "stats", "--codes", dir["codes-a"], dir["codes-b"], "--labels", dir["labels.csv"], "--out", dir["out"]]);
        Assert.Equal(0, rc);

        // Expected counts and statistics, straight from the arrays.
        string[] cultures = ["carnatic", "lyra", "makam"];
        var counts = cultures.ToDictionary(c => c, _ => new double[Nq, K]);
        foreach (var (_, culture, codes) in files)
            for (var q = 0; q < Nq; q++)
                foreach (var t in codes[q]) counts[culture][q, t]++;
        double[] Row(string c, int q) => Enumerable.Range(0, K).Select(t => counts[c][q, t]).ToArray();
        static double H(double[] p) => -p.Where(x => x > 0).Sum(x => x * Math.Log2(x));
        static double[] Norm(double[] c) => c.Select(x => x / c.Sum()).ToArray();
        static double Jsd(double[] a, double[] b)
        {
            var (p, q) = (Norm(a), Norm(b));
            return H(p.Zip(q, (x, y) => (x + y) / 2).ToArray()) - H(p) / 2 - H(q) / 2;
        }
        static double Cos(double[] a, double[] b) => a.Zip(b, (x, y) => x * y).Sum() / Math.Sqrt(a.Sum(x => x * x) * b.Sum(x => x * x));

        // histograms.csv: every non-zero count, nothing else
        var hist = Csv.Read(dir["out/histograms.csv"]);
        Assert.Equal(["culture", "codebook", "token", "count", "probability"], hist.Header);
        var rows = hist.Rows;
        Assert.Equal(cultures.Sum(c => Enumerable.Range(0, Nq).Sum(q => Row(c, q).Count(x => x > 0))), rows.Count);
        foreach (var r in rows)
        {
            var (c, q, t) = (r[0], int.Parse(r[1], CultureInfo.InvariantCulture), int.Parse(r[2], CultureInfo.InvariantCulture));
            Assert.Equal(counts[c][q, t], double.Parse(r[3], CultureInfo.InvariantCulture));
            Assert.Equal(counts[c][q, t] / Row(c, q).Sum(), double.Parse(r[4], CultureInfo.InvariantCulture), 1e-12);
        }

        // divergence.csv: every pair once, per codebook and the mean
        var div = Csv.Read(dir["out/divergence.csv"]).Rows;
        Assert.Equal(3 * (Nq + 1), div.Count);
        foreach (var r in div)
        {
            var (a, b) = (r[0], r[1]);
            Assert.True(string.CompareOrdinal(a, b) < 0, $"{a},{b}");
            var jsd = r[2] == "mean" ? Enumerable.Range(0, Nq).Average(q => Jsd(Row(a, q), Row(b, q))) : Jsd(Row(a, int.Parse(r[2])), Row(b, int.Parse(r[2])));
            var cos = r[2] == "mean" ? Enumerable.Range(0, Nq).Average(q => Cos(Row(a, q), Row(b, q))) : Cos(Row(a, int.Parse(r[2])), Row(b, int.Parse(r[2])));
            Assert.Equal(jsd, double.Parse(r[3], CultureInfo.InvariantCulture), 1e-12);
            Assert.Equal(cos, double.Parse(r[4], CultureInfo.InvariantCulture), 1e-12);
            Assert.InRange(jsd, 0, 1);
        }
        // lyra's first codebook uses tokens 0..3, carnatic's 4..7: disjoint, one full bit
        Assert.Equal(1.0, double.Parse(div.Single(r => r[0] == "carnatic" && r[1] == "lyra" && r[2] == "0")[3], CultureInfo.InvariantCulture), 1e-12);

        // summary.json
        var summary = JsonNode.Parse(File.ReadAllText(dir["out/summary.json"]))!;
        Assert.Equal(cultures, summary["cultures"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal(K, summary["codebook_size"]!.GetValue<int>());
        Assert.Equal(Nq, summary["codebooks"]!.GetValue<int>());
        Assert.Equal(1, summary["unlabeled_files"]!.GetValue<int>());
        Assert.Equal(2, summary["per_culture"]!["lyra"]!["files"]!.GetValue<int>());
        Assert.Equal(60, summary["per_culture"]!["lyra"]!["frames"]!.GetValue<long>());
        Assert.Equal(40, summary["per_culture"]!["makam"]!["frames"]!.GetValue<long>());
        Assert.Equal(50, summary["per_culture"]!["carnatic"]!["frames"]!.GetValue<long>());
        var jsdMean = summary["jsd_mean"]!.AsArray();
        for (var i = 0; i < 3; i++)
            for (var j = 0; j < 3; j++)
            {
                var expected = Enumerable.Range(0, Nq).Average(q => Jsd(Row(cultures[i], q), Row(cultures[j], q)));
                Assert.Equal(expected, jsdMean[i]![j]!.GetValue<double>(), 1e-12);
                Assert.Equal(Enumerable.Range(0, Nq).Average(q => Cos(Row(cultures[i], q), Row(cultures[j], q))),
                    summary["cosine_mean"]![i]![j]!.GetValue<double>(), 1e-12);
            }
        Assert.Equal(Nq, summary["jsd_by_codebook"]!.AsArray().Count);

        AssertPng(dir["out/jsd-heatmap.png"]);
        AssertPng(dir["out/cosine-heatmap.png"]);
        Assert.Empty(Directory.EnumerateFiles(dir["out"], ".cmtmp.*"));                 // atomic writes leave no temporaries
    }

    [Fact]
    public void TokensStats_MissingCodesFolder_ExitsWithError()
    {
        using var dir = new Fixtures.TempDir();
        File.WriteAllText(dir["labels.csv"], "path,culture\na.wav,lyra\n");
        Assert.Equal(3, CliApp.Run(["tokens", "stats", "--codes", dir["nope"], "--labels", dir["labels.csv"], "--out", dir["out"]]));
    }

    /// <summary>PNG signature, and an IHDR size that a culture × culture heatmap with labels needs.</summary>
    internal static void AssertPng(string path)
    {
        var bytes = File.ReadAllBytes(path);
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, bytes[..8]);
        var width = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16, 4));
        var height = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20, 4));
        Assert.InRange(width, 300, 4000);
        Assert.InRange(height, 300, 4000);
        Assert.True(bytes.Length > 5_000, $"{path}: only {bytes.Length} bytes");
    }
}
