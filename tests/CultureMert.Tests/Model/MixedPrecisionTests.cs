using CultureMert.Model;
using CultureMert.Pretraining;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Tests.Model;

/// <summary>
/// bf16 mixed precision (<see cref="MixedPrecision"/>) against exact arithmetic. The linear and convolution cases are
/// built so that the answer is known without rounding: inputs n + 2⁻¹² with small integers n (bf16 keeps 8 mantissa bits,
/// so it rounds them to n) and integer weights, whose products sum to integers below 256 (exact in bf16 and fp32).
/// A product in bf16 then gives exactly Σ n·w; the same product in fp32 gives Σ (n + 2⁻¹²)·w, which differs — so each
/// test also fails when the bf16 path is not taken.
/// </summary>
public class MixedPrecisionTests
{
    const double Delta = 1.0 / 4096;                                      // 2⁻¹²: below half a bf16 step at |n| ≥ 1

    /// <summary>Integers from ±{1..max} (never 0), as float64, from a seeded generator.</summary>
    static Tensor NonZeroIntegers(long[] shape, int max, Generator g)
    {
        using var scope = NewDisposeScope();
        var magnitude = randint(1, max + 1, shape, generator: g, dtype: ScalarType.Float64);
        var sign = randint(0, 2, shape, generator: g, dtype: ScalarType.Float64).mul(Scalars.Of(2.0)).sub(Scalars.One);
        return magnitude.mul(sign).MoveToOuterDisposeScope();
    }

    [Fact]
    public void Linear_Bf16_ComputesOnRoundedInputsAndReturnsFp32_GradientsReachTheFp32Weights()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(5);
        var n = NonZeroIntegers([3, 8], 4, g);                              // (batch, in)
        var w = NonZeroIntegers([5, 8], 4, g);                              // (out, in): |Σ n·w| ≤ 128
        var b = randint(-3, 4, [5], generator: g, dtype: ScalarType.Float64);
        var layer = nn.Linear(8, 5);
        using (no_grad()) { layer.weight!.copy_(w); layer.bias!.copy_(b); }
        var x = n.add(Scalars.Of(Delta)).to(ScalarType.Float32).requires_grad_();

        Tensor y;
        using (MixedPrecision.Enter(Precision.BFloat16)) y = MixedPrecision.Linear(layer, x);
        y.sum().backward();

        Assert.Equal(ScalarType.Float32, y.dtype);
        var exact = n.matmul(w.t()).add(b);                                 // Σ n·w + b: what bf16 products give
        Assert.Equal(0.0, Fixtures.MaxAbsDiff(y.to(ScalarType.Float64), exact));
        using (no_grad())
            Assert.True(Fixtures.MaxAbsDiff(layer.call(x).to(ScalarType.Float64), exact) > Delta / 2, "the fp32 product should differ; the case does not test bf16");
        // d Σy / dW[o,i] = Σ_b bf16(x)[b,i] = Σ_b n[b,i]; d Σy / dx[b,i] = Σ_o W[o,i]: exact integers, in fp32 tensors.
        Assert.Equal(ScalarType.Float32, layer.weight!.grad!.dtype);
        Assert.Equal(0.0, Fixtures.MaxAbsDiff(layer.weight.grad.to(ScalarType.Float64), n.sum(0L, keepdim: true).expand(5, 8)));
        Assert.Equal(0.0, Fixtures.MaxAbsDiff(x.grad!.to(ScalarType.Float64), w.sum(0L, keepdim: true).expand(3, 8)));
        Assert.Equal(0.0, Fixtures.MaxAbsDiff(layer.bias!.grad!.to(ScalarType.Float64), ones(5, ScalarType.Float64).mul(Scalars.Of(3.0))));
    }

    /// <summary>16 channels take libtorch's convolution, 24 the im2col route (<see cref="Convolutions.UsesIm2Col"/>).</summary>
    [Theory]
    [InlineData(16, 1)]
    [InlineData(24, 1)]
    [InlineData(16, 4)]
    public void Conv1d_Bf16_ComputesOnRoundedInputs_OnBothRoutes(long channels, long groups)
    {
        using var scope = NewDisposeScope();
        var g = new Generator((ulong)(channels + groups));
        var n = NonZeroIntegers([2, channels, 12], 1, g);                   // (batch, in, samples), ±1
        var w = NonZeroIntegers([channels, channels / groups, 3], 2, g);    // (out, in/groups, kernel): |Σ| ≤ 24·3·2
        var b = randint(-3, 4, [channels], generator: g, dtype: ScalarType.Float64);
        var (x, wf, bf) = (n.add(Scalars.Of(Delta)).to(ScalarType.Float32), w.to(ScalarType.Float32), b.to(ScalarType.Float32));

        Tensor y;
        using (MixedPrecision.Enter(Precision.BFloat16)) y = MixedPrecision.Conv1d(x, wf, bf, stride: 2, padding: 1, groups: groups);

        Assert.Equal(ScalarType.Float32, y.dtype);
        var exact = nn.functional.conv1d(n, w, b, stride: 2, padding: 1, groups: groups);   // float64 of integers: exact
        Assert.Equal(0.0, Fixtures.MaxAbsDiff(y.to(ScalarType.Float64), exact));
        var fp32 = MixedPrecision.Conv1d(x, wf, bf, stride: 2, padding: 1, groups: groups);  // outside the scope
        Assert.True(Fixtures.MaxAbsDiff(fp32.to(ScalarType.Float64), exact) > Delta / 2, "the fp32 convolution should differ");
    }

    [Fact]
    public void Attention_Bf16_IsTheAttentionOfTheRoundedInputs_ToBf16Accuracy()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(9);
        var (q, k, v) = (randn([2, 3, 10, 8], generator: g), randn([2, 3, 10, 8], generator: g), randn([2, 3, 10, 8], generator: g));
        Tensor y;
        using (MixedPrecision.Enter(Precision.BFloat16)) y = MixedPrecision.Attention(q, k, v, 0.0);

        Tensor Rounded(Tensor t) => t.to(ScalarType.BFloat16).to(ScalarType.Float64);
        var (qd, kd, vd) = (Rounded(q), Rounded(k), Rounded(v));
        var exact = qd.matmul(kd.transpose(-2, -1)).div(Scalars.Of(Math.Sqrt(8))).softmax(-1).matmul(vd);   // float64, by hand
        Assert.Equal(ScalarType.Float32, y.dtype);
        var scale = exact.abs().max().item<double>();
        Assert.True(Fixtures.MaxAbsDiff(y.to(ScalarType.Float64), exact) <= 1e-2 * scale, "bf16 attention is off the exact result by more than 1 %");
    }

    [Fact]
    public void Enter_IsPerThreadAndRestoresThePreviousState()
    {
        Assert.False(MixedPrecision.Active);
        using (MixedPrecision.Enter(Precision.BFloat16))
        {
            Assert.True(MixedPrecision.Active);
            var elsewhere = true;
            var thread = new Thread(() => elsewhere = MixedPrecision.Active);
            thread.Start();
            thread.Join();
            Assert.False(elsewhere);                                        // a prefetch or teacher thread computes in fp32
            using (MixedPrecision.Enter(Precision.Float32)) Assert.False(MixedPrecision.Active);
            Assert.True(MixedPrecision.Active);
        }
        Assert.False(MixedPrecision.Active);
    }

    /// <summary>
    /// The whole pre-training loss of the tiny model, one batch, in fp32 and in bf16 mixed precision: the loss within 1 %,
    /// every gradient pointing the same way (cosine ≥ 0.99) and all of them fp32 — and not equal, so bf16 did run.
    /// The attention key biases are left out: their true gradient is zero (softmax is shift-invariant), so both hold noise.
    /// </summary>
    [Fact]
    public void TinyModel_LossAndGradients_Bf16AgreeWithFp32()
    {
        using var scope = NewDisposeScope();
        var model = new MertModel(MertConfig.Preset("tiny")).InitializeWeights(0);
        var objective = new MertObjective(model.Config, [16, 16], cqtBins: 24);
        model.eval();                                                        // no dropout: the loss is a function of the weights
        var g = new Generator(3);
        var audio = rand(4, 24000, generator: g).sub(Scalars.Of(0.5));      // (4, 1 s) → 74 frames
        var mask = SpanMasking.ComputeMaskIndices(4, 74, new Random(1));
        var targets = randint(0, 16, [4, 74, 2], generator: g);
        var cqt = rand(4, 74, 24, generator: g);
        var named = model.named_parameters().Concat(objective.named_parameters()).ToList();

        (double Loss, Dictionary<string, Tensor> Grads) Run(Precision precision)
        {
            foreach (var (_, p) in named) p.grad?.zero_();
            ObjectiveTerms terms;
            using (MixedPrecision.Enter(precision)) terms = objective.Loss(model, audio, mask, targets, cqt);
            terms.Total.backward();
            return (terms.Total.item<float>(), named.Where(p => p.parameter.grad is not null).ToDictionary(p => p.name, p => p.parameter.grad!.clone()));
        }
        var (loss32, grads32) = Run(Precision.Float32);
        var (loss16, grads16) = Run(Precision.BFloat16);

        Assert.True(Math.Abs(loss16 - loss32) <= 1e-2 * Math.Abs(loss32), $"loss: bf16 {loss16} vs fp32 {loss32}");
        Assert.NotEqual(loss32, loss16);
        Assert.Equal(grads32.Keys.Order(), grads16.Keys.Order());
        var bad = new List<string>();
        foreach (var (name, g32) in grads32.Where(kv => !kv.Key.EndsWith("attention.k_proj.bias")))
        {
            var g16 = grads16[name];
            Assert.Equal(ScalarType.Float32, g16.dtype);
            var cosine = nn.functional.cosine_similarity(g16.flatten().to(ScalarType.Float64), g32.flatten().to(ScalarType.Float64), dim: 0).item<double>();
            if (!(cosine >= 0.99)) bad.Add($"{name}: cosine {cosine:F4}");
        }
        Assert.True(bad.Count == 0, "gradients off fp32's direction:\n" + string.Join("\n", bad));
    }

    [Fact]
    public void SlowerThanFp32_RefusesCpusWithoutNativeBf16_AcceptsNativeOnesAndGpus()
    {
        Assert.Contains("no native bfloat16", MixedPrecision.SlowerThanFp32(CPU, cpuHasNativeBf16: false));
        Assert.Contains("cannot tell", MixedPrecision.SlowerThanFp32(CPU, cpuHasNativeBf16: null));
        Assert.Null(MixedPrecision.SlowerThanFp32(CPU, cpuHasNativeBf16: true));
        Assert.Null(MixedPrecision.SlowerThanFp32(new Device(DeviceType.CUDA, 0), cpuHasNativeBf16: false));
    }
}
