using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Merging;

/// <summary>
/// Iso-C, isotropic merging in the common subspace (Marczak et al. 2025, arXiv:2502.04959): per weight matrix, the
/// summed task matrix Σ w_i τ_i = U·Σ·Vᵀ with its spectrum flattened to the mean singular value, σ̄·U·Vᵀ, so that no
/// direction dominates. Tensors that are not matrices fall back to task arithmetic.
/// </summary>
public static class IsotropicMerge
{
    /// <summary>deltas (models, rows, cols) float64, weights (models) → (rows, cols); other shapes → Σ w_i τ_i.</summary>
    public static Tensor Combine(Tensor deltas, IReadOnlyList<double> weights)
    {
        using var scope = NewDisposeScope();
        var sum = TaskVectors.WeightedSum(deltas, weights);
        if (sum.dim() != 2) return sum.MoveToOuterDisposeScope();
        var (u, s, vh) = linalg.svd(sum, fullMatrices: false);                     // (rows, r), (r), (r, cols)
        using var mean = s.mean().item<double>().ToScalar();
        return u.matmul(vh).mul_(mean).MoveToOuterDisposeScope();
    }
}
