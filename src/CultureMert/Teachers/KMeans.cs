using TorchSharp;
using static TorchSharp.torch;
using static CultureMert.Scalars;

namespace CultureMert.Teachers;

/// <summary>Settings of <see cref="KMeans.Fit"/>; the defaults suit a teacher codebook (k 1024, mini-batch).</summary>
public sealed record KMeansOptions
{
    public int K { get; init; } = 1024;
    public int Seed { get; init; }
    /// <summary>Lloyd: full passes. Mini-batch: batch steps.</summary>
    public int MaxIterations { get; init; } = 300;
    /// <summary>Stop once the centroids move less than this (sum of squared shifts, in standardised units); sklearn's rule.</summary>
    public double Tolerance { get; init; } = 1e-4;
    /// <summary>0 = full-batch Lloyd; otherwise mini-batch k-means (Sculley 2010) with batches of this many points.</summary>
    public int BatchSize { get; init; }
    /// <summary>k-means++ runs on at most this many points (0 = max(3·batch, 20·k)): it costs k passes over its sample.</summary>
    public int InitSampleSize { get; init; }
    /// <summary>Standardisation divides by max(std, this × mean std over dimensions), so near-constant features stay small.</summary>
    public double RelativeStdFloor { get; init; } = 0.1;

    public KMeansOptions Validate()
    {
        if (K < 1) throw new ArgumentException($"k must be at least 1 (got {K}).");
        if (MaxIterations < 1) throw new ArgumentException($"max iterations must be at least 1 (got {MaxIterations}).");
        if (Tolerance < 0) throw new ArgumentException($"tolerance must be ≥ 0 (got {Tolerance}).");
        if (BatchSize < 0 || InitSampleSize < 0 || RelativeStdFloor < 0) throw new ArgumentException($"batch size, init sample size and std floor must be ≥ 0 (got {BatchSize}, {InitSampleSize}, {RelativeStdFloor}).");
        return this;
    }
}

/// <summary>
/// A fitted codebook: centroids in standardised feature space, plus the per-dimension mean and std of the fitting data
/// (the scaler of sklearn's <c>StandardScaler → KMeans</c> pipeline, kept together so it cannot be lost).
/// </summary>
public sealed class KMeansCodebook : IDisposable
{
    /// <summary>(k, F) float32, standardised units.</summary>
    public Tensor Centroids { get; }
    /// <summary>(F) float32.</summary>
    public Tensor Mean { get; }
    /// <summary>(F) float32, strictly positive (floored, see <see cref="KMeansOptions.RelativeStdFloor"/>).</summary>
    public Tensor Std { get; }
    /// <summary>Mean squared distance of the fitting points to their centroid (standardised units); NaN if unknown.</summary>
    public double Inertia { get; init; } = double.NaN;
    public int Iterations { get; init; }
    /// <summary>How many times an empty cluster was re-seeded from a far point.</summary>
    public int Reseeded { get; init; }

    public int K => (int)Centroids.shape[0];
    public int Dimension => (int)Centroids.shape[1];

    /// <summary>Takes ownership of the three tensors (converted to contiguous float32).</summary>
    public KMeansCodebook(Tensor centroids, Tensor mean, Tensor std)
    {
        if (centroids.dim() != 2 || mean.shape.Length != 1 || std.shape.Length != 1 || mean.shape[0] != centroids.shape[1] || std.shape[0] != centroids.shape[1])
            throw new ArgumentException($"Codebook shapes disagree: centroids [{string.Join(", ", centroids.shape)}], mean [{string.Join(", ", mean.shape)}], std [{string.Join(", ", std.shape)}].");
        (Centroids, Mean, Std) = (Own(centroids), Own(mean), Own(std));
    }

    static Tensor Own(Tensor t) => t.dtype == ScalarType.Float32 && t.is_contiguous() ? t : t.to(ScalarType.Float32).contiguous();

    /// <summary>Nearest centroid of each row, after standardising.</summary>
    /// <param name="features">(n, F), on any device</param> <returns>int64 (n) on the codebook's device</returns>
    public Tensor Assign(Tensor features)
    {
        if (features.dim() != 2 || features.shape[1] != Dimension)
            throw new ArgumentException($"Codebook of dimension {Dimension} cannot assign features of shape [{string.Join(", ", features.shape)}].", nameof(features));
        using var scope = NewDisposeScope();
        var z = (features.to(ScalarType.Float32, Centroids.device) - Mean) / Std;
        return KMeans.Assign(z, Centroids).Index.MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        Centroids.Dispose();
        Mean.Dispose();
        Std.Dispose();
    }
}

/// <summary>
/// k-means on the rows of a float32 matrix: standardise, k-means++ seeding (Arthur &amp; Vassilvitskii 2007) on a
/// subsample, then Lloyd iterations or mini-batch updates (Sculley 2010, "Web-scale k-means clustering"). Distances are
/// ‖c‖² − 2x·cᵀ (the ‖x‖² term does not change the argmin) via float32 matmuls in row chunks. All randomness comes from
/// one <see cref="Random"/> seeded with <see cref="KMeansOptions.Seed"/>, so a fit is reproducible on one machine.
/// </summary>
public static class KMeans
{
    const int Chunk = 16384;   // rows per distance matmul: 16384 × 1024 floats = 64 MiB

    /// <summary>Standardises <paramref name="data"/>, fits, and returns the codebook (with the scaler).</summary>
    /// <param name="data">(n, F); not modified. The fit runs, and the codebook lives, on its device.</param>
    public static KMeansCodebook Fit(Tensor data, KMeansOptions options)
    {
        options.Validate();
        if (data.dim() != 2) throw new ArgumentException($"k-means needs a 2-D (points, features) matrix; got shape [{string.Join(", ", data.shape)}].", nameof(data));
        var (n, k) = (data.shape[0], options.K);
        if (n < k) throw new ArgumentException($"k = {k} clusters need at least {k} distinct points; got {n} points.", nameof(data));
        using var scope = NewDisposeScope();
        var x64 = data.to(ScalarType.Float64);
        var mean = x64.mean([0]);                                              // (F)
        var std = x64.std(0, unbiased: false);                                 // (F)
        // A dimension that barely varies (a mel band always near the log floor, chroma of a pure tone) would be blown up to
        // unit variance and let noise decide the clusters: std is floored at a fraction of the average std (and at 1e-8).
        var floor = Math.Max(1e-8, options.RelativeStdFloor * std.mean().item<double>());
        using (var floorScalar = floor.ToScalar()) std = std.clamp_min(floorScalar);
        var z = ((x64 - mean) / std).to(ScalarType.Float32).contiguous();      // (n, F)
        var rng = new Random(options.Seed);
        var initSize = options.InitSampleSize > 0 ? options.InitSampleSize : Math.Max(3 * options.BatchSize, 20 * k);
        var init = InitPlusPlus(n > initSize ? z.index_select(0, Sample(rng, n, initSize, z.device)) : z, k, rng);
        var (c, iterations, reseeded) = options.BatchSize > 0 ? MiniBatch(z, init, options, rng) : Lloyd(z, init, options);
        var (_, d2) = Assign(z, c);
        var inertia = (d2.sum().item<float>() + z.pow(Of(2)).sum().item<float>()) / n;   // d2 lacks ‖x‖²
        var book = new KMeansCodebook(c.MoveToOuterDisposeScope(), mean.to(ScalarType.Float32).MoveToOuterDisposeScope(),
            std.to(ScalarType.Float32).MoveToOuterDisposeScope())
        { Inertia = Math.Max(0, inertia), Iterations = iterations, Reseeded = reseeded };
        return book;
    }

    /// <summary>
    /// k-means++: the first centroid uniformly, each next one with probability ∝ squared distance to the nearest chosen
    /// one. Running out of mass before k picks means the data has fewer than k distinct points, which is an error.
    /// </summary>
    /// <param name="x">(n, F) float32</param> <returns>(k, F) float32</returns>
    public static Tensor InitPlusPlus(Tensor x, int k, Random rng)
    {
        using var scope = NewDisposeScope();
        var n = x.shape[0];
        if (n < k) throw new ArgumentException($"k = {k} clusters need at least {k} distinct points; got {n} points.", nameof(k));
        var chosen = new long[k];
        chosen[0] = rng.NextInt64(n);
        var best = x.sub(x[chosen[0]]).pow(Of(2)).sum(1).to(ScalarType.Float64);   // (n) squared distance to the nearest centroid
        for (var i = 1; i < k; i++)
        {
            var cum = best.cumsum(0);
            var total = cum[-1].item<double>();
            if (!(total > 0))
                throw new ArgumentException($"k = {k} clusters need at least {k} distinct points; the data (or its k-means++ sample of {n} points) has only {i}.", nameof(k));
            using var r = (rng.NextDouble() * total).ToScalar();
            chosen[i] = Math.Min(n - 1, cum.lt(r).sum().item<long>());             // first index with cum ≥ r
            var d = x.sub(x[chosen[i]]).pow(Of(2)).sum(1).to(ScalarType.Float64);
            best = minimum(best, d);
        }
        return x.index_select(0, tensor(chosen, device: x.device)).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Nearest centroid of every row, and ‖c‖² − 2x·c for it (the squared distance minus ‖x‖²).</summary>
    /// <param name="x">(n, F) float32</param> <param name="c">(k, F) float32</param>
    /// <returns>Index int64 (n), Partial float32 (n)</returns>
    public static (Tensor Index, Tensor Partial) Assign(Tensor x, Tensor c)
    {
        using var scope = NewDisposeScope();
        var c2 = c.pow(Of(2)).sum(1).unsqueeze(0);                                  // (1, k)
        var idx = new List<Tensor>();
        var val = new List<Tensor>();
        for (long s = 0; s < x.shape[0]; s += Chunk)
        {
            var xs = x.narrow(0, s, Math.Min(Chunk, x.shape[0] - s));
            var d = addmm(c2, xs, c.t(), beta: 1, alpha: -2);                     // (chunk, k)
            var (v, i) = d.min(1);
            (idx, val) = (idx.Append(i).ToList(), val.Append(v).ToList());
        }
        return (cat(idx, 0).MoveToOuterDisposeScope(), cat(val, 0).MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Lloyd's algorithm from given centroids; stops when no point changes cluster or the centroids move less than the
    /// tolerance. Empty clusters are re-seeded from the farthest points. <see cref="Fit"/> calls it on standardised data.
    /// </summary>
    /// <param name="z">(n, F) float32</param> <param name="c">(k, F) float32 initial centroids; not modified</param>
    /// <returns>C (k, F) float32</returns>
    public static (Tensor C, int Iterations, int Reseeded) Lloyd(Tensor z, Tensor c, KMeansOptions o)
    {
        var (k, F) = (c.shape[0], c.shape[1]);
        var init = c;
        Tensor? previous = null;
        var reseeded = 0;
        var it = 0;
        while (it < o.MaxIterations)
        {
            it++;
            using var step = NewDisposeScope();
            var (idx, partial) = Assign(z, c);
            var counts = bincount(idx, minlength: k).to(ScalarType.Float32);       // (k)
            var sums = zeros(k, F, device: z.device).index_add_(0, idx, z, One);    // (k, F)
            var next = sums / counts.clamp_min(One).unsqueeze(1);
            next = where(counts.unsqueeze(1).gt(Of(0)), next, c);
            reseeded += Reseed(z, idx, partial, counts, next);
            var shift = (next - c).pow(Of(2)).sum().item<float>();
            var same = previous is not null && previous.eq(idx).all().item<bool>();
            if (!ReferenceEquals(c, init)) c.Dispose();
            c = next.MoveToOuterDisposeScope();
            previous?.Dispose();
            previous = idx.MoveToOuterDisposeScope();
            if (same || shift <= o.Tolerance) break;
        }
        previous?.Dispose();
        return (c, it, reseeded);
    }

    /// <summary>
    /// Mini-batch k-means (Sculley 2010, Alg. 1, batched as in sklearn): each centroid is the running mean of every point
    /// ever assigned to it, c ← (n_c·c + Σ batch points) / (n_c + m). Stops after MaxIterations batches or when a batch
    /// moves the centroids less than the tolerance.
    /// </summary>
    static (Tensor C, int Iterations, int Reseeded) MiniBatch(Tensor z, Tensor c, KMeansOptions o, Random rng)
    {
        var (n, k, F) = (z.shape[0], c.shape[0], c.shape[1]);
        var init = c;
        var seen = zeros(k, device: z.device);                                    // (k) points absorbed per centroid
        var reseeded = 0;
        var it = 0;
        while (it < o.MaxIterations)
        {
            it++;
            using var step = NewDisposeScope();
            var batch = z.index_select(0, SampleWithReplacement(rng, n, o.BatchSize, z.device));   // (m, F)
            var (idx, partial) = Assign(batch, c);
            var counts = bincount(idx, minlength: k).to(ScalarType.Float32);     // (k)
            var sums = zeros(k, F, device: z.device).index_add_(0, idx, batch, One);  // (k, F)
            var total = seen.add(counts, One);
            var next = (c * seen.unsqueeze(1)).add(sums, One) / total.clamp_min(One).unsqueeze(1);
            next = where(total.unsqueeze(1).gt(Of(0)), next, c);
            var shift = (next - c).pow(Of(2)).sum().item<float>();
            if (!ReferenceEquals(c, init)) c.Dispose();
            c = next.MoveToOuterDisposeScope();
            seen.Dispose();
            seen = total.MoveToOuterDisposeScope();
            if (shift <= o.Tolerance && it > 1) break;
        }
        using (var final = NewDisposeScope())
        {
            // Centroids that never won a point are re-seeded from the full data's farthest points, then one Lloyd pass
            // over everything settles them.
            var (idx, partial) = Assign(z, c);
            var counts = bincount(idx, minlength: k).to(ScalarType.Float32);
            var next = c.clone();
            var r = Reseed(z, idx, partial, counts, next);
            reseeded += r;
            if (r > 0)
            {
                (idx, _) = Assign(z, next);
                counts = bincount(idx, minlength: k).to(ScalarType.Float32);
                var sums = zeros(k, F, device: z.device).index_add_(0, idx, z, One);
                next = where(counts.unsqueeze(1).gt(Of(0)), sums / counts.clamp_min(One).unsqueeze(1), next);
            }
            if (!ReferenceEquals(c, init)) c.Dispose();
            c = next.MoveToOuterDisposeScope();
        }
        seen.Dispose();
        return (c, it, reseeded);
    }

    /// <summary>
    /// Gives each empty cluster (counts 0) one of the points farthest from their own centroid, distinct for each empty
    /// cluster (sklearn's <c>_relocate_empty_clusters</c>). Writes into <paramref name="c"/>; returns how many.
    /// </summary>
    static int Reseed(Tensor x, Tensor idx, Tensor partial, Tensor counts, Tensor c)
    {
        using var scope = NewDisposeScope();
        var empty = counts.eq(Of(0)).nonzero().flatten();                            // (e)
        var e = (int)empty.shape[0];
        if (e == 0) return 0;
        var d2 = partial.add(x.pow(Of(2)).sum(1), One);                              // (n) true squared distances
        var far = d2.topk(Math.Min(e, (int)x.shape[0])).indexes;                 // (e)
        c.index_copy_(0, empty.narrow(0, 0, far.shape[0]), x.index_select(0, far));
        return e;
    }

    /// <summary><paramref name="m"/> distinct indices of 0..n−1 (partial Fisher–Yates), sorted, on <paramref name="device"/> (null: the CPU).</summary>
    public static Tensor Sample(Random rng, long n, long m, Device? device = null)
    {
        var all = new long[n];
        for (var i = 0; i < n; i++) all[i] = i;
        for (var i = 0; i < m; i++)
        {
            var j = i + rng.NextInt64(n - i);
            (all[i], all[j]) = (all[j], all[i]);
        }
        var pick = all[..(int)m];
        Array.Sort(pick);
        return tensor(pick, device: device);
    }

    static Tensor SampleWithReplacement(Random rng, long n, int m, Device device)
    {
        var pick = new long[m];
        for (var i = 0; i < m; i++) pick[i] = rng.NextInt64(n);
        return tensor(pick, device: device);
    }
}
