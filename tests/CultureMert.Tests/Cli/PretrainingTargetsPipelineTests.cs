using CultureMert.IO;
using CultureMert.Audio;
using CultureMert.Batch;
using CultureMert.Checkpoints;
using CultureMert.Cli;
using CultureMert.Corpus;
using TorchSharp;

namespace CultureMert.Tests.Cli;

/// <summary>The self-contained target pipeline through the CLI: teacher fit-kmeans → tokenize → tokens stats.</summary>
public class PretrainingTargetsPipelineTests
{
    [Fact]
    public void Cli_FitKmeansTokenizeStats_ProducesAlignedCodesAndCultureMatrices()
    {
        using var dir = new Fixtures.TempDir();
        var lengths = new Dictionary<string, int>();
        foreach (var piece in DemoAudio.Pieces)
        {
            var shortPiece = piece with { Seconds = 2.0 };
            var audio = DemoAudio.Render(shortPiece, seed: 2);
            AudioFile.WriteWav(dir[$"audio/{piece.Name}.wav"], audio, shortPiece.SampleRate);
            lengths[piece.Name] = (int)Math.Ceiling(24000.0 * audio.Length / shortPiece.SampleRate);   // torchaudio's resampled length
        }
        Assert.Equal(0, CliApp.Run(["teacher", "fit-kmeans", "--k", "4", "--out", dir["km.safetensors"], dir["audio"]]));
        Assert.Equal(0, CliApp.Run(["tokenize", "--teacher", "kmeans:" + dir["km.safetensors"], "--out", dir["tok"], dir["audio"]]));
        foreach (var (name, samples) in lengths)
        {
            var codes = SafeTensors.LoadTensor(dir[$"tok/{name}.safetensors"], "codes");
            Assert.Equal(new long[] { 1, (samples - 400) / 320 + 1 }, codes.shape);   // MERT-v1's frame count for those samples
            Assert.InRange(codes.min().item<long>(), 0, 3);
            Assert.InRange(codes.max().item<long>(), 0, 3);
        }
        Assert.Equal(3, Manifest.ReadIndex(dir["tok/index.csv"]).Count(r => r.Status == "ok"));

        File.WriteAllText(dir["labels.csv"], "path,culture\n" + string.Join("\n", DemoAudio.Pieces.Select(p => $"audio/{p.Name}.wav,{p.Name.Split('-')[0]}")) + "\n");
        Assert.Equal(0, CliApp.Run(["tokens", "stats", "--codes", dir["tok"], "--labels", dir["labels.csv"], "--out", dir["stats"]]));
        // Independent check: JSD from the token files' own histograms, via entropies (H(m) − (H(p) + H(q))/2, bits).
        double[] Histogram(string name)
        {
            var codes = SafeTensors.LoadTensor(dir[$"tok/{name}.safetensors"], "codes").data<long>().ToArray();
            return Enumerable.Range(0, 4).Select(t => codes.Count(c => c == t) / (double)codes.Length).ToArray();
        }
        static double H(IEnumerable<double> p) => -p.Where(x => x > 0).Sum(x => x * Math.Log2(x));
        var table = Csv.Read(dir["stats/divergence.csv"]);
        var header = table.Header.ToList();
        var pairs = table.Rows.Where(r => r.Count == header.Count && r[header.IndexOf("codebook")] == "mean").ToList();
        Assert.Equal(3, pairs.Count);                                                  // the three unordered culture pairs
        var byCulture = DemoAudio.Pieces.ToDictionary(p => p.Name.Split('-')[0], p => Histogram(p.Name));
        foreach (var r in pairs)
        {
            var (p, q) = (byCulture[r[header.IndexOf("culture_a")]], byCulture[r[header.IndexOf("culture_b")]]);
            var expected = H(p.Zip(q, (x, y) => (x + y) / 2)) - (H(p) + H(q)) / 2;
            Assert.Equal(expected, double.Parse(r[header.IndexOf("jsd")], System.Globalization.CultureInfo.InvariantCulture), 9);
        }
        Assert.True(File.Exists(dir["stats/jsd-heatmap.png"]));
    }
}
