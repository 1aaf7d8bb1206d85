using TorchSharp;
using static TorchSharp.torch;
using static CultureMert.Scalars;

namespace CultureMert.Pretraining;

/// <summary>
/// CNN-side terms of MERT's objective (fairseq HubertModel/MERTModel <c>forward_features</c>, spec mert.md §4 step 3).
/// </summary>
public static class FeaturePenalty
{
    /// <summary><c>features_pen = features.float().pow(2).mean()</c>.</summary>
    /// <param name="features">CNN output (batch, channels, frames), already trimmed to the label length</param>
    /// <returns>scalar</returns>
    public static Tensor Penalty(Tensor features)
    {
        var f = features.dtype == ScalarType.Float64 ? features : features.to_type(ScalarType.Float32);
        return f.pow(Of(2)).mean();
    }

    /// <summary>
    /// fairseq <c>GradMultiply</c> as written in HubertModel: y = x.detach() + scale·(x − x.detach()). Same value as x,
    /// gradient multiplied by <paramref name="scale"/> (feature_grad_mult 0.1 for MERT-v1).
    /// </summary>
    public static Tensor ScaleGradient(Tensor x, double scale)
    {
        if (scale == 1.0) return x;
        var d = x.detach();
        return d.add((x - d).mul(Of(scale)), One);                      // no Scalar temporary: see Scalars
    }
}
