using static TorchSharp.torch;

namespace CultureMert.Pretraining;

/// <summary>
/// Port of fairseq <c>data_utils.compute_mask_indices</c> for the MERT-v1 setting (spec mert.md §4 step 4):
/// mask_type "static", mask_other 0, no_overlap false, no padding mask, require_same_masks true, mask_dropout 0.
/// </summary>
/// <remarks>
/// Per row (valid length sz = T): num_spans = int(mask_prob·sz/mask_length + u), u ~ U[0,1), at least min_masks;
/// span starts are distinct values drawn without replacement from [0, sz − mask_length); each span covers
/// mask_length frames; the masked set is the union (indices ≥ sz dropped). Then every row is subsampled without
/// replacement down to the smallest masked count in the batch.
/// When sz − mask_length ≤ num_spans (short rows, including T &lt; mask_length) fairseq replaces the start range by
/// [0, num_spans + 1) (its <c>min_len = sz − num_mask − 1</c>); spans running past the end are clipped, so a start at
/// or beyond sz masks nothing. We do the same.
/// We draw u per row (fairseq's newer per-example form); older fairseq drew it once per batch when no padding mask
/// was given — both give the same distribution per row. Random numbers come from the caller's <see cref="Random"/>,
/// so draws are reproducible but not bit-identical to numpy's.
/// </remarks>
public static class SpanMasking
{
    /// <returns>bool (batch, frames), true = masked</returns>
    public static Tensor ComputeMaskIndices(int batch, int frames, Random rng,
        double maskProb = 0.8, int maskLength = 5, int minMasks = 2)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batch);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(frames);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maskLength);
        var rows = new List<int[]>(batch);
        for (var b = 0; b < batch; b++) rows.Add(RowIndices(frames, rng, maskProb, maskLength, minMasks));

        var minCount = rows.Min(r => r.Length);                        // require_same_masks
        var mask = new bool[batch * frames];
        for (var b = 0; b < batch; b++)
        {
            var idx = rows[b].Length > minCount ? Choose(rows[b], minCount, rng) : rows[b];
            foreach (var t in idx) mask[b * frames + t] = true;
        }
        return tensor(mask, new long[] { batch, frames });              // (batch, frames)
    }

    /// <summary>Sorted distinct masked frame indices of one row before the batch-wide subsampling.</summary>
    public static int[] RowIndices(int sz, Random rng, double maskProb = 0.8, int maskLength = 5, int minMasks = 2)
    {
        var numMask = Math.Max(minMasks, (int)(maskProb * sz / maskLength + rng.NextDouble()));
        var minLen = maskLength;
        if (sz - minLen <= numMask) minLen = sz - numMask - 1;         // fairseq: keep room for num_mask distinct starts
        var range = sz - minLen;                                        // starts drawn from [0, range)
        var starts = Choose(Enumerable.Range(0, range).ToArray(), numMask, rng);
        var set = new SortedSet<int>();
        foreach (var s in starts)
            for (var o = 0; o < maskLength; o++)
                if (s + o < sz) set.Add(s + o);
        return set.ToArray();
    }

    /// <summary>k distinct elements of <paramref name="pool"/> (numpy <c>choice(..., replace=False)</c>), via partial Fisher–Yates.</summary>
    private static int[] Choose(int[] pool, int k, Random rng)
    {
        if (k > pool.Length) throw new ArgumentException($"cannot choose {k} of {pool.Length} without replacement.");
        var a = (int[])pool.Clone();
        for (var i = 0; i < k; i++)
        {
            var j = i + rng.Next(a.Length - i);
            (a[i], a[j]) = (a[j], a[i]);
        }
        return a[..k];
    }
}
