using System.Text.Json.Nodes;
using CultureMert.IO;
using CultureMert.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Tests.Model;

/// <summary>
/// Every algorithm the autotuner may pick, against the independent float64 tap sum of <see cref="ConvolutionsTests"/>
/// (forward and gradients), and the tuner's rules: the cache, the override, the oneDNN safety rule. No timings.
/// </summary>
[Collection(ProcessWideMeasurements.Name)]       // Choose_DuringTraining_... reads the global random stream, which in-process init and pretrain reseed
public class ConvAutotunerTests
{
    static readonly ConvAlgorithm[] All = Enum.GetValues<ConvAlgorithm>();

    static (Tensor X, Tensor W, Tensor B) Case(long batch, long inCh, long outCh, long kernel, long samples, long groups, ScalarType dtype, Generator g) =>
        (randn(new long[] { batch, inCh, samples }, dtype, generator: g),
         randn(new long[] { outCh, inCh / groups, kernel }, dtype, generator: g) / Math.Sqrt(inCh / groups * kernel),
         randn(new long[] { outCh }, dtype, generator: g));

    [Theory]
    [InlineData(1, 512, 10, 5, 0, 1, 1)]    // MERT CNN block 0
    [InlineData(64, 64, 3, 2, 0, 1, 1)]     // blocks 1-4, narrower
    [InlineData(64, 64, 2, 2, 0, 1, 1)]     // blocks 5-6
    [InlineData(48, 48, 16, 1, 8, 1, 4)]    // positional conv: grouped, padded
    [InlineData(32, 16, 3, 1, 0, 3, 1)]     // EnCodec residual conv: dilated
    [InlineData(32, 64, 8, 4, 0, 1, 1)]     // EnCodec downsampling: kernel 2·stride
    [InlineData(24, 40, 5, 3, 2, 2, 1)]     // padded, dilated and strided at once; widths libtorch pads
    [InlineData(32, 32, 1, 1, 0, 1, 1)]     // 1×1
    public void EveryAlgorithm_Forward_MatchesTapSum(long inCh, long outCh, long kernel, long stride, long padding, long dilation, long groups)
    {
        using var scope = NewDisposeScope();
        var g = new Generator((ulong)(inCh * 7 + kernel));
        foreach (var batch in new long[] { 1, 3 })
        {
            var (x, w, b) = Case(batch, inCh, outCh, kernel, 700, groups, ScalarType.Float32, g);
            var reference = ConvolutionsTests.TapSum(x, w, b, stride, padding, dilation, groups);
            // libtorch only where the shape rule lets it run: for channel widths its AVX-512 kernels pad, it is wrong on some CPUs
            // (Libtorch_PaddedWidths_AreRoutedAroundOneDnn), which is why Convolutions never calls it for them.
            foreach (var a in All.Where(a => a != ConvAlgorithm.Libtorch || !Convolutions.UsesIm2Col(inCh, outCh, groups)))
            {
                var err = ConvolutionsTests.RelErr(Convolutions.Run(a, x, w, b, stride, padding, dilation, groups), reference);
                Assert.True(err < 1e-5, $"{ConvAutotuner.Name(a)}, {inCh}→{outCh} k{kernel} s{stride} p{padding} d{dilation} g{groups}, batch {batch}: relative error {err:e2}");
            }
        }
    }

    /// <summary>Each algorithm's autograd backward (input, weight and bias gradients) against the tap sum's, in float64.</summary>
    [Theory]
    [InlineData(24, 24, 3, 3, 1, 2, 2)]
    [InlineData(16, 32, 4, 2, 0, 1, 1)]
    [InlineData(1, 16, 10, 5, 0, 1, 1)]
    public void EveryAlgorithm_Gradients_MatchTapSum(long inCh, long outCh, long kernel, long stride, long padding, long dilation, long groups)
    {
        using var scope = NewDisposeScope();
        var g = new Generator(11);
        var (x0, w0, b0) = Case(2, inCh, outCh, kernel, 301, groups, ScalarType.Float64, g);
        var (x, w, b) = (x0.requires_grad_(), w0.requires_grad_(), b0.requires_grad_());
        var frames = (301 + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1;
        var probe = randn(new long[] { 2, outCh, frames }, ScalarType.Float64, generator: g);
        Tensor[] Grads(Func<Tensor> f)
        {
            foreach (var t in new[] { x, w, b }) t.grad = null;
            (f() * probe).sum().backward();
            return [x.grad!.clone(), w.grad!.clone(), b.grad!.clone()];
        }
        var reference = Grads(() => ConvolutionsTests.TapSum(x, w, b, stride, padding, dilation, groups));
        foreach (var a in All)
        {
            var ours = Grads(() => Convolutions.Run(a, x, w, b, stride, padding, dilation, groups));
            for (var i = 0; i < 3; i++)
                Assert.True(Fixtures.MaxAbsDiff(ours[i], reference[i]) < 1e-10, $"{ConvAutotuner.Name(a)}: gradient {i} differs");
        }
    }

    // 64→64 k3 s2 over 4096 output frames: 100 MFLOP, above the size the tuner measures from.
    static ConvShape Tuned(ScalarType dtype = ScalarType.Float32) => ConvShape.Of(1, 64, 8193, 64, 3, 2, 0, 1, 1, dtype);
    static ConvShape Unsafe => ConvShape.Of(1, 24, 32769, 40, 3, 2, 0, 1, 1, ScalarType.Float32);   // 94 MFLOP

    [Fact]
    public void Choose_SecondProcess_ReadsTheFirstsChoiceFromTheCache()
    {
        using var dir = new Fixtures.TempDir();
        var path = dir["conv.json"];
        var first = new ConvAutotuner(null, new TuningCache(path), budgetMs: 20);
        var chosen = first.Choose(Tuned());
        Assert.Equal("measured", first.Decisions[Tuned().Key].Source);
        Assert.Equal(ConvAutotuner.Candidates(Tuned()).Count, first.Decisions[Tuned().Key].Milliseconds.Count);
        Assert.Equal(chosen, first.Choose(Tuned()));                                    // fixed for the process
        var second = new ConvAutotuner(null, new TuningCache(path), budgetMs: 20);
        Assert.Equal(chosen, second.Choose(Tuned()));
        Assert.Equal("cache", second.Decisions[Tuned().Key].Source);

        // What the cache says is what runs (a machine that measured taps fastest keeps taps), for a candidate.
        var cache = new TuningCache(path);
        cache.Set(MachineKey.Current, Tuned().Key, new JsonObject { ["algorithm"] = "taps" });
        Assert.Equal(ConvAlgorithm.Taps, new ConvAutotuner(null, cache).Choose(Tuned()));
    }

    [Fact]
    public void Choose_CorruptCache_MeasuresAndRewritesIt()
    {
        using var dir = new Fixtures.TempDir();
        var path = dir["conv.json"];
        File.WriteAllText(path, "{\"machines\": [truncated");
        var tuner = new ConvAutotuner(null, new TuningCache(path), budgetMs: 20);
        var chosen = tuner.Choose(Tuned());
        Assert.Equal("measured", tuner.Decisions[Tuned().Key].Source);
        Assert.Equal(ConvAutotuner.Name(chosen), new TuningCache(path).Get(MachineKey.Current, Tuned().Key)!["algorithm"]!.GetValue<string>());
    }

    [Fact]
    public void Choose_UnsafeShape_NeverLibtorch()
    {
        Assert.True(Convolutions.UsesIm2Col(24, 40, 1));
        Assert.DoesNotContain(ConvAlgorithm.Libtorch, ConvAutotuner.Candidates(Unsafe));
        using var dir = new Fixtures.TempDir();
        var cache = new TuningCache(dir["conv.json"]);
        cache.Set(MachineKey.Current, Unsafe.Key, new JsonObject { ["algorithm"] = "libtorch" });   // an edited or stale entry
        var tuner = new ConvAutotuner(null, cache, budgetMs: 20);
        Assert.NotEqual(ConvAlgorithm.Libtorch, tuner.Choose(Unsafe));
        Assert.Equal("measured", tuner.Decisions[Unsafe.Key].Source);
        // Forced onto libtorch, the unsafe shape still takes the matrix product; below the measured size, too.
        Assert.Equal(ConvAlgorithm.Im2Col, new ConvAutotuner(ConvAlgorithm.Libtorch, null).Choose(Unsafe));
        Assert.Equal(ConvAlgorithm.Im2Col, tuner.Choose(ConvShape.Of(1, 24, 100, 40, 3, 2, 0, 1, 1, ScalarType.Float32)));
        // The real models' shapes may use libtorch.
        Assert.Contains(ConvAlgorithm.Libtorch, ConvAutotuner.Candidates(ConvShape.Of(4, 512, 24000, 512, 3, 2, 0, 1, 1, ScalarType.Float32)));
        Assert.Contains(ConvAlgorithm.Libtorch, ConvAutotuner.Candidates(ConvShape.Of(1, 768, 375, 768, 128, 1, 64, 1, 16, ScalarType.Float32)));
    }

    [Theory]
    [InlineData("im2col", ConvAlgorithm.Im2Col)]
    [InlineData("IM2COL-LEFT", ConvAlgorithm.Im2ColLeft)]
    [InlineData("taps", ConvAlgorithm.Taps)]
    [InlineData("libtorch", ConvAlgorithm.Libtorch)]
    public void FromEnvironment_ConvVariable_ForcesTheAlgorithm(string value, ConvAlgorithm expected)
    {
        using var dir = new Fixtures.TempDir();
        var tuner = ConvAutotuner.FromEnvironment(n => n switch { "CULTUREMERT_CONV" => value, "CULTUREMERT_CACHE_DIR" => dir.Path, _ => null });
        Assert.Equal(expected, tuner.Choose(Tuned()));
        Assert.Empty(tuner.Decisions);                                                  // nothing measured
        Assert.False(File.Exists(dir["conv.json"]));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("auto")]
    [InlineData("fastest-please")]                                                      // unknown: a warning, then auto
    public void FromEnvironment_AutoOrUnknown_Measures(string? value)
    {
        using var dir = new Fixtures.TempDir();
        var tuner = ConvAutotuner.FromEnvironment(n => n switch { "CULTUREMERT_CONV" => value, "CULTUREMERT_CACHE_DIR" => dir.Path, _ => null });
        tuner.Choose(Tuned());
        Assert.Equal("measured", tuner.Decisions[Tuned().Key].Source);
        Assert.True(File.Exists(dir["conv.json"]));
    }

    /// <summary>Measuring inside a training step leaves its random stream and its autograd graph as they were.</summary>
    [Fact]
    public void Choose_DuringTraining_LeavesRandomStreamAndGraphAlone()
    {
        using var scope = NewDisposeScope();
        manual_seed(42);
        var expected = rand(8);
        manual_seed(42);
        var x = randn(new long[] { 1, 64, 8193 }).requires_grad_();
        var w = randn(new long[] { 64, 64, 3 }).requires_grad_();
        manual_seed(42);
        var tuner = new ConvAutotuner(null, null, budgetMs: 20);
        var algorithm = tuner.Choose(x, w, 2, 0, 1, 1);
        Assert.Equal("measured", tuner.Decisions.Single().Value.Source);
        Assert.Equal(0, Fixtures.MaxAbsDiff(rand(8), expected));
        Assert.Null(x.grad);
        var y = Convolutions.Run(algorithm, x, w, null, 2);
        y.sum().backward();
        Assert.Equal(new long[] { 1, 64, 8193 }, x.grad!.shape);
    }

    [Fact]
    public void Shape_Key_BucketsBatchDownAndFramesUp()
    {
        var s = ConvShape.Of(3, 512, 24000, 512, 3, 2, 0, 1, 1, ScalarType.Float32);
        Assert.Equal(11999, s.Frames);
        Assert.Equal("512->512 k3 s2 p0 d1 g1 Float32 b2 f16384", s.Key);
        Assert.Equal(s.Key, ConvShape.Of(2, 512, 20000, 512, 3, 2, 0, 1, 1, ScalarType.Float32).Key);
        var (b, f) = s.TuningSize(1e9);
        Assert.True(s.Flop(b, f) <= 1e9 && b >= 1 && f >= 256);
        var pos = ConvShape.Of(1, 768, 375, 768, 128, 1, 64, 1, 16, ScalarType.Float32);   // 95M pos-conv: 4.8 GFLOP at f512
        Assert.Equal((1L, 256L), pos.TuningSize(1e9));                                      // never under 256 frames
        Assert.Equal(f, ConvShape.Of(1, 512, s.SamplesFor(f), 512, 3, 2, 0, 1, 1, ScalarType.Float32).Frames);
    }
}
