using CultureMert.Audio;
using CultureMert.Batch;
using CultureMert.Checkpoints;
using CultureMert.Cli;
using CultureMert.Embedding;
using CultureMert.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Tests.Embedding;

/// <summary>
/// <c>--precision bf16</c> against the same torchaudio goldens as fp32 (tests/fixtures/mert-tiny*): bfloat16 keeps 8
/// mantissa bits (relative rounding 2⁻⁹ ≈ 0.2 % per value), so hidden states are held to a bf16 budget, not to 1e-4.
/// </summary>
public class PrecisionTests
{
    const double MaxRelativeL2 = 0.03;        // per hidden state, ‖bf16 − golden‖ / ‖golden‖
    const double MinPooledCosine = 0.999;     // per hidden state, cosine of the time-means (what probing sees)

    [Theory]
    [InlineData("mert-tiny")]
    [InlineData("mert-tiny-bin")]
    [InlineData("mert-tiny-preln")]
    [InlineData("mert-tiny-layernorm")]
    public void Bf16_HiddenStates_WithinBf16BudgetOfGolden(string fixture)
    {
        using var dir = new Fixtures.TempDir();
        var wav = dir["input.wav"];
        using (var waveform = Fixtures.Expected(fixture, "waveform"))
            AudioFile.WriteWav(wav, waveform.data<float>().ToArray(), 24000);      // float WAV: the samples exactly
        using var mert = MertCheckpoint.Load(Fixtures.Dir(fixture));
        using var result = new Embedder(mert, new EmbedOptions { Pool = Pooling.None, Precision = Precision.BFloat16 }).Embed(wav);
        Assert.Equal(ScalarType.BFloat16, mert.Model.parameters().First().dtype);  // it really ran in bf16
        Assert.Equal(ScalarType.Float32, result.HiddenStates!.dtype);               // outputs stay float32
        using var scope = NewDisposeScope();
        var expected = Fixtures.Expected(fixture, "hidden_states");                 // (layers + 1, frames, hidden)
        var actual = result.HiddenStates!;
        Assert.Equal(expected.shape, actual.shape);
        for (var l = 0; l < expected.size(0); l++)
        {
            var rel = ((actual[l] - expected[l]).norm() / expected[l].norm()).item<float>();
            var cos = nn.functional.cosine_similarity(actual[l].mean([0]), expected[l].mean([0]), dim: 0).item<float>();
            Assert.True(rel < MaxRelativeL2, $"{fixture}: hidden state {l}: relative L2 {rel:e2}");
            Assert.True(cos > MinPooledCosine, $"{fixture}: hidden state {l}: pooled cosine {cos:F6}");
        }
    }

    [Fact]
    public void Fp32_IsTheDefault_AndExact()
    {
        using var mert = MertCheckpoint.Load(Fixtures.Dir("mert-tiny"));
        using var result = new Embedder(mert, new EmbedOptions { Pool = Pooling.None }).Embed(Path.Combine(Fixtures.Dir("mert-tiny"), "input.wav"));
        Assert.Equal(ScalarType.Float32, mert.Model.parameters().First().dtype);
        Assert.True(Fixtures.MaxAbsDiff(result.HiddenStates!, Fixtures.Expected("mert-tiny", "hidden_states")) < 1e-4);
    }

    [Fact]
    public void Cli_Bf16Output_RecordsPrecision_AndAnFp32RerunRefusesToReuseIt()
    {
        using var dir = new Fixtures.TempDir();
        File.Copy(Path.Combine(Fixtures.Dir("mert-tiny"), "input.wav"), dir["a.wav"]);
        var outDir = dir["emb"];
        Assert.Equal(0, CliApp.Run(["embed", "--model", Fixtures.Dir("mert-tiny"), "--out", outDir, "--precision", "bf16", dir["a.wav"]]));
        var output = Path.Combine(outDir, "a.safetensors");
        Assert.Equal("bf16", SafeTensors.ReadHeader(output).Metadata["precision"]);
        var bf16 = SafeTensors.LoadTensor(output, "embedding");
        var golden = Fixtures.Expected("mert-tiny", "hidden_states").mean([1]);   // (layers, hidden)
        Assert.InRange(Fixtures.MaxAbsDiff(bf16, golden), 1e-5, 0.05 * golden.abs().max().item<float>());   // bf16: near, not exact

        // The same folder in fp32: the bf16 output is not silently reused; the error names what differs.
        Assert.Equal(1, CliApp.Run(["embed", "--model", Fixtures.Dir("mert-tiny"), "--out", outDir, dir["a.wav"]]));
        var row = Manifest.ReadIndex(Path.Combine(outDir, "index.csv")).Single();
        Assert.Equal("error", row.Status);
        Assert.Contains("precision", row.Error);
        Assert.Equal(2, CliApp.Run(["embed", "--model", Fixtures.Dir("mert-tiny"), "--out", dir["x"], "--precision", "fp16", dir["a.wav"]]));
    }

    [Theory]
    [InlineData("fp32", Precision.Float32)]
    [InlineData("FP32", Precision.Float32)]
    [InlineData("bf16", Precision.BFloat16)]
    [InlineData("bfloat16", Precision.BFloat16)]
    public void ParsePrecision_KnownNames(string name, Precision expected) => Assert.Equal(expected, Precisions.Parse(name));

    [Theory]
    [InlineData(Precision.Float32, "fp32")]
    [InlineData(Precision.BFloat16, "bf16")]
    public void Name_IsTheSpellingOutputsRecord(Precision precision, string expected) => Assert.Equal(expected, precision.Name());

    [Theory]
    [InlineData("fp16")]
    [InlineData("int8")]
    public void ParsePrecision_Other_NamesTheValue(string name)
    {
        var e = Assert.Throws<ArgumentException>(() => Precisions.Parse(name));
        Assert.Contains(name, e.Message);
        Assert.Contains("bf16", e.Message);
    }
}
