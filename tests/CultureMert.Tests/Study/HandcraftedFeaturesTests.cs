using System.Text.Json.Nodes;
using CultureMert.Study;
using static TorchSharp.torch;

namespace CultureMert.Tests.Study;

/// <summary>The hand-crafted rung: MFCCs as SciPy's orthonormal DCT-II (fixtures/handcrafted/dct_golden.py), and the
/// per-chunk statistics in embed's output format, which the probe's data loader reads.</summary>
public class HandcraftedFeaturesTests
{
    [Fact]
    public void DctMatrix_MatchesScipyOrthonormalDct2()
    {
        var golden = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.Dir("handcrafted"), "scipy-dct.json")))!;
        var x = golden["x"]!.AsArray().Select(r => r!.AsArray().Select(v => (float)v!.GetValue<double>()).ToArray()).ToArray();
        using var input = tensor(x.SelectMany(r => r).ToArray(), [x.Length, x[0].Length]);
        using var dct = HandcraftedFeatures.DctMatrix(128, 20);
        using var mfcc = matmul(input, dct);
        var expected = golden["mfcc20"]!.AsArray().Select(r => r!.AsArray().Select(v => v!.GetValue<double>()).ToArray()).ToArray();
        for (var i = 0; i < expected.Length; i++)
            for (var j = 0; j < 20; j++)
                Assert.Equal(expected[i][j], mfcc[i, j].item<float>(), 1e-3);
    }

    [Fact]
    public void Embed_WritesChunkStatisticsThatTheProbeLoaderReads()
    {
        using var dir = new Fixtures.TempDir();
        var wav = dir["a.wav"];
        var samples = Enumerable.Range(0, 24000 * 3).Select(i => (float)(0.3 * Math.Sin(2 * Math.PI * 440 * i / 24000.0))).ToArray();
        CultureMert.Audio.AudioFile.WriteWav(wav, samples, 24000);
        HandcraftedFeatures.Embed([wav], dir["emb"], chunkSeconds: 1);
        var output = Assert.Single(Directory.GetFiles(dir["emb"], "*.safetensors"));
        var t = CultureMert.Checkpoints.SafeTensors.LoadTensor(output, "chunk_embeddings");
        Assert.Equal(new long[] { 4, 1, HandcraftedFeatures.Dimension }, t.shape);     // 3 s at 75 Hz = 226 frames: 3 chunks of 75 and one of 1
        // A steady A4: the chroma mean peaks at pitch class A (index 9) in every full chunk; stds of a steady tone are small.
        for (var c = 0; c < 3; c++)
        {
            var chroma = Enumerable.Range(0, 12).Select(k => t[c, 0, HandcraftedFeatures.Mfccs + k].item<float>()).ToArray();
            Assert.Equal(9, Array.IndexOf(chroma, chroma.Max()));
        }
        // Run again: the existing output is kept, not rewritten.
        var before = File.GetLastWriteTimeUtc(output);
        HandcraftedFeatures.Embed([wav], dir["emb"], chunkSeconds: 1);
        Assert.Equal(before, File.GetLastWriteTimeUtc(output));
    }
}
