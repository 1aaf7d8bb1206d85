using System.Text.Json;
using System.Text.Json.Nodes;

namespace CultureMert.Evaluation;

// Tagging metrics with scikit-learn's exact semantics (sklearn/metrics/_ranking.py, _classification.py), as used by the
// MARBLE / MagnaTagATune probes. Ties follow `_binary_clf_curve`: one curve point per distinct score, taken after every
// sample with that score. The order inside a tie never matters, so pos and neg scores are sorted separately (no stable
// sort needed) and merged from the top.

/// <summary>Binary metrics: one score and one 0/1 truth per sample, in double precision.</summary>
public static class Metrics
{
    /// <summary>
    /// sklearn <c>roc_auc_score</c>: the ROC curve from (0,0) through every distinct threshold, integrated by trapezoids.
    /// Accumulated in integer counts (Σ ΔFP·(TP + TP_prev) / 2PN), so it equals sklearn's to rounding.
    /// </summary>
    /// <exception cref="ArgumentException">NaN scores, or truth with one class only (sklearn raises too).</exception>
    public static double RocAuc(ReadOnlySpan<double> scores, ReadOnlySpan<bool> truth) =>
        Binary(scores, truth).RocAuc ?? throw new ArgumentException("ROC-AUC is undefined: the truth has one class only.");

    /// <summary>sklearn <c>average_precision_score</c>: Σ (R_n − R_{n−1})·P_n over distinct thresholds, no interpolation.</summary>
    /// <exception cref="ArgumentException">NaN scores, or truth without a positive.</exception>
    public static double AveragePrecision(ReadOnlySpan<double> scores, ReadOnlySpan<bool> truth) =>
        Binary(scores, truth).AveragePrecision ?? throw new ArgumentException("average precision is undefined: the truth has no positive.");

    /// <summary>sklearn <c>f1_score</c> of <c>score &gt;= threshold</c> with zero_division=0: 2TP / (2TP + FP + FN), 0 when that is 0/0.</summary>
    public static double F1(ReadOnlySpan<double> scores, ReadOnlySpan<bool> truth, double threshold)
    {
        Check(scores, truth);
        long tp = 0, fp = 0, fn = 0;
        for (var i = 0; i < scores.Length; i++)
        {
            var predicted = scores[i] >= threshold;
            if (predicted && truth[i]) tp++;
            else if (predicted) fp++;
            else if (truth[i]) fn++;
        }
        return F1(tp, fp, fn);
    }

    internal static double F1(long tp, long fp, long fn) => tp == 0 ? 0 : 2.0 * tp / (2.0 * tp + fp + fn);

    static Curve Binary(ReadOnlySpan<double> scores, ReadOnlySpan<bool> truth)
    {
        Check(scores, truth);
        var positives = 0;
        foreach (var t in truth) positives += t ? 1 : 0;
        double[] pos = new double[positives], neg = new double[truth.Length - positives];
        int p = 0, q = 0;
        for (var i = 0; i < scores.Length; i++)
        {
            if (double.IsNaN(scores[i])) throw new ArgumentException($"score {i} is NaN.");
            if (truth[i]) pos[p++] = scores[i]; else neg[q++] = scores[i];
        }
        Array.Sort(pos);
        Array.Sort(neg);
        return Curve.Merge([pos, neg], [true, false]);
    }

    static void Check(ReadOnlySpan<double> scores, ReadOnlySpan<bool> truth)
    {
        if (scores.Length != truth.Length) throw new ArgumentException($"{scores.Length} scores but {truth.Length} truth values.");
        if (scores.Length == 0) throw new ArgumentException("no samples.");
    }
}

/// <summary>
/// The ranking curve summarised while it is walked, threshold by threshold from the highest score: counts of positives
/// and negatives, twice the (unnormalised) ROC area Σ ΔFP·(TP + TP_prev), and Σ ΔTP·precision for AP.
/// </summary>
readonly record struct Curve(long Positives, long Negatives, long TwiceArea, double RecallPrecisionSum)
{
    public double? RocAuc => Positives == 0 || Negatives == 0 ? null : TwiceArea / 2.0 / Positives / Negatives;
    public double? AveragePrecision => Positives == 0 ? null : RecallPrecisionSum / Positives;

    /// <summary>
    /// Merges runs sorted ascending (each all positive or all negative) from their tops with a max-heap, one curve point
    /// per distinct score across all runs: two runs give one tag's curve, 2×tags runs the micro (pooled) curve.
    /// </summary>
    public static Curve Merge(double[][] runs, bool[] positive)
    {
        var next = new int[runs.Length];                 // index of each run's next (largest unread) score; −1 when done
        var heap = new int[runs.Length];
        var size = 0;
        for (var r = 0; r < runs.Length; r++)
            if ((next[r] = runs[r].Length - 1) >= 0) heap[size++] = r;
        for (var i = size / 2 - 1; i >= 0; i--) SiftDown(heap, size, i, runs, next);
        long tp = 0, fp = 0, prevTp = 0, prevFp = 0, twiceArea = 0;
        var recallPrecision = 0.0;
        while (size > 0)
        {
            var v = runs[heap[0]][next[heap[0]]];
            do
            {
                var r = heap[0];
                var a = runs[r];
                int start = next[r], j = start;
                while (j >= 0 && a[j] == v) j--;             // == treats −0 and +0 as one threshold, as numpy's diff does
                if (positive[r]) tp += start - j; else fp += start - j;
                next[r] = j;
                if (j < 0) heap[0] = heap[--size];
                if (size > 0) SiftDown(heap, size, 0, runs, next);
            } while (size > 0 && runs[heap[0]][next[heap[0]]] == v);
            twiceArea += (fp - prevFp) * (tp + prevTp);   // trapezoid from the previous point; (0,0) is the first
            if (tp > prevTp) recallPrecision += (double)(tp - prevTp) * tp / (tp + fp);
            (prevTp, prevFp) = (tp, fp);
        }
        return new Curve(tp, fp, twiceArea, recallPrecision);
    }

    static void SiftDown(int[] heap, int size, int i, double[][] runs, int[] next)
    {
        var item = heap[i];
        var key = runs[item][next[item]];
        while (true)
        {
            var child = 2 * i + 1;
            if (child >= size) break;
            var ck = runs[heap[child]][next[heap[child]]];
            if (child + 1 < size)
            {
                var rk = runs[heap[child + 1]][next[heap[child + 1]]];
                if (rk > ck) { child++; ck = rk; }
            }
            if (ck <= key) break;
            heap[i] = heap[child];
            i = child;
        }
        heap[i] = item;
    }
}

/// <summary>One tag's metrics; ROC-AUC and AP are both null when the tag's truth has one class only (AP of an all-positive tag, 1, is not reported either).</summary>
public sealed record TagMetrics(string Tag, double? RocAuc, double? AveragePrecision, double F1, long Positives, long Negatives);

/// <summary>
/// Multi-label metrics as sklearn's <c>average="macro"</c> / <c>"micro"</c>. Macro ROC-AUC and AP are unweighted means
/// over the tags with both classes; the others are named in <see cref="SkippedTags"/> (sklearn would raise). Micro pools
/// every (sample, tag) pair, skipped tags included. F1 keeps sklearn's behaviour: every tag counts in the macro mean, a
/// tag without positives or predictions scoring 0 (zero_division=0). A value is null when no tag (or pair) defines it.
/// </summary>
public sealed record MultiLabelMetrics(double? RocAucMacro, double? RocAucMicro, double? ApMacro, double? ApMicro,
                                       double F1Micro, double F1Macro, double Threshold, long Samples,
                                       TagMetrics[] PerTag, string[] SkippedTags)
{
    /// <summary>The JSON of <c>culturemert metrics --json</c>; per_tag is keyed by tag, in column order.</summary>
    public string ToJson()
    {
        var perTag = new JsonObject();
        foreach (var t in PerTag)
            perTag[t.Tag] = new JsonObject
            {
                ["roc_auc"] = t.RocAuc, ["ap"] = t.AveragePrecision, ["f1"] = t.F1,
                ["positives"] = t.Positives, ["negatives"] = t.Negatives,
            };
        var json = new JsonObject
        {
            ["roc_auc_macro"] = RocAucMacro, ["roc_auc_micro"] = RocAucMicro,
            ["ap_macro"] = ApMacro, ["ap_micro"] = ApMicro,
            ["f1_micro"] = F1Micro, ["f1_macro"] = F1Macro,
            ["threshold"] = Threshold, ["samples"] = Samples,
            ["per_tag"] = perTag,
            ["skipped_tags"] = new JsonArray([.. SkippedTags.Select(s => (JsonNode?)JsonValue.Create(s))]),
        };
        return json.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }
}

/// <summary>Multi-label (samples × tags) metrics.</summary>
public static class MultiLabel
{
    /// <summary>
    /// All metrics of <paramref name="scores"/> against <paramref name="truth"/>, both (sample, tag). Each tag is sorted
    /// once (tags in parallel); the micro curve merges those sorted runs instead of sorting the pooled pairs again. That
    /// merge is sequential and the larger part of the time at 1e6 × 50 (about 3 s of 6 s on 2 cores).
    /// </summary>
    /// <exception cref="ArgumentException">Mismatched shapes, no samples or tags, NaN threshold, or a NaN score (naming its tag).</exception>
    public static MultiLabelMetrics Compute(bool[,] truth, double[,] scores, double threshold, string[] tags)
    {
        var (n, k) = (scores.GetLength(0), scores.GetLength(1));
        if (truth.GetLength(0) != n || truth.GetLength(1) != k)
            throw new ArgumentException($"truth is {truth.GetLength(0)}×{truth.GetLength(1)} but scores are {n}×{k}.");
        if (tags.Length != k) throw new ArgumentException($"{tags.Length} tag names for {k} score columns.");
        if (n == 0 || k == 0) throw new ArgumentException("no samples or no tags.");
        if (double.IsNaN(threshold)) throw new ArgumentException("the threshold is NaN.");

        var runs = new double[2 * k][];                  // runs[2t]: tag t's positive scores, runs[2t+1]: its negatives, ascending
        var counts = new (long Tp, long Fp, long Fn)[k];
        var curves = new Curve[k];
        var nanRow = new int[k];
        Parallel.For(0, k, t =>
        {
            var positives = 0;
            for (var i = 0; i < n; i++) positives += truth[i, t] ? 1 : 0;
            double[] pos = new double[positives], neg = new double[n - positives];
            int p = 0, q = 0;
            long tp = 0, fp = 0;
            nanRow[t] = -1;
            for (var i = 0; i < n; i++)
            {
                var s = scores[i, t];
                if (double.IsNaN(s)) { nanRow[t] = i; return; }
                if (truth[i, t]) { pos[p++] = s; tp += s >= threshold ? 1 : 0; }
                else { neg[q++] = s; fp += s >= threshold ? 1 : 0; }
            }
            Array.Sort(pos);
            Array.Sort(neg);
            (runs[2 * t], runs[2 * t + 1]) = (pos, neg);
            counts[t] = (tp, fp, positives - tp);
            curves[t] = Curve.Merge([pos, neg], [true, false]);
        });
        for (var t = 0; t < k; t++)
            if (nanRow[t] >= 0) throw new ArgumentException($"tag '{tags[t]}': score of sample {nanRow[t]} is NaN.");

        var perTag = new TagMetrics[k];
        for (var t = 0; t < k; t++)
            perTag[t] = new TagMetrics(tags[t], curves[t].RocAuc, curves[t].RocAuc is null ? null : curves[t].AveragePrecision,
                                       Metrics.F1(counts[t].Tp, counts[t].Fp, counts[t].Fn), curves[t].Positives, curves[t].Negatives);
        var kept = perTag.Where(x => x.RocAuc is not null).ToArray();
        var micro = Curve.Merge(runs, [.. Enumerable.Range(0, 2 * k).Select(r => r % 2 == 0)]);
        var (sumTp, sumFp, sumFn) = (counts.Sum(c => c.Tp), counts.Sum(c => c.Fp), counts.Sum(c => c.Fn));
        return new MultiLabelMetrics(
            RocAucMacro: kept.Length > 0 ? kept.Average(x => x.RocAuc!.Value) : null, RocAucMicro: micro.RocAuc,
            ApMacro: kept.Length > 0 ? kept.Average(x => x.AveragePrecision!.Value) : null, ApMicro: micro.AveragePrecision,
            F1Micro: Metrics.F1(sumTp, sumFp, sumFn), F1Macro: perTag.Average(x => x.F1), Threshold: threshold, Samples: n,
            PerTag: perTag, SkippedTags: [.. perTag.Where(x => x.RocAuc is null).Select(x => x.Tag)]);
    }
}
