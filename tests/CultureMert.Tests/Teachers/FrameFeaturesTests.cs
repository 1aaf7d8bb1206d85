using CultureMert.Teachers;
using static TorchSharp.torch;

namespace CultureMert.Tests.Teachers;

/// <summary>Mel scale and filterbank against hand-computed values; chroma of tones and chords; frame count and shape.</summary>
public class FrameFeaturesTests
{
    static Tensor Tones(double seconds, params double[] hz)
    {
        var n = (int)(seconds * 24000);
        var x = new float[n];
        for (var i = 0; i < n; i++)
            foreach (var f in hz) x[i] += (float)(0.3 * Math.Sin(2 * Math.PI * f * i / 24000));
        return tensor(x);
    }

    [Fact]
    public void MelScale_Slaney_MatchesFormula()
    {
        Assert.Equal(0, FrameFeatures.HzToMel(0), 12);
        Assert.Equal(15, FrameFeatures.HzToMel(1000), 12);                  // linear region ends at 1 kHz = 15 mel
        Assert.Equal(7.5, FrameFeatures.HzToMel(500), 12);                  // 200/3 Hz per mel
        Assert.Equal(6400, FrameFeatures.MelToHz(15 + 27), 9);              // log region: ×6.4 per 27 mel
        Assert.Equal(1000 * Math.Pow(6.4, 0.5), FrameFeatures.MelToHz(15 + 13.5), 9);
        foreach (var hz in new[] { 30.0, 700, 1000, 3500, 11999 })
            Assert.Equal(hz, FrameFeatures.MelToHz(FrameFeatures.HzToMel(hz)), 9);
        Assert.Equal(2595 * Math.Log10(1 + 1000.0 / 700), FrameFeatures.HzToMel(1000, htk: true), 12);
    }

    [Fact]
    public void MelFilterbank_TwoBandsLinearRegion_MatchesHandComputedTriangles()
    {
        // fmax 1000 Hz is all linear: mel points 0, 5, 10, 15 → 0, 333.33, 666.67, 1000 Hz.
        var o = new FrameFeatureOptions { NMels = 2, FMax = 1000 };
        var centres = FrameFeatures.MelFrequencies(4, 0, 1000);
        Assert.Equal(new[] { 0, 1000 / 3.0, 2000 / 3.0, 1000 }, centres, (a, b) => Math.Abs(a - b) < 1e-9);
        using var fb = FrameFeatures.MelFilterbank(o);
        Assert.Equal(new long[] { 2, 1025 }, fb.shape);
        var w = fb.data<float>().ToArray();
        const double df = 24000.0 / 2048;                                    // 11.71875 Hz per bin
        double Tri(double hz, double lo, double mid, double hi) => Math.Max(0, Math.Min((hz - lo) / (mid - lo), (hi - hz) / (hi - mid))) * 2 / (hi - lo);
        foreach (var k in new[] { 0, 1, 10, 28, 29, 30, 56, 57, 60, 85, 86, 200 })
        {
            Assert.Equal(Tri(k * df, 0, 1000 / 3.0, 2000 / 3.0), w[k], 6);
            Assert.Equal(Tri(k * df, 1000 / 3.0, 2000 / 3.0, 1000), w[1025 + k], 6);
        }
        Assert.Equal(0.003 * (1 - Math.Abs(28 * df - 1000 / 3.0) / (1000 / 3.0)), w[28], 6);   // bin 28 = 328.1 Hz, near the peak
    }

    [Fact]
    public void MelFilterbank_Default128_CentresFollowMelFormula()
    {
        var f = FrameFeatures.MelFrequencies(130, 0, 12000);
        var top = FrameFeatures.HzToMel(12000);                              // 15 + 27·ln(12)/ln(6.4)
        Assert.Equal(15 + 27 * Math.Log(12) / Math.Log(6.4), top, 9);
        Assert.Equal(top / 129 * 200 / 3, f[1], 9);                          // first centre is in the linear region
        Assert.Equal(12000, f[129], 6);
        using var fb = FrameFeatures.MelFilterbank(new FrameFeatureOptions());
        Assert.Equal(new long[] { 128, 1025 }, fb.shape);
        Assert.True(fb.sum(1).gt(0).all().item<bool>());                      // no empty band at n_fft 2048
    }

    [Fact]
    public void Chroma_PureA440_PeaksAtA()
    {
        using var ff = new FrameFeatures();
        using var x = Tones(1.0, 440);
        using var f = ff.Compute(x);
        using var chroma = f[TensorIndex.Slice(5, -5), TensorIndex.Slice(128, null)].mean([0]);   // (12), inner frames
        Assert.Equal(9, chroma.argmax().item<long>());                        // C=0 … A=9
        Assert.True(chroma[9].item<float>() > 0.9f);
        using var far = chroma.index_select(0, tensor(new long[] { 0, 2, 4, 5, 7 }));
        Assert.True(far.max().item<float>() < 0.1f);                          // classes ≥ 2 semitones away stay dark
    }

    [Fact]
    public void Chroma_CMajorChord_LightsCEG()
    {
        using var ff = new FrameFeatures();
        using var x = Tones(1.0, 261.63, 329.63, 392.00);
        using var f = ff.Compute(x);
        using var chroma = f[TensorIndex.Slice(5, -5), TensorIndex.Slice(128, null)].mean([0]);
        var top3 = chroma.topk(3).indexes.data<long>().ToArray().OrderBy(i => i).ToArray();
        Assert.Equal(new long[] { 0, 4, 7 }, top3);                           // C, E, G
        // a semitone is 1.3–2 FFT bins here, so the Hann main lobe leaks into neighbours (F next to E: ~0.26); two away stays dark
        foreach (var pc in new[] { 2, 9, 10 }) Assert.True(chroma[pc].item<float>() < 0.2f, $"class {pc}: {chroma[pc].item<float>()}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(319)]
    [InlineData(320)]
    [InlineData(24000)]
    [InlineData(120000)]
    public void Compute_AnyLength_GivesFloorLOver320PlusOneFrames(int samples)
    {
        using var ff = new FrameFeatures();
        using var x = randn(samples) * 0.1;
        using var f = ff.Compute(x);
        Assert.Equal(new long[] { samples / 320 + 1, 140 }, f.shape);
        Assert.True(f.isfinite().all().item<bool>());
    }

    [Fact]
    public void Compute_Silence_FloorLogMelZeroChroma()
    {
        using var ff = new FrameFeatures();
        using var f = ff.Compute(zeros(4800));
        Assert.Equal(Math.Log(1e-6), f[.., ..128].max().item<float>(), 4);
        Assert.Equal(0, f[.., 128..].abs().max().item<float>());
    }

    [Fact]
    public void Options_BadRange_ThrowsNamingSetting()
    {
        var e = Assert.Throws<ArgumentException>(() => new FrameFeatureOptions { FMax = 13000 }.Validate("teacher.safetensors"));
        Assert.Contains("teacher.safetensors", e.Message);
        Assert.Contains("fmax", e.Message);
    }
}
