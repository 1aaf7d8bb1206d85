using System.Collections.Concurrent;
using System.Diagnostics;
using System.Numerics;
using TorchSharp;
using System.Text.Json.Nodes;
using CultureMert.IO;
using static TorchSharp.torch;

namespace CultureMert.Model;

/// <summary>The exact conv1d algorithms <see cref="Convolutions.Run"/> knows.</summary>
public enum ConvAlgorithm
{
    /// <summary>libtorch's <c>conv1d</c> (oneDNN or ATen's own kernels, as libtorch decides).</summary>
    Libtorch,
    /// <summary>Unfolded windows × weights: (frames, in·kernel) × (in·kernel, out), then transposed.</summary>
    Im2Col,
    /// <summary>Weights × unfolded windows: (out, in·kernel) × (in·kernel, frames), already in output order.</summary>
    Im2ColLeft,
    /// <summary>One (out, in) × (in, frames) product per kernel tap on strided views, summed.</summary>
    Taps,
}

/// <summary>What one shape ran on, and why: measured here now, read from the cache, the shape rule, or forced.</summary>
/// <param name="Milliseconds">the fastest call of each candidate on the tuning input, when measured</param>
public sealed record ConvDecision(ConvAlgorithm Algorithm, string Source, IReadOnlyDictionary<ConvAlgorithm, double> Milliseconds,
                                  double TuningGflop);

/// <summary>
/// Picks each convolution shape's algorithm by timing the candidates on this machine, once: libtorch's conv1d reaches
/// the matrix-multiply rate on some CPUs and half of it on others (an AMD EPYC Zen 4: 63 against 133–150 GFLOP/s for
/// MERT's 512→512 k3 s2), and the matrix-product forms run at the GEMM rate everywhere but copy the input.
/// </summary>
/// <remarks>
/// A shape's key is its channels, kernel, stride, padding, dilation, groups, dtype, the batch and output length rounded
/// down and up to powers of two, and <see cref="MachineKey"/> (CPU, ISA, libtorch, threads). The candidates run on
/// random input of that shape (batch × frames cut until one call is at most 1 GFLOP, but at least 256 frames), a warm-up call each, then
/// rounds of one call per candidate (at least 1, at most 20) within about 200 ms in all, so that load from another
/// process hits every candidate alike (a candidate 3× slower than the best stops racing); the fastest call wins, and
/// libtorch keeps the shape unless another is 10 % faster (timings on a shared machine vary by more than 5 %).
/// The decision is then fixed for the process and written to <c>conv.json</c> in the cache folder
/// (<see cref="TuningCache.DefaultDirectory"/>), so a later process, a resumed training run included, computes exactly
/// as the first. Measuring uses its own tensors and random generator, outside autograd: it changes neither the
/// caller's graph nor its random stream. Not measured: devices other than the CPU (libtorch), dtypes other than
/// float32/bfloat16/float16 and shapes under 50 MFLOP per call (the shape rule: libtorch, or <see cref="ConvAlgorithm.Im2Col"/>
/// where <see cref="Convolutions.UsesIm2Col"/>). <c>CULTUREMERT_CONV=libtorch|im2col|im2col-left|taps</c> forces one
/// algorithm (<c>auto</c>, the default, measures); a shape that must not run on libtorch's conv1d never does.
/// </remarks>
public sealed class ConvAutotuner(ConvAlgorithm? forced, TuningCache? cache, double budgetMs = 200)
{
    const double MinTunedFlop = 5e7, TuningCallFlop = 1e9, MinGain = 0.10, DropAfterWarmUp = 3;
    const int MaxCalls = 20;
    static readonly object MeasureGate = new();            // one measurement at a time in the process: timings undisturbed by another's

    readonly ConcurrentDictionary<string, ConvDecision> decisions = new();

    /// <summary>The process's tuner: <c>CULTUREMERT_CONV</c> and the user's cache folder.</summary>
    public static ConvAutotuner Default => DefaultTuner.Value;
    static readonly Lazy<ConvAutotuner> DefaultTuner = new(() => FromEnvironment(Environment.GetEnvironmentVariable));

    /// <summary>A tuner set up from <c>CULTUREMERT_CONV</c> and the cache-folder variables (see <see cref="TuningCache.DefaultDirectory"/>).</summary>
    public static ConvAutotuner FromEnvironment(Func<string, string?> env)
    {
        var mode = env("CULTUREMERT_CONV");
        ConvAlgorithm? forced = null;
        if (!string.IsNullOrWhiteSpace(mode) && !mode.Trim().Equals("auto", StringComparison.OrdinalIgnoreCase))
        {
            if (TryParse(mode.Trim(), out var algorithm)) forced = algorithm;
            else Console.Error.WriteLine($"warning: CULTUREMERT_CONV={mode}: expected auto, libtorch, im2col, im2col-left or taps; measuring (auto).");
        }
        return new ConvAutotuner(forced, new TuningCache(Path.Combine(TuningCache.DefaultDirectory(env), "conv.json")));
    }

    /// <summary>Every decision this tuner made, by shape key.</summary>
    public IReadOnlyDictionary<string, ConvDecision> Decisions => decisions;

    public static string Name(ConvAlgorithm a) => a switch
    {
        ConvAlgorithm.Libtorch => "libtorch", ConvAlgorithm.Im2Col => "im2col", ConvAlgorithm.Im2ColLeft => "im2col-left", _ => "taps",
    };

    public static bool TryParse(string name, out ConvAlgorithm algorithm)
    {
        foreach (var a in Enum.GetValues<ConvAlgorithm>())
            if (Name(a).Equals(name, StringComparison.OrdinalIgnoreCase)) { algorithm = a; return true; }
        algorithm = default;
        return false;
    }

    /// <summary>The algorithm for this call's shape (the same for every call of the shape in this process).</summary>
    /// <param name="x">(batch, in, samples)</param> <param name="weight">(out, in / groups, kernel)</param>
    public ConvAlgorithm Choose(Tensor x, Tensor weight, long stride, long padding, long dilation, long groups)
    {
        if (!x.device.type.Equals(DeviceType.CPU)) return ConvAlgorithm.Libtorch;   // CUDA: cuDNN's choice
        return Choose(ConvShape.Of(x, weight, stride, padding, dilation, groups));
    }

    /// <summary>The algorithm for a CPU convolution of this shape.</summary>
    public ConvAlgorithm Choose(ConvShape shape)
    {
        var rule = Convolutions.UsesIm2Col(shape.In, shape.Out, shape.Groups) ? ConvAlgorithm.Im2Col : ConvAlgorithm.Libtorch;
        if (forced is { } f) return f == ConvAlgorithm.Libtorch ? rule : f;
        if (shape.DType is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16) || shape.BucketFlop < MinTunedFlop) return rule;
        var key = shape.Key;
        return decisions.TryGetValue(key, out var d) ? d.Algorithm : Decide(shape, key).Algorithm;
    }

    ConvDecision Decide(ConvShape shape, string key)
    {
        lock (MeasureGate)
        {
            if (decisions.TryGetValue(key, out var done)) return done;
            var candidates = Candidates(shape);
            var machine = MachineKey.Current;
            ConvDecision? decision = null;
            if (cache?.Get(machine, key) is { } entry && entry["algorithm"]?.GetValue<string>() is { } name
                && TryParse(name, out var cached) && candidates.Contains(cached))
                decision = new ConvDecision(cached, "cache", new Dictionary<ConvAlgorithm, double>(), 0);
            if (decision is null)
            {
                var (ms, gflop) = Measure(shape, candidates, budgetMs);
                var best = candidates[0];
                foreach (var c in candidates.Skip(1))
                    if (ms[c] < ms[best] * (best == candidates[0] ? 1 - MinGain : 1)) best = c;
                decision = new ConvDecision(best, "measured", ms, gflop);
                cache?.Set(machine, key, new JsonObject
                {
                    ["algorithm"] = Name(best),
                    ["ms"] = new JsonObject(ms.Select(p => KeyValuePair.Create(Name(p.Key), (JsonNode?)Math.Round(p.Value, 3)))),
                    ["tuning_gflop"] = Math.Round(gflop, 3),
                });
            }
            decisions[key] = decision;
            return decision;
        }
    }

    /// <summary>
    /// The algorithms a shape may run on, the shape rule's first: never libtorch where its kernels pad channels, no
    /// unfolded copy over max(256 MiB, twice the input) at the bucket's size, no per-tap sum over more than 16 taps or
    /// under 16 input channels per group.
    /// </summary>
    public static IReadOnlyList<ConvAlgorithm> Candidates(ConvShape shape)
    {
        var list = new List<ConvAlgorithm>();
        var unsafeForLibtorch = Convolutions.UsesIm2Col(shape.In, shape.Out, shape.Groups);
        if (!unsafeForLibtorch) list.Add(ConvAlgorithm.Libtorch);
        double element = shape.DType == ScalarType.Float32 ? 4 : 2;
        var columns = element * shape.BatchBucket * shape.In * shape.Kernel * shape.FramesBucket;
        var input = element * shape.BatchBucket * shape.In * shape.SamplesFor(shape.FramesBucket);
        if (unsafeForLibtorch || columns <= Math.Max(256.0 * (1 << 20), 2 * input))
        {
            list.Add(ConvAlgorithm.Im2Col);
            list.Add(ConvAlgorithm.Im2ColLeft);
        }
        // Taps: worth trying for a few taps of real channel-mixing products; with 1-8 input channels each is an outer product.
        if ((shape.Kernel <= 16 && shape.In / shape.Groups >= 16) || list.Count == 0) list.Add(ConvAlgorithm.Taps);
        return list;
    }

    /// <summary>
    /// Times each candidate on random input of the shape (its batch × frames cut to 1 GFLOP per call, ≥ 256 frames): one warm-up
    /// call each, then rounds of one call per candidate until <paramref name="budgetMs"/> is spent (at least 1, at most 20).
    /// </summary>
    /// <returns>the fastest call of each candidate in milliseconds, and the GFLOP of one call</returns>
    /// <param name="callFlop">the cap on one call's work (the bench passes infinity to time the real shape)</param>
    public static (Dictionary<ConvAlgorithm, double> Ms, double Gflop) Measure(ConvShape shape, IReadOnlyList<ConvAlgorithm> candidates, double budgetMs,
                                                                               double callFlop = TuningCallFlop)
    {
        var (batch, frames) = double.IsPositiveInfinity(callFlop) ? (shape.Batch, shape.Frames) : shape.TuningSize(callFlop);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var generator = new Generator(0x5eed);                   // private: the caller's random stream is untouched
        var x = randn(new long[] { batch, shape.In, shape.SamplesFor(frames) }, generator: generator).to(shape.DType); // (batch, in, samples)
        var w = randn(new long[] { shape.Out, shape.In / shape.Groups, shape.Kernel }, generator: generator).to(shape.DType);
        double Call(ConvAlgorithm c)
        {
            var clock = Stopwatch.StartNew();
            using var y = Convolutions.Run(c, x, w, null, shape.Stride, shape.Padding, shape.Dilation, shape.Groups);
            return clock.Elapsed.TotalMilliseconds;
        }
        // Warm-up calls (first-call kernel set-up, allocator), then rounds of one call per candidate, so that a burst of
        // load from another process slows every candidate alike; each candidate's fastest call is its time.
        var ms = candidates.ToDictionary(c => c, Call);
        var spent = ms.Values.Sum();
        var racing = candidates.Where(c => ms[c] <= DropAfterWarmUp * ms.Values.Min()).ToList();   // 3× slower cannot win
        foreach (var c in racing) ms[c] = double.PositiveInfinity;
        for (var round = 0; round < MaxCalls && (round < 1 || spent < budgetMs); round++)
        {
            foreach (var c in racing)
            {
                var t = Call(c);
                spent += t;
                ms[c] = Math.Min(ms[c], t);
            }
            if (round == 0) racing = racing.Where(c => ms[c] <= DropAfterWarmUp * racing.Min(r => ms[r])).ToList();
        }
        return (ms, shape.Flop(batch, frames) / 1e9);
    }
}

/// <summary>A conv1d call's shape, and its key: the batch rounded down and the output frames up to a power of two.</summary>
public readonly record struct ConvShape(long Batch, long In, long Out, long Kernel, long Stride, long Padding, long Dilation, long Groups,
                                        long Frames, ScalarType DType)
{
    /// <param name="x">(batch, in, samples)</param> <param name="weight">(out, in / groups, kernel)</param>
    public static ConvShape Of(Tensor x, Tensor weight, long stride, long padding, long dilation, long groups) =>
        Of(x.size(0), x.size(1), x.size(2), weight.size(0), weight.size(2), stride, padding, dilation, groups, x.dtype);

    public static ConvShape Of(long batch, long inChannels, long samples, long outChannels, long kernel, long stride, long padding, long dilation,
                               long groups, ScalarType dtype)
    {
        var frames = (samples + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1;
        return new ConvShape(batch, inChannels, outChannels, kernel, stride, padding, dilation, groups, Math.Max(1, frames), dtype);
    }

    public long BatchBucket => 1L << BitOperations.Log2((ulong)Math.Max(1, Batch));
    public long FramesBucket => (long)BitOperations.RoundUpToPowerOf2((ulong)Frames);

    public string Key => $"{In}->{Out} k{Kernel} s{Stride} p{Padding} d{Dilation} g{Groups} {DType} b{BatchBucket} f{FramesBucket}";

    /// <summary>Multiply-adds × 2 of one call at the given batch and output frames.</summary>
    public double Flop(long batch, long frames) => 2.0 * batch * Out * (In / Groups) * Kernel * frames;

    public double BucketFlop => Flop(BatchBucket, FramesBucket);

    /// <summary>Input samples that give <paramref name="frames"/> output frames.</summary>
    public long SamplesFor(long frames) => Math.Max(1, (frames - 1) * Stride + Dilation * (Kernel - 1) + 1 - 2 * Padding);

    /// <summary>
    /// The bucket's batch and frames, halved (frames first) until one call is at most <paramref name="flop"/>, but never
    /// under 256 frames (fewer would time a different regime: the positional conv's 128 taps over 32 frames).
    /// </summary>
    public (long Batch, long Frames) TuningSize(double flop)
    {
        var (b, f) = (BatchBucket, FramesBucket);
        var minFrames = Math.Min(FramesBucket, 256);
        while (Flop(b, f) > flop && (b > 1 || f > minFrames))
            if (f > 1024 || b == 1) f /= 2; else b /= 2;
        return (b, f);
    }
}
