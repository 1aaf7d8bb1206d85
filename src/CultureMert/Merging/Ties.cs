using TorchSharp;
using static TorchSharp.torch;

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
        var flat = deltas.reshape(M, -1);                                        // (models, n)
        var k = KeepCount(flat.size(1), density);
        if (k == flat.size(1)) return deltas.clone().MoveToOuterDisposeScope();
        var top = flat.abs().topk((int)k, dim: 1).indexes;                        // (models, k)
        var mask = zeros_like(flat, ScalarType.Bool).scatter_(1, top, ones_like(top, ScalarType.Bool));
        return (flat * mask).reshape(deltas.shape).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// TIES sign election (arXiv:2306.01708 §3): keep entries agreeing with the sign of the summed (weighted) deltas, + on a tie.
    /// deltas (models, ...) → bool mask, same shape; zero entries never agree.
    /// </summary>
    public static Tensor ElectSign(Tensor deltas)
    {
        using var scope = NewDisposeScope();
        var majority = deltas.sum(dim: 0).ge(0).to(deltas.dtype) * 2 - 1;            // (...), ±1
        return deltas.sign().eq(majority).MoveToOuterDisposeScope();             // (models, ...)
    }

    /// <summary>
    /// TIES disjoint mean (arXiv:2306.01708 §3): Σ_i w_i τ_i·agree_i / Σ_i w_i·agree_i per entry, 0 where no model agrees.
    /// deltas (models, ...), agree (models, ...) bool → (...).
    /// </summary>
    public static Tensor DisjointMean(Tensor deltas, Tensor agree, IReadOnlyList<double> weights)
    {
        using var scope = NewDisposeScope();
        var w = TaskVectors.Broadcast(weights, deltas) * agree;                  // (models, ...)
        var total = w.sum(dim: 0);                                                    // (...)
        var sum = (deltas * w).sum(dim: 0);                                           // (...)
        return where(total.ne(0), sum / where(total.ne(0), total, ones_like(total)), zeros_like(sum)).MoveToOuterDisposeScope();
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
        var agree = ElectSign(sparse * TaskVectors.Broadcast(weights, sparse));
        return DisjointMean(sparse, agree, weights).MoveToOuterDisposeScope();
    }
}
