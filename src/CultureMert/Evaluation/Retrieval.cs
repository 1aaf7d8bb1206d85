namespace CultureMert.Evaluation;

/// <summary>
/// Leave-one-out retrieval scores: precision@k over all queries; mAP, MAP@k (AP@k = Σ_{i≤k} P@i·rel_i / min(k, R)),
/// recall@k (relevant items in the top k / R) and MRR (1 / rank of the first relevant item) over the queries with at
/// least one relevant item (R ≥ 1).
/// </summary>
public sealed record RetrievalResult(int[] Ks, double[] PrecisionAtK, double MeanAveragePrecision, int Queries,
                                     double[] RecallAtK, double[] MapAtK, double MeanReciprocalRank)
{
    /// <summary>MAP@k at one of <see cref="Ks"/>.</summary>
    public double MapAt(int k) => MapAtK[IndexOf(k)];

    /// <summary>Recall@k at one of <see cref="Ks"/>.</summary>
    public double RecallAt(int k) => RecallAtK[IndexOf(k)];

    int IndexOf(int k) => Array.IndexOf(Ks, k) is var i and >= 0 ? i : throw new ArgumentException($"k = {k} was not computed (k ∈ {{{string.Join(", ", Ks)}}}).");
}

/// <summary>
/// Similarity retrieval by cosine kNN: every track queries all the others (leave-one-out), ranked by cosine similarity
/// (ties by index). An item is relevant when it shares at least one label with the query. k is capped at n − 1.
/// </summary>
public static class Retrieval
{
    public static RetrievalResult Evaluate(double[][] embeddings, bool[,] labels, int[] ks)
    {
        var n = embeddings.Length;
        if (n < 2) throw new ArgumentException($"retrieval needs at least two tracks, got {n}.");
        if (labels.GetLength(0) != n) throw new ArgumentException($"{labels.GetLength(0)} label rows for {n} embeddings.");
        var k = labels.GetLength(1);
        var unit = embeddings.Select(e =>
        {
            var norm = Math.Sqrt(e.Sum(x => x * x));
            return e.Select(x => norm > 0 ? x / norm : 0).ToArray();
        }).ToArray();
        bool Relevant(int a, int b)
        {
            for (var t = 0; t < k; t++) if (labels[a, t] && labels[b, t]) return true;
            return false;
        }
        var (precision, recall, mapAtK) = (new double[ks.Length], new double[ks.Length], new double[ks.Length]);
        var (apSum, apCount, rrSum) = (0.0, 0, 0.0);
        for (var q = 0; q < n; q++)
        {
            var others = Enumerable.Range(0, n).Where(i => i != q)
                .Select(i => (i, sim: unit[q].Zip(unit[i], (a, b) => a * b).Sum()))
                .OrderByDescending(x => x.sim).ThenBy(x => x.i).Select(x => Relevant(q, x.i)).ToArray();
            var (hits, ap, first) = (0, 0.0, -1);
            var (hitsAt, apAt) = (new int[others.Length], new double[others.Length]);   // hits and Σ P@i·rel_i over the first rank + 1
            for (var rank = 0; rank < others.Length; rank++)
            {
                if (others[rank]) { ap += (double)++hits / (rank + 1); if (first < 0) first = rank; }
                (hitsAt[rank], apAt[rank]) = (hits, ap);
            }
            for (var j = 0; j < ks.Length; j++)
            {
                var kk = Math.Min(ks[j], others.Length);
                precision[j] += (double)hitsAt[kk - 1] / kk;
                if (hits == 0) continue;
                recall[j] += (double)hitsAt[kk - 1] / hits;
                mapAtK[j] += apAt[kk - 1] / Math.Min(kk, hits);
            }
            if (hits == 0) continue;                                           // no relevant item: only precision counts it
            apSum += ap / hits;
            apCount++;
            rrSum += 1.0 / (first + 1);
        }
        double Mean(double sum) => apCount > 0 ? sum / apCount : double.NaN;
        return new RetrievalResult(ks, [.. precision.Select(p => p / n)], Mean(apSum), n,
                                   [.. recall.Select(Mean)], [.. mapAtK.Select(Mean)], Mean(rrSum));
    }
}
