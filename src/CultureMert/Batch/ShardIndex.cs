using System.Text.RegularExpressions;

namespace CultureMert.Batch;

/// <summary>
/// <c>culturemert index merge</c>: joins the <c>index.shard-&lt;i&gt;-of-&lt;N&gt;.csv</c> that the shards of one job
/// wrote into its output folder into the folder's <c>index.csv</c>, as if one process had done the whole job. Under MPI,
/// rank 0 calls it after a barrier; elsewhere run it once every shard has finished.
/// </summary>
public static partial class ShardIndex
{
    [GeneratedRegex(@"^index\.shard-(\d+)-of-(\d+)\.csv$")]
    private static partial Regex ShardFile();

    /// <summary>
    /// Writes <c>index.csv</c> from every shard index in <paramref name="outDir"/> and returns its rows (sorted by path;
    /// rows of an earlier <c>index.csv</c> for files no shard covers are kept, as reruns keep them). Throws
    /// InvalidDataException, naming the files, when there are no shard indexes, shard indexes of different N, missing
    /// shards, or two shards listing the same file.
    /// </summary>
    public static List<IndexRow> Merge(string outDir)
    {
        var shards = (Directory.Exists(outDir) ? Directory.EnumerateFiles(outDir) : [])
            .Select(f => (File: f, Match: ShardFile().Match(Path.GetFileName(f)))).Where(x => x.Match.Success)
            .Select(x => (x.File, Shard: ShardOf(x.File, x.Match)))
            .OrderBy(x => x.Shard.Count).ThenBy(x => x.Shard.Index).ToList();
        if (shards.Count == 0)
            throw new InvalidDataException($"{outDir}: no shard indexes (index.shard-<i>-of-<N>.csv) to merge; run the job with --shard first.");
        var counts = shards.Select(s => s.Shard.Count).Distinct().ToList();
        if (counts.Count > 1)
            throw new InvalidDataException($"{outDir}: shard indexes of different runs ({string.Join(", ", counts.Select(n => $"N = {n}"))}): " +
                                           "delete the stale index.shard-*-of-*.csv files, then merge again.");
        var n = counts[0];
        var missing = Enumerable.Range(0, n).Except(shards.Select(s => s.Shard.Index)).ToList();
        if (missing.Count > 0)
            throw new InvalidDataException($"{outDir}: {missing.Count} of {n} shards have no index yet: " +
                $"{string.Join(", ", missing.Select(i => new Shard(i, n).IndexFile))}; run (or finish) shard(s) {string.Join(", ", missing)} of {n}, then merge again.");

        var column = Manifest.CountColumn(shards[0].File);
        var owner = new Dictionary<string, string>();                        // path or output → the shard index listing it
        var rows = new List<IndexRow>();
        foreach (var (file, _) in shards)
        {
            if (Manifest.CountColumn(file) != column)
                throw new InvalidDataException($"{file}: counts {Manifest.CountColumn(file)}, {Path.GetFileName(shards[0].File)} counts {column}: shards of different jobs.");
            foreach (var r in Manifest.ReadIndex(file))
            {
                foreach (var key in new[] { r.Path, r.Output }.Where(k => k.Length > 0).Distinct())
                    if (!owner.TryAdd(key, file) && owner[key] != file)
                        throw new InvalidDataException($"{key} is listed by both {Path.GetFileName(owner[key])} and {Path.GetFileName(file)}: " +
                                                       "the shards did not split the same plan; rerun them with the same inputs and N.");
                rows.Add(r);
            }
        }
        var index = Path.Combine(outDir, BatchJob.IndexFile);
        var covered = rows.Select(r => r.Path).ToHashSet();
        rows.AddRange(Manifest.ReadIndex(index).Where(r => !covered.Contains(r.Path)));
        rows.Sort((a, b) => string.CompareOrdinal(a.Path, b.Path));
        Manifest.WriteIndex(index, column, rows);
        return rows;
    }

    /// <summary>The shard a file name says it is; a number out of range is the file's error, not a crash.</summary>
    static Shard ShardOf(string file, Match m)
    {
        if (int.TryParse(m.Groups[1].Value, out var i) && int.TryParse(m.Groups[2].Value, out var n) && n >= 1 && i < n) return new Shard(i, n);
        throw new InvalidDataException($"{file}: not a shard index of this toolkit (shard {m.Groups[1].Value} of {m.Groups[2].Value}: need 0 ≤ i < N ≤ {int.MaxValue}); move it away, then merge again.");
    }
}
