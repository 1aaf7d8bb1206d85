using System.Globalization;
using CultureMert.Checkpoints;
using CultureMert.IO;
using CultureMert.Reports;
using static TorchSharp.torch;

namespace CultureMert.Merging;

/// <summary>One merge sequence compared with the one-shot merge: which sequence, its step, and the three measures.</summary>
/// <param name="Scenario">"order" (a left fold over one ordering of the models), "remerge" (the merged model merged again with all models)</param>
/// <param name="Sequence">the ordering ("lyra>makam>hindustani") or "all"</param>
/// <param name="Step">merges done so far (order: models folded in − 1; remerge: rounds, 1 = the one-shot merge itself)</param>
/// <param name="RelativeDistance">‖τ − τ*‖ / ‖τ*‖ over every merged tensor, τ* the one-shot merged task vector</param>
/// <param name="Cosine">cos(τ, τ*)</param>
/// <param name="EffectiveLambda">λ·⟨τ, τ*⟩ / ‖τ*‖²: the λ of the one-shot merge that τ's projection on τ* amounts to (λ drift)</param>
public sealed record StabilityRow(string Scenario, string Sequence, int Step, double RelativeDistance, double Cosine, double EffectiveLambda);

/// <summary>
/// Whether merging stays stable when it is repeated (CultureMERT's open question), in weight space: (a) order and grouping —
/// merge(merge(A, B), C) and every other ordering of the left fold against merge(A, B, C); (b) re-merging — the merged
/// model merged again with the same culture models, k rounds; (c) λ drift — the effective scale of each. Every merge
/// is the chosen method at the chosen λ with weights 1; tensors are streamed one name at a time, as in <see cref="MergeJob"/>.
/// The probe side (how the repeated merges score per culture) is the evaluate grid's, on the written merges.
/// </summary>
public static class MergeStability
{
    /// <param name="names">the models' names in the sequences (default: their folder names)</param>
    public static List<StabilityRow> Run(string baseDir, IReadOnlyList<string> modelDirs, MergeOptions options, int rounds = 4, Action<string>? log = null,
                                         IReadOnlyList<string>? names = null)
    {
        if (options.Method == MergeMethod.Slerp) throw new ArgumentException("--method slerp merges two models only; stability needs a method over several.");
        if (modelDirs.Count is < 2 or > 6) throw new ArgumentException($"--models: stability needs 2 to 6 models (every ordering is tried; {modelDirs.Count} given).");
        if (rounds is < 1 or > 8) throw new ArgumentException($"--rounds {rounds}: 1 to 8.");
        var lambda = options.Lambdas[0];
        names ??= [.. modelDirs.Select(d => Path.GetFileName(Path.GetFullPath(d).TrimEnd('/')))];
        if (names.Count != modelDirs.Count) throw new ArgumentException($"{names.Count} names for {modelDirs.Count} models.");
        var orders = Permutations(modelDirs.Count).ToList();
        var sequences = orders.Select(o => ("order", string.Join(">", o.Select(i => names[i])), o)).ToList();
        // accumulators per (sequence, step): ‖τ − τ*‖², ⟨τ, τ*⟩, ‖τ‖²; and ‖τ*‖²
        var acc = new Dictionary<(string, string, int), double[]>();
        double starSq = 0;
        using var inputs = MergeInputs.Open(baseDir, modelDirs);
        var pair = options with { Weights = null };
        var count = inputs.Base.Tensors.Count;
        foreach (var (info, t, b) in inputs.Each())
        {
            if (!b.is_floating_point() || b.numel() == 0) continue;
            var deltas = inputs.Deltas(info.Name, b);                                               // (models, ...)
            Tensor Merge(Tensor d) => MergeJob.Combine(d, Enumerable.Repeat(1.0, (int)d.size(0)).ToArray(), pair, info.Name).mul_(Scalars.Of(lambda));
            var star = Merge(deltas);                                                              // λ·combine(τ_1..τ_M)
            starSq += star.mul(star).sum().item<double>();
            foreach (var (scenario, sequence, order) in sequences)
            {
                var tau = deltas[order[0]];
                for (var j = 1; j < order.Length; j++)
                {
                    tau = Merge(stack([tau, deltas[order[j]]]));
                    Add(acc, (scenario, sequence, j), tau, star);
                }
            }
            var again = star;
            Add(acc, ("remerge", "all", 1), again, star);
            for (var k = 2; k <= rounds; k++)
            {
                again = Merge(cat([again.unsqueeze(0), deltas]));
                Add(acc, ("remerge", "all", k), again, star);
            }
            if ((t + 1) % 50 == 0 || t + 1 == count) log?.Invoke($"[{t + 1}/{count}] tensors measured");
        }
        return [.. acc.Select(kv => new StabilityRow(kv.Key.Item1, kv.Key.Item2, kv.Key.Item3,
                    Math.Sqrt(kv.Value[0] / starSq), kv.Value[1] / Math.Sqrt(kv.Value[2] * starSq), lambda * kv.Value[1] / starSq))];
    }

    static void Add(Dictionary<(string, string, int), double[]> acc, (string, string, int) key, Tensor tau, Tensor star)
    {
        if (!acc.TryGetValue(key, out var a)) acc[key] = a = new double[3];
        using var diff = tau.sub(star);
        a[0] += diff.mul(diff).sum().item<double>();
        a[1] += tau.mul(star).sum().item<double>();
        a[2] += tau.mul(tau).sum().item<double>();
    }

    static IEnumerable<int[]> Permutations(int n)
    {
        if (n == 1) { yield return [0]; yield break; }
        foreach (var p in Permutations(n - 1))
            for (var at = 0; at < n; at++) yield return [.. p[..at], n - 1, .. p[at..]];
    }

    /// <summary>stability.csv (every row) and stability.png (each measure against the step: re-merging, and the orderings' mean).</summary>
    public static void Write(IReadOnlyList<StabilityRow> rows, string outDir)
    {
        static string F(double x) => x.ToString("R", CultureInfo.InvariantCulture);
        Csv.Write(Path.Combine(outDir, "stability.csv"), ["scenario", "sequence", "step", "relative_distance", "cosine", "effective_lambda"],
                  rows.OrderBy(r => r.Scenario).ThenBy(r => r.Sequence).ThenBy(r => r.Step)
                      .Select(r => new[] { r.Scenario, r.Sequence, r.Step.ToString(CultureInfo.InvariantCulture), F(r.RelativeDistance), F(r.Cosine), F(r.EffectiveLambda) }));
        var remerge = rows.Where(r => r.Scenario == "remerge").OrderBy(r => r.Step).ToList();
        var order = rows.Where(r => r.Scenario == "order").GroupBy(r => r.Step).OrderBy(g => g.Key).ToList();
        var steps = remerge.Select(r => r.Step).Union(order.Select(g => g.Key)).Order().ToList();
        string[] labels = [.. steps.Select(s => s.ToString(CultureInfo.InvariantCulture))];
        double At(IEnumerable<(int Step, double Value)> xs, int s) => xs.FirstOrDefault(x => x.Step == s) is { Step: > 0 } x ? x.Value : double.NaN;
        var series = new List<(string Name, double[] Values, double[] Errors)>();
        foreach (var (measure, pick) in new (string, Func<StabilityRow, double>)[] { ("distance", r => r.RelativeDistance), ("cosine", r => r.Cosine), ("effective λ", r => r.EffectiveLambda) })
        {
            series.Add(($"re-merge: {measure}", [.. steps.Select(s => At(remerge.Select(r => (r.Step, pick(r))), s))], [.. steps.Select(_ => double.NaN)]));
            series.Add(($"orderings (mean): {measure}", [.. steps.Select(s => At(order.Select(g => (g.Key, g.Average(pick))), s))], [.. steps.Select(_ => double.NaN)]));
        }
        LayerPlot.SavePng(Path.Combine(outDir, "stability.png"), "repeated merges against the one-shot merge", "value", labels, series, xLabel: "merges (step)");
    }
}
