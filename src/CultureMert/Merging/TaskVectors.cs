using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Merging;

/// <summary>
/// Task vectors (Ilharco et al. 2023, arXiv:2212.04089): τ_i = θ_i − θ_base per tensor, and the steps every merge method
/// shares. Arithmetic is in float64, so that θ_base + 1·(θ_i − θ_base) gives θ_i back bit for bit in float32/16.
/// </summary>
public static class TaskVectors
{
    /// <summary>τ_i = θ_i − θ_base for every model. baseT (...), models each (...) → (models, ...) float64.</summary>
    public static Tensor Deltas(Tensor baseT, IReadOnlyList<Tensor> models)
    {
        using var scope = NewDisposeScope();
        var b = baseT.to(ScalarType.Float64);
        return stack(models.Select(m => m.to(ScalarType.Float64) - b).ToArray()).MoveToOuterDisposeScope();   // (models, ...)
    }

    /// <summary>Σ_i w_i τ_i. deltas (models, ...), weights (models) → (...).</summary>
    public static Tensor WeightedSum(Tensor deltas, IReadOnlyList<double> weights)
    {
        using var scope = NewDisposeScope();
        return (deltas * Broadcast(weights, deltas)).sum(dim: 0).MoveToOuterDisposeScope();
    }

    /// <summary>θ = θ_base + λ·τ, cast back to the base's dtype. baseT (...), combined (...) float64 → (...) in baseT's dtype.</summary>
    public static Tensor Apply(Tensor baseT, Tensor combined, double lambda)
    {
        using var scope = NewDisposeScope();
        if (lambda == 0) return baseT.clone().MoveToOuterDisposeScope();
        return (baseT.to(ScalarType.Float64) + lambda * combined).to(baseT.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>Per-model weights as a (models, 1, …, 1) float64 tensor that broadcasts over <paramref name="like"/> (models, ...).</summary>
    public static Tensor Broadcast(IReadOnlyList<double> weights, Tensor like)
    {
        var shape = new long[like.dim()];
        Array.Fill(shape, 1L);
        shape[0] = weights.Count;
        return tensor(weights.ToArray(), ScalarType.Float64).reshape(shape);
    }
}
