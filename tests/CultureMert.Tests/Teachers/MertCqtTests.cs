using CultureMert.Checkpoints;
using CultureMert.Teachers;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace CultureMert.Tests.Teachers;

/// <summary>MertCqt against nnAudio CQT1992v2 goldens (fixtures/cqt/*.safetensors) and the transform's properties.</summary>
public class MertCqtTests(ITestOutputHelper output)
{
    const double Tol = 1e-3;   // required (fixtures/README): max |Δ| / max |cqt|; measured ≈ 1e-6, see ParityTol
    const double ParityTol = 2e-5;

    static Tensor Load(string file, string name) => SafeTensors.LoadTensor(Path.Combine(Fixtures.Dir("cqt"), file), name);

    [Theory]
    [InlineData("cqt-2s.safetensors", 336, 48)]
    [InlineData("cqt-0.5s.safetensors", 336, 48)]
    [InlineData("cqt-7.3s.safetensors", 336, 48)]
    [InlineData("cqt-1.2s-84bins-12bpo.safetensors", 84, 12)]
    public void Transform_Fixture_MatchesNnAudio(string file, int bins, int binsPerOctave)
    {
        using var scope = NewDisposeScope();
        using var cqt = new MertCqt(new CqtOptions(Bins: bins, BinsPerOctave: binsPerOctave));
        var waveform = Load(file, "waveform");
        var expected = Load(file, "cqt");
        var actual = cqt.Transform(waveform);
        var relative = Fixtures.MaxAbsDiff(actual, expected) / expected.abs().max().item<float>();
        output.WriteLine($"{file}: max |Δ| / max |cqt| = {relative:E2}");
        Assert.InRange(relative, 0, Math.Min(Tol, ParityTol));
    }

    [Theory]
    [InlineData(0L, 1)]
    [InlineData(1L, 1)]
    [InlineData(319L, 1)]
    [InlineData(320L, 2)]
    [InlineData(48000L, 151)]
    [InlineData(120000L, 376)]    // a 5-s crop: 376 frames, MERT uses the first 374
    public void FrameCount_Samples_IsFloorOverHopPlusOne(long samples, int frames)
    {
        using var cqt = new MertCqt();
        Assert.Equal(frames, cqt.FrameCount(samples));
        if (samples > 48000) return;
        using var scope = NewDisposeScope();
        Assert.Equal(new long[] { 336, frames }, cqt.Transform(zeros(samples)).shape);
    }

    [Fact]
    public void Transform_ShortInput_GivesFiniteFrames()
    {
        using var scope = NewDisposeScope();
        using var cqt = new MertCqt();
        var y = cqt.Transform(rand(1000, generator: new Generator(3)) - 0.5);
        Assert.Equal(new long[] { 336, 4 }, y.shape);
        Assert.True(y.isfinite().all().item<bool>());
        Assert.True(y.max().item<float>() > 0);
        Assert.True(y.min().item<float>() >= 0);
    }

    [Theory]
    [InlineData(440.0, 180)]      // 48·log2(440/32.7) = 179.999 → 180
    [InlineData(65.4, 48)]        // one octave above fmin
    [InlineData(1000.0, 237)]     // 48·log2(1000/32.7) = 236.86 → 237
    [InlineData(4000.0, 333)]     // 48·log2(4000/32.7) = 332.86 → 333
    public void Transform_Sine_PeaksAtItsBin(double hz, int bin)
    {
        using var scope = NewDisposeScope();
        using var cqt = new MertCqt();
        var t = arange(3 * 24000, dtype: ScalarType.Float64) / 24000.0;
        var y = cqt.Transform((0.5 * sin(2 * Math.PI * hz * t)).to(ScalarType.Float32));
        var middle = y[TensorIndex.Colon, y.shape[1] / 2];                  // (bins), far from the edges' zero padding
        Assert.Equal(bin, (int)middle.argmax().item<long>());
    }

    [Fact]
    public void Transform_DoubledInput_DoublesMagnitude()
    {
        using var scope = NewDisposeScope();
        using var cqt = new MertCqt();
        var x = Load("cqt-2s.safetensors", "waveform");
        var y = cqt.Transform(x);
        var y2 = cqt.Transform(2 * x);
        Assert.InRange(Fixtures.MaxAbsDiff(y2, 2 * y) / y.max().item<float>(), 0, 1e-6);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(64)]
    public void Transform_SmallBlocks_MatchOnePass(int framesPerBlock)
    {
        using var scope = NewDisposeScope();
        using var whole = new MertCqt(framesPerBlock: 100000);
        using var blocked = new MertCqt(framesPerBlock: framesPerBlock);
        var x = Load("cqt-2s.safetensors", "waveform");
        var a = whole.Transform(x);
        Assert.InRange(Fixtures.MaxAbsDiff(blocked.Transform(x), a) / a.max().item<float>(), 0, 1e-6);
    }

    [Fact]
    public void Kernels_MertSettings_MatchSpec()
    {
        using var cqt = new MertCqt();
        Assert.Equal(65536, cqt.KernelWidth);
        Assert.Equal(50460, cqt.Lengths[0]);
        Assert.Equal(400, cqt.Lengths[^1]);
        Assert.Equal(4125.6, cqt.Frequencies[^1], 1);
    }

    [Theory]
    [InlineData(0, 320, 32.7, 336, 48)]
    [InlineData(24000, 0, 32.7, 336, 48)]
    [InlineData(24000, 320, 0.0, 336, 48)]
    [InlineData(24000, 320, double.NaN, 336, 48)]
    [InlineData(24000, 320, 32.7, 0, 48)]
    [InlineData(24000, 320, 32.7, 336, 0)]
    [InlineData(24000, 320, 32.7, 440, 48)]      // top bin 32.7·2^(439/48) ≈ 18.5 kHz > Nyquist 12 kHz
    [InlineData(24000, 320, 0.01, 336, 48)]      // lowest kernel ≈ 165 M samples
    public void Constructor_InvalidOptions_Throws(int sr, int hop, double fmin, int bins, int bpo)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => new MertCqt(new CqtOptions(sr, hop, fmin, bins, bpo)));
        Assert.Contains("CqtOptions", e.Message);
    }

    [Fact]
    public void Transform_StereoInput_Throws()
    {
        using var cqt = new MertCqt();
        using var x = zeros(2, 1000);
        Assert.Throws<ArgumentException>(() => cqt.Transform(x));
    }
}
