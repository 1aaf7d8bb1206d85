using static TorchSharp.torch;

namespace CultureMert.Merging;

/// <summary>Task arithmetic (Ilharco et al. 2023, arXiv:2212.04089), the merge behind CultureMERT-TA-95M.</summary>
public static class TaskArithmetic
{
    /// <summary>Combined task vector Σ_i w_i τ_i (θ = θ_base + λ·it). deltas (models, ...) → (...).</summary>
    public static Tensor Combine(Tensor deltas, IReadOnlyList<double> weights) => TaskVectors.WeightedSum(deltas, weights);
}
