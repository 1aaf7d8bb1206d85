using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Merging;

/// <summary>
/// Spherical linear interpolation between two models, per tensor (Shoemake 1985, as mergekit applies it): the base at
/// t = 0, the model at t = 1, in between along the arc between the two tensors' directions, with their own norms.
/// </summary>
public static class Slerp
{
    /// <summary>Above this |cos| the two directions are taken as parallel and interpolated linearly (mergekit's threshold).</summary>
    public const double ParallelCosine = 0.9995;

    /// <summary>
    /// θ_t = sin((1−t)Ω)/sin Ω · θ_0 + sin(tΩ)/sin Ω · θ_1 with cos Ω the cosine of the flattened tensors.
    /// baseT (...) float64, delta (...) float64 = θ_1 − θ_0 → (...) float64, the merged tensor itself (not a task vector).
    /// </summary>
    public static Tensor Interpolate(Tensor baseT, Tensor delta, double t)
    {
        using var scope = NewDisposeScope();
        var model = baseT.add(delta, Scalars.One);                                 // θ_1
        var (n0, n1) = (baseT.norm().item<double>(), model.norm().item<double>());
        var cos = n0 == 0 || n1 == 0 ? 1 : Math.Clamp(baseT.flatten().dot(model.flatten()).item<double>() / (n0 * n1), -1, 1);
        double a, b;
        if (Math.Abs(cos) > ParallelCosine) (a, b) = (1 - t, t);                   // nearly parallel (or a zero tensor): lerp
        else
        {
            var omega = Math.Acos(cos);
            (a, b) = (Math.Sin((1 - t) * omega) / Math.Sin(omega), Math.Sin(t * omega) / Math.Sin(omega));
        }
        using var sa = a.ToScalar();
        using var sb = b.ToScalar();
        return baseT.mul(sa).add_(model, sb).MoveToOuterDisposeScope();
    }
}
