using static TorchSharp.torch;

namespace CultureMert.Pretraining;

/// <summary>One noise segment added to an example.</summary>
/// <param name="SourceExample">batch index of the example holding pool sample <paramref name="PoolStart"/> (never the
/// target example itself)</param>
/// <param name="PoolStart">start in the pool = the other examples concatenated in batch order</param>
/// <param name="InsertAt">first sample of the target example that receives the segment</param>
/// <param name="Length">samples added</param>
public sealed record NoiseSegment(int SourceExample, int PoolStart, int InsertAt, int Length);

/// <summary>What <see cref="NoiseMixture.Apply"/> added: <c>Segments[i]</c> is empty when example i was left clean.</summary>
public sealed record NoiseMixtureLog(IReadOnlyList<IReadOnlyList<NoiseSegment>> Segments);

/// <summary>MERT's in-batch noise mixture (spec mert.md §4 step 2, §7 "augmentation").</summary>
/// <remarks>
/// For each example i, in batch order: one draw u = rng.NextDouble(); the example is mixed when u &gt; mixtureProb
/// (fairseq's <c>rand() &gt; mixture_prob</c> as written in the spec; the mixing probability is 1 − mixtureProb, which is
/// 0.5 for MERT's 0.5). If mixed: pool = all OTHER examples of the clean batch concatenated (length (B−1)·L);
/// n ~ U{minNoises..maxNoises}; per segment, d ~ U{minLength..maxLength} clamped to min(L, pool length);
/// pool start ~ U{0..len(pool) − d} (the spec's fairseq bound is len(pool) − maxLength; we use the drawn d so every
/// segment fits); insertion ~ U{0..L − d}; the segment is ADDED with volume 1.0, no SNR scaling or renormalisation.
/// A segment may run across the boundary between two consecutive pool examples (as in fairseq's flattened pool);
/// <see cref="NoiseSegment.SourceExample"/> names the example at its start. The pool is always the clean input, so
/// noise never contains noise. Draw order per segment: d, pool start, insertion. A batch of one is returned unchanged
/// (as a copy) and consumes no random numbers. The input tensor is never modified; call under no_grad.
/// </remarks>
public static class NoiseMixture
{
    /// <param name="clean">float (batch, samples)</param>
    /// <returns>a new float (batch, samples) tensor on the input's device, and what was added</returns>
    public static (Tensor Mixed, NoiseMixtureLog Log) Apply(Tensor clean, Random rng,
        double mixtureProb = 0.5, int minLength = 12000, int maxLength = 24000, int minNoises = 1, int maxNoises = 3,
        float volume = 1.0f)
    {
        ArgumentNullException.ThrowIfNull(clean);
        ArgumentNullException.ThrowIfNull(rng);
        if (clean.dim() != 2) throw new ArgumentException($"expected (batch, samples), got shape [{string.Join(", ", clean.shape)}].", nameof(clean));
        if (clean.dtype != ScalarType.Float32) throw new ArgumentException($"expected float32, got {clean.dtype}.", nameof(clean));
        if (mixtureProb is < 0 or > 1) throw new ArgumentException($"mixtureProb must be in [0, 1], got {mixtureProb}.", nameof(mixtureProb));
        if (minLength < 1 || maxLength < minLength) throw new ArgumentException($"need 1 ≤ minLength ≤ maxLength, got [{minLength}, {maxLength}].");
        if (minNoises < 1 || maxNoises < minNoises) throw new ArgumentException($"need 1 ≤ minNoises ≤ maxNoises, got [{minNoises}, {maxNoises}].");

        var b = (int)clean.shape[0];
        var l = (int)clean.shape[1];
        var segments = new List<IReadOnlyList<NoiseSegment>>(b);
        if (b < 2 || l == 0)
        {
            for (var i = 0; i < b; i++) segments.Add(Array.Empty<NoiseSegment>());
            return (clean.clone(), new NoiseMixtureLog(segments));
        }

        var src = clean.detach().cpu().contiguous().data<float>().ToArray();   // clean batch, row-major
        var dst = (float[])src.Clone();
        var poolLen = (b - 1) * l;
        for (var i = 0; i < b; i++)
        {
            var list = new List<NoiseSegment>();
            segments.Add(list);
            if (!(rng.NextDouble() > mixtureProb)) continue;
            var n = rng.Next(minNoises, maxNoises + 1);
            for (var k = 0; k < n; k++)
            {
                var d = Math.Min(rng.Next(minLength, maxLength + 1), Math.Min(l, poolLen));
                var poolStart = rng.Next(0, poolLen - d + 1);
                var insertAt = rng.Next(0, l - d + 1);
                for (var t = 0; t < d; t++)
                    dst[i * l + insertAt + t] += volume * src[PoolToFlat(poolStart + t, i, l)];
                list.Add(new NoiseSegment(PoolToExample(poolStart, i, l), poolStart, insertAt, d));
            }
        }
        var mixed = tensor(dst, new long[] { b, l }, ScalarType.Float32);
        return (clean.device_type == TorchSharp.DeviceType.CPU ? mixed : mixed.to(clean.device), new NoiseMixtureLog(segments));
    }

    /// <summary>Batch index of the example holding pool sample <paramref name="j"/> of target example <paramref name="self"/>.</summary>
    public static int PoolToExample(int j, int self, int length)
    {
        var k = j / length;                  // k-th other example
        return k < self ? k : k + 1;          // skip self
    }

    private static int PoolToFlat(int j, int self, int length) => PoolToExample(j, self, length) * length + j % length;
}
