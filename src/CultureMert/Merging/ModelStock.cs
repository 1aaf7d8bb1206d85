using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Merging;

/// <summary>
/// Model Stock (Jang et al. 2024, arXiv:2403.19522, eq. 3): the average of the models pulled back towards the base by
/// t = N·cos θ / (1 + (N − 1)·cos θ), cos θ the mean pairwise cosine of their task vectors; per tensor, no weights.
/// </summary>
public static class ModelStock
{
    /// <summary>The interpolation ratio t for one tensor. deltas (models ≥ 2, ...) → t; 0 when a task vector is zero there.</summary>
    public static double Ratio(Tensor deltas)
    {
        using var scope = NewDisposeScope();
        var n = (int)deltas.size(0);
        var flat = deltas.reshape(n, -1);                                           // (models, entries)
        var norms = flat.mul(flat).sum(dim: 1).sqrt_().data<double>().ToArray();        // (models)
        if (norms.Any(x => x == 0)) return 0;                                      // a tensor some model left as the base's
        var gram = flat.matmul(flat.T).data<double>().ToArray();                  // (models, models) dot products
        var (sum, pairs) = (0.0, 0);
        for (var i = 0; i < n; i++)
            for (var j = i + 1; j < n; j++, pairs++) sum += gram[i * n + j] / (norms[i] * norms[j]);
        var cos = sum / pairs;
        return n * cos / (1 + (n - 1) * cos);
    }

    /// <summary>t · mean_i τ_i (θ = θ_base + λ·it; λ = 1 is the paper's merge). deltas (models, ...) → (...).</summary>
    public static Tensor Combine(Tensor deltas)
    {
        using var scope = NewDisposeScope();
        using var t = (Ratio(deltas) / deltas.size(0)).ToScalar();
        return deltas.sum(dim: 0).mul_(t).MoveToOuterDisposeScope();
    }
}
