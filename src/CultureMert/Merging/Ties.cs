using TorchSharp;
using static TorchSharp.torch;
using static CultureMert.Scalars;

namespace CultureMert.Merging;

/// <summary>TIES-Merging (Yadav et al. 2023, arXiv:2306.01708): trim, elect sign, disjoint mean.</summary>
public static class Ties
{
    /// <summary>
    /// Entries kept when trimming <paramref name="numel"/> entries to the top <paramref name="density"/> fraction: ⌊density·n⌋
    /// as mergekit's sparsify, with a tolerance for 0.3·10 = 2.999…, and at least one.
    /// </summary>
    public static long KeepCount(long numel, double density) => Math.Clamp((long)Math.Floor(density * numel + 1e-9), Math.Min(1, numel), numel);

    /// <summary>
    /// TIES trim (arXiv:2306.01708 §3): keep each model's top-density fraction of entries by magnitude, zero the rest.
    /// deltas (models, ...) → (models, ...).
    /// </summary>
    public static Tensor Trim(Tensor deltas, double density)
    {
        if (density >= 1) return deltas.clone();
        using var scope = NewDisposeScope();
        var M = deltas.size(0);
        var trimmed = deltas.reshape(M, -1).clone();                              // (models, n)
        var k = KeepCount(trimmed.size(1), density);
        if (k == trimmed.size(1)) return trimmed.reshape(deltas.shape).MoveToOuterDisposeScope();
        for (var i = 0; i < M; i++)                                               // one model at a time: temporaries of one row only
        {
            using var inner = NewDisposeScope();
            var row = trimmed[i];                                                 // (n)
            var top = row.abs().topk((int)k).indexes;                             // (k)
            var keep = zeros_like(row, ScalarType.Bool).index_fill_(0, top, Of(true));
            row.mul_(keep);
        }
        return trimmed.reshape(deltas.shape).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// TIES sign election (arXiv:2306.01708 §3): keep entries agreeing with the sign of the summed (weighted) deltas, + on a tie.
    /// deltas (models, ...) → bool mask, same shape; zero entries never agree.
    /// </summary>
    public static Tensor ElectSign(Tensor deltas)
    {
        using var scope = NewDisposeScope();
        var majority = deltas.sum(dim: 0).ge(Of(0)).to(deltas.dtype).mul(Of(2)).sub(One);       // (...), ±1
        var agree = empty(deltas.shape, ScalarType.Bool, deltas.device);         // (models, ...)
        for (var i = 0; i < deltas.size(0); i++) agree[i].copy_(deltas[i].sign().eq(majority));
        return agree.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// TIES disjoint mean (arXiv:2306.01708 §3): Σ_i w_i τ_i·agree_i / Σ_i w_i·agree_i per entry, 0 where no model agrees.
    /// deltas (models, ...), agree (models, ...) bool → (...).
    /// </summary>
    public static Tensor DisjointMean(Tensor deltas, Tensor agree, IReadOnlyList<double> weights)
    {
        using var scope = NewDisposeScope();
        var total = zeros(deltas.shape[1..], deltas.dtype, deltas.device);      // (...) Σ_i w_i·agree_i
        var sum = zeros_like(total);                                             // (...) Σ_i w_i·τ_i·agree_i
        for (var i = 0; i < weights.Count; i++)
        {
            using var inner = NewDisposeScope();
            var a = agree[i].to(deltas.dtype);
            total.add_(a, alpha: Of(weights[i]));
            sum.add_(a.mul_(deltas[i]), alpha: Of(weights[i]));
        }
        var none = total.eq(Of(0));
        sum.masked_fill_(none, Of(0));
        return sum.div_(total.masked_fill_(none, One)).MoveToOuterDisposeScope();  // no agreeing model: sum is 0 there, so 0/1 = 0
    }

    /// <summary>TIES-combined task vector (θ = θ_base + λ·it). deltas (models, ...) → (...).</summary>
    public static Tensor Combine(Tensor deltas, IReadOnlyList<double> weights, double density)
    {
        using var scope = NewDisposeScope();
        return Merge(Trim(deltas, density), weights).MoveToOuterDisposeScope();
    }

    /// <summary>Sign election on the weighted deltas, then the disjoint mean; deltas already sparsified (trimmed or DARE-dropped).</summary>
    public static Tensor Merge(Tensor sparse, IReadOnlyList<double> weights)
    {
        using var scope = NewDisposeScope();
        var weighted = sparse.clone();
        for (var i = 0; i < weights.Count; i++) weighted[i].mul_(Of(weights[i]));
        var agree = ElectSign(weighted);
        weighted.Dispose();
        return DisjointMean(sparse, agree, weights).MoveToOuterDisposeScope();
    }
}
