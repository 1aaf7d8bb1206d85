using System.Text;
using TorchSharp;
using static TorchSharp.torch;
using static CultureMert.Scalars;

namespace CultureMert.Merging;

/// <summary>DARE, drop and rescale (Yu et al. 2023, arXiv:2311.03099), then a linear or TIES combination.</summary>
public static class Dare
{
    /// <summary>
    /// The seed of a tensor's generator: FNV-1a (64-bit) over the UTF-8 name, mixed with the user's seed, so that each
    /// tensor's masks depend on (seed, name) only, never on the order tensors are visited in.
    /// </summary>
    public static ulong SeedFor(long seed, string tensorName)
    {
        var h = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(tensorName)) h = (h ^ b) * 1099511628211UL;
        h ^= (ulong)seed * 0x9E3779B97F4A7C15UL;
        h ^= h >> 33;                                                             // splitmix-style finaliser
        h *= 0xFF51AFD7ED558CCDUL;
        return h ^ (h >> 33);
    }

    /// <summary>
    /// DARE (arXiv:2311.03099 §3): drop each entry with probability 1 − density, rescale survivors by 1/density. The mask
    /// of model i is the i-th draw of <c>rand(shape, float64, generator) &lt; density</c> from one generator per tensor,
    /// a CPU generator on any device (the masks are drawn on the CPU and moved), so a seed drops the same entries everywhere.
    /// deltas (models, ...) → (models, ...).
    /// </summary>
    public static Tensor DropAndRescale(Tensor deltas, double density, Generator generator)
    {
        if (density >= 1) return deltas.clone();
        using var scope = NewDisposeScope();
        var result = deltas.clone();                                              // (models, ...)
        for (var i = 0; i < result.size(0); i++)                                  // one model at a time: temporaries of one row only
        {
            using var inner = NewDisposeScope();
            var row = result[i];                                                  // (...)
            row.mul_(rand(row.shape, ScalarType.Float64, generator: generator).lt(Of(density)).to(row.device)).div_(Of(density));
        }
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>DARE then a weighted sum (mergekit's dare_linear). deltas (models, ...) → (...).</summary>
    public static Tensor CombineLinear(Tensor deltas, IReadOnlyList<double> weights, double density, long seed, string tensorName)
    {
        using var scope = NewDisposeScope();
        using var g = new Generator(SeedFor(seed, tensorName));
        return TaskVectors.WeightedSum(DropAndRescale(deltas, density, g), weights).MoveToOuterDisposeScope();
    }

    /// <summary>DARE then TIES sign election and disjoint mean (mergekit's dare_ties). deltas (models, ...) → (...).</summary>
    public static Tensor CombineTies(Tensor deltas, IReadOnlyList<double> weights, double density, long seed, string tensorName)
    {
        using var scope = NewDisposeScope();
        using var g = new Generator(SeedFor(seed, tensorName));
        return Ties.Merge(DropAndRescale(deltas, density, g), weights).MoveToOuterDisposeScope();
    }
}
