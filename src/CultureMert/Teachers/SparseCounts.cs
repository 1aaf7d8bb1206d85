namespace CultureMert.Teachers;

/// <summary>
/// Counts of integer keys (tokens, or token pairs a·K + b), sparse: the keys that occur, ascending, with their counts.
/// Per-piece bigram histograms need this: a K × K table is a million cells for EnCodec's K = 1024, while a piece of T
/// frames has at most T − 1 distinct pairs. Eight bytes per distinct key; immutable, so pieces can share nothing mutable.
/// </summary>
public sealed class SparseCounts
{
    readonly int[] keys, counts;

    public static readonly SparseCounts Empty = new([], [], 0);

    SparseCounts(int[] keys, int[] counts, long total) => (this.keys, this.counts, Total) = (keys, counts, total);

    /// <summary>Distinct keys.</summary>
    public int Length => keys.Length;

    /// <summary>The keys that occur, ascending.</summary>
    public ReadOnlySpan<int> Keys => keys;

    /// <summary>The count of each of <see cref="Keys"/>, same order.</summary>
    public ReadOnlySpan<int> Counts => counts;

    /// <summary>The arrays behind <see cref="Keys"/> and <see cref="Counts"/>, for readers in this assembly that must not copy them.</summary>
    internal int[] KeyArray => keys;
    internal int[] CountArray => counts;

    /// <summary>The sum of the counts.</summary>
    public long Total { get; }

    /// <summary>The count of <paramref name="key"/> (0 when absent).</summary>
    public long this[int key] => Array.BinarySearch(keys, key) is var i and >= 0 ? counts[i] : 0;

    /// <summary>Counts of the values in <paramref name="values"/>, which is sorted in place (callers pass a scratch copy).</summary>
    public static SparseCounts Of(Span<int> values)
    {
        if (values.Length == 0) return Empty;
        values.Sort();
        var distinct = 1;
        for (var i = 1; i < values.Length; i++) if (values[i] != values[i - 1]) distinct++;
        var (k, c) = (new int[distinct], new int[distinct]);
        var j = -1;
        for (var i = 0; i < values.Length; i++)
        {
            if (i == 0 || values[i] != values[i - 1]) k[++j] = values[i];
            c[j]++;
        }
        return new SparseCounts(k, c, values.Length);
    }

    /// <summary>Unigram counts of one codebook's token row (tokens already checked to lie in 0..K−1).</summary>
    public static SparseCounts Tokens(ReadOnlySpan<long> row)
    {
        var values = new int[row.Length];
        for (var t = 0; t < row.Length; t++) values[t] = (int)row[t];
        return Of(values);
    }

    /// <summary>
    /// Bigram counts of one codebook's token row: the pairs (x_t, x_{t+1}) of consecutive frames, keyed x_t·K + x_{t+1}
    /// (so K·K must fit an int: K ≤ 46340). T frames give T − 1 pairs; a one-frame row gives none.
    /// </summary>
    public static SparseCounts Pairs(ReadOnlySpan<long> row, int codebookSize)
    {
        if (row.Length < 2) return Empty;
        var values = new int[row.Length - 1];
        for (var t = 0; t + 1 < row.Length; t++) values[t] = (int)(row[t] * codebookSize + row[t + 1]);
        return Of(values);
    }

    /// <summary>The key-wise sum of two count sets (a linear merge of the two key lists).</summary>
    public SparseCounts Plus(SparseCounts other)
    {
        if (other.Length == 0) return this;
        if (Length == 0) return other;
        var (k, c) = (new int[Length + other.Length], new int[Length + other.Length]);
        int i = 0, j = 0, n = 0;
        while (i < keys.Length || j < other.keys.Length)
        {
            var fromThis = j == other.keys.Length || (i < keys.Length && keys[i] <= other.keys[j]);
            var fromOther = i == keys.Length || (j < other.keys.Length && other.keys[j] <= keys[i]);
            k[n] = fromThis ? keys[i] : other.keys[j];
            c[n++] = checked((fromThis ? counts[i++] : 0) + (fromOther ? other.counts[j++] : 0));
        }
        return new SparseCounts(k[..n], c[..n], Total + other.Total);
    }
}
