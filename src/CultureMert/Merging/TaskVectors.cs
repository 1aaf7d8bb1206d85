using TorchSharp;
using static TorchSharp.torch;
using static CultureMert.Scalars;

namespace CultureMert.Merging;

/// <summary>
/// Task vectors (Ilharco et al. 2023, arXiv:2212.04089): τ_i = θ_i − θ_base per tensor, and the steps every merge method
/// shares. Arithmetic is in float64, so that θ_base + 1·(θ_i − θ_base) gives θ_i back bit for bit in float32/16.
/// </summary>
public static class TaskVectors
{
    /// <summary>τ_i = θ_i − θ_base for every model. baseT (...), models each (...) → (models, ...) float64.</summary>
    public static Tensor Deltas(Tensor baseT, IReadOnlyList<Tensor> models) => Deltas(baseT, models.Count, i => models[i].alias());

    /// <summary>
    /// τ_i = θ_i − θ_base with the models read one at a time by <paramref name="read"/> (each read tensor is disposed once
    /// copied), written in place into one (models, ...) float64 tensor on the base's device (the reads may be on another):
    /// memory for the result and one model's tensor.
    /// </summary>
    public static Tensor Deltas(Tensor baseT, int models, Func<int, Tensor> read)
    {
        using var scope = NewDisposeScope();
        var b = baseT.to(ScalarType.Float64);
        var deltas = empty([models, .. baseT.shape], ScalarType.Float64, baseT.device);   // (models, ...)
        for (var i = 0; i < models; i++)
        {
            using var m = read(i);
            deltas[i].copy_(m).sub_(b);
        }
        return deltas.MoveToOuterDisposeScope();
    }

    /// <summary>Σ_i w_i τ_i. deltas (models, ...), weights (models) → (...).</summary>
    public static Tensor WeightedSum(Tensor deltas, IReadOnlyList<double> weights)
    {
        using var scope = NewDisposeScope();
        var sum = zeros(deltas.shape[1..], deltas.dtype, deltas.device);      // (...); accumulated model by model, no (models, ...) temporary
        for (var i = 0; i < weights.Count; i++) sum.add_(deltas[i], alpha: Of(weights[i]));
        return sum.MoveToOuterDisposeScope();
    }

    /// <summary>θ = θ_base + λ·τ, cast back to the base's dtype. baseT (...), combined (...) float64 → (...) in baseT's dtype.</summary>
    public static Tensor Apply(Tensor baseT, Tensor combined, double lambda)
    {
        using var scope = NewDisposeScope();
        if (lambda == 0) return baseT.clone().MoveToOuterDisposeScope();
        return combined.mul(Of(lambda)).add_(baseT, One).to(baseT.dtype).MoveToOuterDisposeScope();
    }
}
