using System.Globalization;
using System.Text;

namespace CultureMert.Batch;

/// <summary>
/// Shard <see cref="Index"/> of <see cref="Count"/> (0-based) of a batch job: the files it owns, and the index file it
/// writes. <c>0/1</c> is the whole job and writes <c>index.csv</c>, as an unsharded run does.
/// </summary>
/// <remarks>
/// A file belongs to shard FNV-1a-64(relative output path, '/'-separated, UTF-8) mod N. A hash rather than round-robin
/// over the sorted plan, so that a file's shard depends on nothing but its own output path: adding files to a dataset
/// (or a manifest listing them in another order) never moves files already done to another shard, which keeps resume
/// working; the price is shards that differ in size by a few √(files/N). FNV because <c>string.GetHashCode</c> is
/// randomised per process.
/// </remarks>
public readonly record struct Shard(int Index, int Count)
{
    public static readonly Shard Whole = new(0, 1);

    /// <summary>The index file this shard writes into the output folder.</summary>
    public string IndexFile => Count == 1 ? BatchJob.IndexFile : $"index.shard-{Index}-of-{Count}.csv";

    public override string ToString() => $"{Index}/{Count}";

    /// <summary>Parses <c>i/N</c>, 0 ≤ i &lt; N; <paramref name="source"/> names where it came from in errors.</summary>
    public static Shard Parse(string text, string source = "--shard")
    {
        var parts = text.Trim().Split('/');
        if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var i)
                              || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            throw new ArgumentException($"{source} {text}: expected i/N, e.g. 0/4 (shards are numbered from 0).");
        return Checked(i, n, $"{source} {text}");
    }

    static Shard Checked(int i, int n, string source) =>
        n >= 1 && i >= 0 && i < n ? new Shard(i, n)
            : throw new ArgumentException($"{source}: expected shard i of N with N ≥ 1 and 0 ≤ i < N (shards are numbered from 0{(n >= 1 ? $"; the last of {n} is {n - 1}/{n}" : "")}).");

    /// <summary>
    /// The shard a launcher assigned to this process, read through <paramref name="env"/> (pass
    /// <c>Environment.GetEnvironmentVariable</c>), or null when none did. In order: Open MPI (OMPI_COMM_WORLD_RANK/SIZE),
    /// MPICH/Intel MPI/srun (PMI_RANK/SIZE), a Slurm job array (SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN, divided by
    /// SLURM_ARRAY_TASK_STEP, of SLURM_ARRAY_TASK_COUNT) and a Kubernetes Indexed Job (JOB_COMPLETION_INDEX of
    /// CULTUREMERT_SHARD_COUNT, which the Job must set to its completions: Kubernetes does not export them). An MPI world of
    /// one process does not count, so that `srun culturemert …` in an array task still shards by the array.
    /// </summary>
    public static (Shard Shard, string Source)? Detect(Func<string, string?> env)
    {
        int? Int(string name)
        {
            var v = env(name);
            if (string.IsNullOrWhiteSpace(v)) return null;
            return int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var x) ? x
                : throw new ArgumentException($"{name}={v}: not an integer; pass --shard i/N to choose the shard yourself.");
        }
        (Shard, string)? Pair(string rank, string size)
        {
            if (Int(rank) is not { } i) return null;
            var n = Int(size) ?? throw new ArgumentException($"{rank} is set but {size} is not; pass --shard i/N to choose the shard yourself.");
            if (n == 1) return null;                                         // `srun` of one task inside an array job: the array shards
            return (Checked(i, n, $"{rank}={i}, {size}={n}"), $"{rank}/{size}");
        }
        if (Pair("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE") is { } ompi) return ompi;
        if (Pair("PMI_RANK", "PMI_SIZE") is { } pmi) return pmi;
        if (Int("SLURM_ARRAY_TASK_ID") is { } id)
        {
            // Array ids are what --array says (1-8, 0-30:10, 3,5,9): shard = (id − min)/step, which needs an evenly spaced array.
            var (min, step) = (Int("SLURM_ARRAY_TASK_MIN") ?? 0, Int("SLURM_ARRAY_TASK_STEP") ?? 1);
            var count = Int("SLURM_ARRAY_TASK_COUNT") ?? throw new ArgumentException(
                "SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not (Slurm < 17.11?); pass --shard i/N.");
            var source = $"SLURM_ARRAY_TASK_ID={id} (min {min}, step {step}, count {count})";
            if (step < 1 || (id - min) % step != 0 || (id - min) / step >= count)
                throw new ArgumentException($"{source}: not an evenly spaced array such as --array=0-{count - 1}; use one, or pass --shard i/N.");
            return (Checked((id - min) / step, count, source), "SLURM_ARRAY_TASK_ID");
        }
        if (Int("JOB_COMPLETION_INDEX") is { } k)
        {
            var n = Int("CULTUREMERT_SHARD_COUNT") ?? throw new ArgumentException(
                $"JOB_COMPLETION_INDEX={k} (a Kubernetes Indexed Job) but CULTUREMERT_SHARD_COUNT is not set: set it to the Job's completions, or pass --shard i/N.");
            return (Checked(k, n, $"JOB_COMPLETION_INDEX={k}, CULTUREMERT_SHARD_COUNT={n}"), "JOB_COMPLETION_INDEX/CULTUREMERT_SHARD_COUNT");
        }
        return null;
    }

    /// <summary>Whether this shard processes <paramref name="task"/> (one with a planning error and no output goes by its path).</summary>
    public bool Owns(BatchTask task)
    {
        if (Count == 1) return true;
        var key = (task.RelativeOutput.Length > 0 ? task.RelativeOutput : task.Path).Replace('\\', '/');
        var h = 14695981039346656037UL;                                      // FNV-1a 64 offset basis
        foreach (var b in Encoding.UTF8.GetBytes(key)) h = (h ^ b) * 1099511628211UL;
        return (int)(h % (ulong)Count) == Index;
    }

    /// <summary>This shard's part of a plan, in plan order.</summary>
    public List<BatchTask> Select(IEnumerable<BatchTask> plan) => plan.Where(Owns).ToList();
}
