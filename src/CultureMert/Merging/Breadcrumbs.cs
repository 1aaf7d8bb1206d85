using TorchSharp;
using static TorchSharp.torch;
using static CultureMert.Scalars;

namespace CultureMert.Merging;

/// <summary>
/// Model Breadcrumbs (Davari and Belilovsky 2023, arXiv:2312.06795): each task vector loses its largest-magnitude
/// entries (outliers, a fraction γ) and its smallest (all but the next fraction density), then a weighted sum.
/// Per tensor, as TIES trims.
/// </summary>
public static class Breadcrumbs
{
    /// <summary>Each model's kept entries: ranks ⌊γ·n⌋ … ⌊γ·n⌋ + keep − 1 by magnitude, descending. deltas (models, ...) → (models, ...).</summary>
    public static Tensor Mask(Tensor deltas, double density, double gamma)
    {
        using var scope = NewDisposeScope();
        var m = deltas.size(0);
        var masked = deltas.reshape(m, -1).clone();                                // (models, n)
        var n = masked.size(1);
        var drop = (long)Math.Floor(gamma * n + 1e-9);
        var keep = Math.Min(Ties.KeepCount(n, density), n - drop);
        for (var i = 0; i < m; i++)
        {
            using var inner = NewDisposeScope();
            var row = masked[i];                                                    // (n)
            var order = row.abs().sort(descending: true, stable: true).Indices;          // (n), largest first
            var kept = zeros_like(row, ScalarType.Bool).index_fill_(0, order.narrow(0, drop, keep), Of(true));
            row.mul_(kept);
        }
        return masked.reshape(deltas.shape).MoveToOuterDisposeScope();
    }

    /// <summary>Σ_i w_i · mask_i(τ_i). deltas (models, ...) → (...).</summary>
    public static Tensor Combine(Tensor deltas, IReadOnlyList<double> weights, double density, double gamma)
    {
        using var scope = NewDisposeScope();
        return TaskVectors.WeightedSum(Mask(deltas, density, gamma), weights).MoveToOuterDisposeScope();
    }
}
