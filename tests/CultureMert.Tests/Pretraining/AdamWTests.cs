using System.Text.Json;
using CultureMert.Pretraining;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Tests.Pretraining;

public class AdamWTests
{
    static double[] Doubles(JsonElement e) => e.EnumerateArray().Select(x => x.GetDouble()).ToArray();

    /// <summary>Replays tests/fixtures/pretraining/adamw.json (torch.optim.AdamW, float64, LR changing every step, one
    /// parameter without a gradient on step 3) and compares weights, moments and per-parameter step counts.</summary>
    [Fact]
    public void AdamW_SixStepsWithChangingLrAndASkippedGradient_MatchesTorch()
    {
        var golden = JsonDocument.Parse(File.ReadAllText(Path.Combine(Fixtures.Dir("pretraining"), "adamw.json"))).RootElement;
        var a = new TorchSharp.Modules.Parameter(tensor(Doubles(golden.GetProperty("init").GetProperty("a")), new long[] { 3, 4 }));
        var b = new TorchSharp.Modules.Parameter(tensor(Doubles(golden.GetProperty("init").GetProperty("b"))));
        using var opt = new AdamW([("a", a), ("b", b)], 1e-3, 0.9, 0.98, 1e-6, 0.01);
        var lrs = Doubles(golden.GetProperty("lrs"));
        var grads = golden.GetProperty("grads").EnumerateArray().ToList();
        for (var s = 0; s < lrs.Length; s++)
        {
            opt.LearningRate = lrs[s];
            a.grad = tensor(Doubles(grads[s].GetProperty("a")), new long[] { 3, 4 });
            var gb = grads[s].GetProperty("b");
            b.grad = gb.ValueKind == JsonValueKind.Null ? null : tensor(Doubles(gb));
            opt.Take();
            opt.ZeroGrad();
        }
        foreach (var (name, p) in new[] { ("a", (Tensor)a), ("b", b) })
        {
            var want = tensor(Doubles(golden.GetProperty("final").GetProperty(name)));
            Assert.True(Fixtures.MaxAbsDiff(p.flatten(), want) < 1e-14, $"{name}: weights differ from torch by {Fixtures.MaxAbsDiff(p.flatten(), want)}");
        }
        var state = opt.StateTensors().ToDictionary(kv => kv.Key, kv => kv.Value);
        foreach (var name in new[] { "a", "b" })
        {
            Assert.True(Fixtures.MaxAbsDiff(state["exp_avg." + name].flatten(), tensor(Doubles(golden.GetProperty("exp_avg").GetProperty(name)))) < 1e-15);
            Assert.True(Fixtures.MaxAbsDiff(state["exp_avg_sq." + name].flatten(), tensor(Doubles(golden.GetProperty("exp_avg_sq").GetProperty(name)))) < 1e-15);
            Assert.Equal(golden.GetProperty("steps").GetProperty(name).GetInt64(), state["step." + name].item<long>());
        }
    }

    [Fact]
    public void AdamW_Float32SinglePass_EqualsPyTorchsOpByOpKernels()
    {
        // A contiguous parameter takes the single-pass CPU update; its transposed twin (not contiguous) takes libtorch's
        // own kernels op by op, as torch.optim.AdamW runs them. 301 × 701 floats: several parallel blocks, a vector
        // remainder, a scalar tail. Five steps with fresh gradients, weight decay on.
        var init = randn(new long[] { 301, 701 }, generator: new Generator(5));
        var fused = new TorchSharp.Modules.Parameter(init.clone());
        var byOps = new TorchSharp.Modules.Parameter(init.t().contiguous().t());   // same values, transposed strides
        Assert.True(fused.is_contiguous());
        Assert.False(byOps.is_contiguous());
        using var a = new AdamW([("w", fused)], 1e-2, 0.9, 0.98, 1e-6, 0.1);
        using var b = new AdamW([("w", byOps)], 1e-2, 0.9, 0.98, 1e-6, 0.1);
        var gen = new Generator(6);
        for (var s = 0; s < 5; s++)
        {
            var g = randn(new long[] { 301, 701 }, generator: gen) * (s + 1);
            fused.grad = g.clone();
            byOps.grad = g.t().contiguous().t();
            a.Take();
            b.Take();
        }
        Assert.True(Fixtures.MaxAbsDiff(fused, byOps) < 1e-6 * fused.abs().max().item<float>(), $"differ by {Fixtures.MaxAbsDiff(fused, byOps):e2}");
        Assert.True(Fixtures.MaxAbsDiff(fused, init) > 1e-3);                 // the steps did move the weights
        var (sa, sb) = (a.StateTensors().ToDictionary(kv => kv.Key, kv => kv.Value), b.StateTensors().ToDictionary(kv => kv.Key, kv => kv.Value));
        Assert.True(Fixtures.MaxAbsDiff(sa["exp_avg.w"], sb["exp_avg.w"]) < 1e-5);
        Assert.True(Fixtures.MaxAbsDiff(sa["exp_avg_sq.w"], sb["exp_avg_sq.w"]) < 1e-4);
    }

    [Fact]
    public void AdamW_StateRoundTrip_ContinuesBitIdentically()
    {
        // Two optimisers: one runs 4 steps; the other runs 2, is rebuilt from the first's saved state, runs 2 more.
        Tensor Grad(int s) => full(new long[] { 4 }, (s + 1) * 0.3f) - arange(4, dtype: ScalarType.Float32) * 0.1f;
        var p1 = new TorchSharp.Modules.Parameter(arange(4, dtype: ScalarType.Float32));
        var p2 = new TorchSharp.Modules.Parameter(arange(4, dtype: ScalarType.Float32));
        using var straight = new AdamW([("w", p1)], 0.01);
        for (var s = 0; s < 4; s++) { p1.grad = Grad(s); straight.Take(); }
        var first = new AdamW([("w", p2)], 0.01);
        for (var s = 0; s < 2; s++) { p2.grad = Grad(s); first.Take(); }
        var saved = first.StateTensors().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        first.Dispose();
        using var resumed = new AdamW([("w", p2)], 0.01);
        resumed.LoadState(saved, 2, "test");
        for (var s = 2; s < 4; s++) { p2.grad = Grad(s); resumed.Take(); }
        Assert.Equal(p1.data<float>().ToArray(), p2.data<float>().ToArray());
        Assert.Equal(4, resumed.Updates);
    }

    [Fact]
    public void AdamW_StateOfAnotherParameter_IsRejectedWithItsName()
    {
        var p = new TorchSharp.Modules.Parameter(zeros(2));
        using var opt = new AdamW([("w", p)], 0.01);
        var e = Assert.Throws<InvalidDataException>(() => opt.LoadState(new Dictionary<string, Tensor> { ["exp_avg.encoder.x"] = zeros(2) }, 1, "ckpt/optimizer.safetensors"));
        Assert.Contains("ckpt/optimizer.safetensors", e.Message);
        Assert.Contains("exp_avg.encoder.x", e.Message);
    }

    [Fact]
    public void ClipGradNorm_AboveTheLimit_ScalesLikeTorch()
    {
        // grads (3, 4) and (0, 12): total norm √(25 + 144) = 13; limit 6.5 → coefficient 6.5 / (13 + 1e-6)
        var a = new TorchSharp.Modules.Parameter(zeros(2, dtype: ScalarType.Float64)) { grad = tensor(new[] { 3.0, 4.0 }) };
        var b = new TorchSharp.Modules.Parameter(zeros(2, dtype: ScalarType.Float64)) { grad = tensor(new[] { 0.0, 12.0 }) };
        var frozen = new TorchSharp.Modules.Parameter(zeros(2, dtype: ScalarType.Float64));   // no gradient (LayerDrop)
        var norm = Pretrainer.ClipGradNorm([a, b, frozen], 6.5);
        Assert.Equal(13.0, norm, 5);
        var c = 6.5 / (13 + 1e-6);
        Assert.Equal(new[] { 3 * c, 4 * c }, a.grad!.data<double>().ToArray());
        Assert.Equal(12 * c, b.grad!.data<double>()[1], 12);
        Assert.Null(frozen.grad);
        Assert.Equal(13.0 * c, Pretrainer.ClipGradNorm([a, b], 100), 5);        // below the limit: untouched
        Assert.Equal(3 * c, a.grad!.data<double>()[0], 15);
    }
}
