using TorchSharp;
using static TorchSharp.torch;
using static CultureMert.Scalars;

namespace CultureMert.Merging;

/// <summary>
/// DELLA-Merging (Deep et al. 2024, arXiv:2406.11617): MagPrune drops entries at random with a keep probability that
/// rises with magnitude rank, rescales the survivors by it, then TIES's sign election and disjoint mean.
/// </summary>
public static class Della
{
    /// <summary>
    /// MagPrune (§3): per row (the tensor as (size(0), −1); a vector is one row) an entry of magnitude rank r among n
    /// (0 = smallest) is kept with probability p = density − ε/2 + ε·r/(n − 1), and divided by p when kept.
    /// deltas (models, ...), uniforms(i) (...) in [0, 1), model i's draws → (models, ...).
    /// </summary>
    public static Tensor MagPrune(Tensor deltas, double density, double epsilon, Func<int, Tensor> uniforms)
    {
        using var scope = NewDisposeScope();
        var m = deltas.size(0);
        var rows = deltas.dim() > 2 ? deltas.size(1) : 1;
        var pruned = deltas.reshape(m, rows, -1).clone();                            // (models, rows, n)
        var n = pruned.size(2);
        using var step = (n > 1 ? epsilon / (n - 1) : 0).ToScalar();
        using var floor = (density - epsilon / 2 + (n > 1 ? 0 : epsilon / 2)).ToScalar();
        for (var i = 0; i < m; i++)                                                   // one model at a time: temporaries of one only
        {
            using var inner = NewDisposeScope();
            var x = pruned[i];                                                        // (rows, n)
            var rank = x.abs().sort(dim: -1, stable: true).Indices.argsort(dim: -1).to(ScalarType.Float64);   // 0 = smallest
            var p = rank.mul_(step).add_(floor, One).clamp_(Of(1e-12), Of(1.0));     // keep probability
            x.div_(p).mul_(uniforms(i).reshape(x.shape).to(x.device).lt(p));
        }
        return pruned.reshape(deltas.shape).MoveToOuterDisposeScope();
    }

    /// <summary>MagPrune with draws from the tensor's own generator (as DARE's, one model after another), then sign election and disjoint mean. deltas (models, ...) → (...).</summary>
    public static Tensor Combine(Tensor deltas, IReadOnlyList<double> weights, double density, double epsilon, long seed, string tensorName)
    {
        using var scope = NewDisposeScope();
        using var g = new Generator(Dare.SeedFor(seed, tensorName));
        var shape = deltas.shape[1..];                                               // model i's draws: the i-th rand(shape), on the CPU,
        var pruned = MagPrune(deltas, density, epsilon, _ => rand(shape, ScalarType.Float64, generator: g));   // so a seed prunes alike on any device
        return Ties.Merge(pruned, weights).MoveToOuterDisposeScope();
    }
}
