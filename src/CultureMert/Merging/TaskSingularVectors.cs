using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Merging;

/// <summary>
/// TSV-Merge (Gargiulo et al. 2025, arXiv:2412.00081): per weight matrix, each task keeps its top ⌊r/T⌋ singular
/// triplets (r = min(rows, cols), T tasks); the tasks' left and right singular vectors, concatenated, are replaced by
/// the nearest orthogonal matrices (polar factors, removing the interference between tasks), singular values kept.
/// Tensors that are not matrices fall back to task arithmetic.
/// </summary>
public static class TaskSingularVectors
{
    /// <summary>deltas (models, rows, cols) float64, weights (models) → (rows, cols); other shapes → Σ w_i τ_i.</summary>
    public static Tensor Combine(Tensor deltas, IReadOnlyList<double> weights)
    {
        if (deltas.dim() != 3) return TaskVectors.WeightedSum(deltas, weights);
        using var scope = NewDisposeScope();
        var t = (int)deltas.size(0);
        var k = Math.Max(1, Math.Min(deltas.size(1), deltas.size(2)) / t);
        var (us, ss, vs) = (new List<Tensor>(), new List<Tensor>(), new List<Tensor>());
        for (var i = 0; i < t; i++)
        {
            using var w = weights[i].ToScalar();
            var (u, s, vh) = linalg.svd(deltas[i].mul(w), fullMatrices: false);      // (rows, r), (r), (r, cols)
            us.Add(u.narrow(1, 0, k));
            ss.Add(s.narrow(0, 0, k));
            vs.Add(vh.narrow(0, 0, k).T);
        }
        var uPerp = Orthogonal(cat(us, 1));                                         // (rows, T·k)
        var vPerp = Orthogonal(cat(vs, 1));                                         // (cols, T·k)
        return uPerp.mul(cat(ss).unsqueeze(0)).matmul(vPerp.T).MoveToOuterDisposeScope();
    }

    /// <summary>The nearest matrix with orthonormal columns (the polar factor P·Qᵀ of X = P·S·Qᵀ). x (n, c) → (n, c).</summary>
    static Tensor Orthogonal(Tensor x)
    {
        var (p, _, qh) = linalg.svd(x, fullMatrices: false);
        return p.matmul(qh);
    }
}
