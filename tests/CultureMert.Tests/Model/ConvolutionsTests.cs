using CultureMert.Model;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace CultureMert.Tests.Model;

/// <summary>
/// Every convolution the project runs, at the channel widths where libtorch's AVX-512 kernels pad (and some where they
/// do not), against an independent float64 computation: a sum over kernel taps of channel-mixing products, which shares
/// no code with oneDNN, with ATen's own conv or with <see cref="Convolutions.Im2Col"/>. Each case runs twice in one
/// process, so a kernel that reads memory it never wrote shows up as a difference or a NaN.
/// </summary>
public class ConvolutionsTests(ITestOutputHelper output)
{
    static readonly long[] AllWidths = [8, 12, 16, 20, 24, 40, 48, 100, 512];
    public static readonly TheoryData<long> Widths = new(AllWidths);

    /// <summary>y[b,o,t] = bias[o] + Σ_k Σ_i w[o,i,k] · x[b, i, t·s + k·d − p], in float64, group by group.</summary>
    internal static Tensor TapSum(Tensor x, Tensor w, Tensor? bias, long stride = 1, long padding = 0, long dilation = 1, long groups = 1)
    {
        using var scope = NewDisposeScope();
        var xd = nn.functional.pad(x.to(ScalarType.Float64), [padding, padding]);
        var wd = w.to(ScalarType.Float64);
        var (outCh, inG, kernel) = (w.size(0), w.size(1), w.size(2));
        var frames = (xd.size(2) - dilation * (kernel - 1) - 1) / stride + 1;
        var y = zeros(new long[] { x.size(0), outCh, frames }, ScalarType.Float64);
        var outG = outCh / groups;
        for (var g = 0; g < groups; g++)
        for (var k = 0; k < kernel; k++)
        {
            var tap = xd[.., TensorIndex.Slice(g * inG, (g + 1) * inG), TensorIndex.Slice(k * dilation, k * dilation + stride * (frames - 1) + 1, stride)];
            var mix = wd[TensorIndex.Slice(g * outG, (g + 1) * outG), .., k];                     // (out/G, in/G)
            y[.., TensorIndex.Slice(g * outG, (g + 1) * outG)] += einsum("oi,bit->bot", mix, tap);
        }
        if (bias is not null) y += bias.to(ScalarType.Float64).view(1, outCh, 1);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>Largest |a − ref| relative to max |ref|; infinity when a has a non-finite value.</summary>
    internal static double RelErr(Tensor a, Tensor reference)
    {
        Assert.Equal(reference.shape, a.shape);
        if (!isfinite(a).all().item<bool>()) return double.PositiveInfinity;
        return (a.to(ScalarType.Float64) - reference).abs().max().item<double>() / Math.Max(1e-12, reference.abs().max().item<double>());
    }

    static (Tensor X, Tensor W, Tensor? B) Case(long batch, long inCh, long outCh, long kernel, long samples, long groups, bool bias, Generator g) =>
        (randn(new long[] { batch, inCh, samples }, generator: g),
         randn(new long[] { outCh, inCh / groups, kernel }, generator: g) / Math.Sqrt(inCh / groups * kernel),
         bias ? randn(new long[] { outCh }, generator: g) : null);

    /// <summary>MERT's CNN blocks (kernels 10,3,3,3,3,2,2; strides 5,2,2,2,2,2,2) and odd kernel/stride pairs.</summary>
    [Theory]
    [MemberData(nameof(Widths))]
    public void Conv1d_CnnShapes_EveryWidth_MatchesTapSum(long width)
    {
        using var scope = NewDisposeScope();
        var g = new Generator((ulong)width);
        (long K, long S)[] blocks = [(10, 5), (3, 2), (3, 2), (3, 2), (3, 2), (2, 2), (2, 2), (7, 3), (5, 1), (4, 4), (11, 5), (1, 1)];
        foreach (var batch in new long[] { 1, 4 })
        {
            var samples = 4800L;
            for (var i = 0; i < blocks.Length; i++)
            {
                var (k, s) = blocks[i];
                var inCh = i == 0 ? 1 : width;
                var (x, w, _) = Case(batch, inCh, width, k, i < 7 ? samples : 301, 1, false, g);
                var reference = TapSum(x, w, null, s);
                for (var run = 0; run < 2; run++)
                {
                    var err = RelErr(Convolutions.Conv1d(x, w, null, s), reference);
                    Assert.True(err < 1e-5, $"width {width}, batch {batch}, {inCh}→{width} k{k} s{s}, run {run}: relative error {err:e2}");
                }
                if (i < 7) samples = (samples - k) / s + 1;
            }
        }
    }

    /// <summary>The positional conv (grouped, padded, biased) and EnCodec's SEANet convs (biased, dilated, strided).</summary>
    [Theory]
    [InlineData(48, 48, 8, 1, 4, 1, 2, true)]      // the tiny fixture's pos-conv: 24 channels per group
    [InlineData(40, 40, 8, 1, 4, 1, 2, true)]
    [InlineData(36, 36, 9, 1, 4, 1, 3, true)]
    [InlineData(768, 768, 128, 1, 64, 1, 16, true)] // MERT-v1-95M's pos-conv
    [InlineData(1, 4, 7, 1, 0, 1, 1, true)]         // EnCodec's first conv, num_filters 4
    [InlineData(8, 4, 3, 1, 0, 1, 1, true)]         // residual block, hidden = dim / 2
    [InlineData(8, 4, 3, 1, 0, 3, 1, true)]         // dilated
    [InlineData(20, 40, 10, 5, 0, 1, 1, true)]      // downsampling, kernel 2·ratio
    [InlineData(64, 128, 16, 8, 0, 1, 1, true)]
    [InlineData(12, 24, 1, 1, 0, 1, 1, false)]      // 1×1 shortcut
    public void Conv1d_GroupedDilatedBiased_MatchesTapSum(long inCh, long outCh, long kernel, long stride, long padding, long dilation, long groups, bool bias)
    {
        using var scope = NewDisposeScope();
        var g = new Generator((ulong)(inCh * 1000 + outCh));
        foreach (var batch in new long[] { 1, 4 })
        {
            var (x, w, b) = Case(batch, inCh, outCh, kernel, 600, groups, bias, g);
            var reference = TapSum(x, w, b, stride, padding, dilation, groups);
            for (var run = 0; run < 2; run++)
            {
                var err = RelErr(Convolutions.Conv1d(x, w, b, stride, padding, dilation, groups), reference);
                Assert.True(err < 1e-5, $"{inCh}→{outCh} k{kernel} s{stride} p{padding} d{dilation} g{groups}, batch {batch}, run {run}: relative error {err:e2}");
            }
        }
    }

    /// <summary>The im2col path is differentiable: its input and weight gradients against the tap sum's, in float64.</summary>
    [Fact]
    public void Im2Col_Gradients_MatchTapSum()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(5);
        var x = randn(new long[] { 2, 24, 301 }, ScalarType.Float64, generator: g).requires_grad_();
        var w = randn(new long[] { 24, 12, 3 }, ScalarType.Float64, generator: g).requires_grad_();
        var b = randn(new long[] { 24 }, ScalarType.Float64, generator: g).requires_grad_();
        var probe = randn(new long[] { 2, 24, 100 }, ScalarType.Float64, generator: g);
        Tensor[] Grads(Func<Tensor> f)
        {
            foreach (var t in new[] { x, w, b }) t.grad = null;
            (f() * probe).sum().backward();
            return [x.grad!.clone(), w.grad!.clone(), b.grad!.clone()];
        }
        var ours = Grads(() => Convolutions.Im2Col(x, w, b, stride: 3, padding: 1, dilation: 2, groups: 2));
        var reference = Grads(() => TapSum(x, w, b, stride: 3, padding: 1, dilation: 2, groups: 2));
        for (var i = 0; i < 3; i++) Assert.True(Fixtures.MaxAbsDiff(ours[i], reference[i]) < 1e-10, $"gradient {i} differs");
    }

    /// <summary>
    /// The feature encoder and the whole model (pos-conv with 24 channels per group, odd kernel/stride lists too) in
    /// float32 against the same weights in float64, where libtorch never calls oneDNN: at batch 1 and 4, twice.
    /// </summary>
    [Theory]
    [MemberData(nameof(Widths))]
    public void Model_EveryConvWidth_Float32MatchesFloat64(long width)
    {
        foreach (var odd in new[] { false, true })
        {
            var config = MertConfig.Preset("tiny") with
            {
                ConvDim = Enumerable.Repeat((int)width, odd ? 3 : 7).ToArray(),
                ConvKernel = odd ? [7, 4, 3] : [10, 3, 3, 3, 3, 2, 2],
                ConvStride = odd ? [3, 4, 1] : [5, 2, 2, 2, 2, 2, 2],
                HiddenSize = 48, NumAttentionHeads = 4, NumConvPosEmbeddings = 8, NumConvPosEmbeddingGroups = 2,
            };
            using var model = new MertModel(config).InitializeWeights(1);
            using var model64 = new MertModel(config).InitializeWeights(1).to(ScalarType.Float64);
            model.eval();
            model64.eval();
            using var scope = NewDisposeScope();
            using var _ = inference_mode();
            var audio = randn(new long[] { 4, 6000 }, generator: new Generator((ulong)width));
            foreach (var batch in new long[] { 1, 4 })
            {
                var x = audio[..(int)batch];
                var features64 = model64.ExtractFeatures(x.to(ScalarType.Float64));
                var states64 = model64.HiddenStates(x.to(ScalarType.Float64));
                for (var run = 0; run < 2; run++)
                {
                    var where = $"conv width {width}{(odd ? " (odd kernels)" : "")}, batch {batch}, run {run}";
                    var err = RelErr(model.ExtractFeatures(x), features64);
                    Assert.True(err < 1e-5, $"{where}: CNN features differ by {err:e2} (relative)");
                    var states = model.HiddenStates(x);
                    for (var l = 0; l < states.Count; l++)
                    {
                        Assert.True(isfinite(states[l]).all().item<bool>(), $"{where}: hidden state {l} is not finite");
                        Assert.True(Fixtures.MaxAbsDiff(states[l], states64[l]) < 1e-4, $"{where}: hidden state {l} differs by {Fixtures.MaxAbsDiff(states[l], states64[l]):e2}");
                    }
                }
            }
        }
    }

    /// <summary>
    /// The reproduction of libtorch's defect and the guard against it: libtorch's own float32 conv1d at every width, against
    /// the tap sum. On the CPUs where it is wrong (an AMD EPYC Zen 4 with AVX-512: widths 24 and 40), every wrong shape
    /// must be one that <see cref="Convolutions"/> routes around; elsewhere all are right and the routing rule is checked
    /// on the shapes of the real models.
    /// </summary>
    [Fact]
    public void Libtorch_PaddedWidths_AreRoutedAroundOneDnn()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(3);
        var wrong = new List<string>();
        foreach (var width in AllWidths)
        foreach (var (inCh, k, s) in new (long, long, long)[] { (1, 10, 5), (width, 3, 2), (width, 2, 2) })
        foreach (var batch in new long[] { 1, 4 })
        {
            var (x, w, _) = Case(batch, inCh, width, k, 2400, 1, false, g);
            var reference = TapSum(x, w, null, s);
            var err = Enumerable.Range(0, 2).Max(_ => RelErr(nn.functional.conv1d(x, w, stride: s), reference));
            if (err < 1e-5) continue;
            wrong.Add($"{inCh}→{width} k{k} s{s} batch {batch}: {err:e2}");
            Assert.True(Convolutions.UsesIm2Col(inCh, width, 1), $"libtorch's conv1d is wrong for {inCh}→{width} k{k} s{s} on this CPU, and Convolutions does not route around it");
        }
        output.WriteLine(wrong.Count == 0 ? "libtorch's conv1d was right at every width on this CPU" : "libtorch's conv1d was wrong for: " + string.Join("; ", wrong));

        Assert.False(Convolutions.UsesIm2Col(1, 512, 1));       // MERT-v1 CNN block 0
        Assert.False(Convolutions.UsesIm2Col(512, 512, 1));     // blocks 1-6
        Assert.False(Convolutions.UsesIm2Col(768, 768, 16));    // 95M pos-conv: 48 per group
        Assert.False(Convolutions.UsesIm2Col(1024, 1024, 16));  // 330M pos-conv: 64 per group
        Assert.False(Convolutions.UsesIm2Col(1, 32, 1));        // EnCodec 24 kHz (32 filters): first conv
        Assert.False(Convolutions.UsesIm2Col(32, 16, 1));       // and its first residual conv
        Assert.True(Convolutions.UsesIm2Col(1, 24, 1));
        Assert.True(Convolutions.UsesIm2Col(24, 24, 1));
        Assert.True(Convolutions.UsesIm2Col(48, 48, 2));
    }
}
