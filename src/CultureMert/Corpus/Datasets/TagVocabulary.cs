namespace CultureMert.Corpus.Datasets;

/// <summary>What every adapter shares: the top-N vocabulary chosen on the training split, and seeded splits.</summary>
public static class TagVocabulary
{
    /// <summary>
    /// The <paramref name="n"/> most frequent tags of the <b>train</b> rows only (ties broken by ordinal name; ccml's
    /// top-N on the training split), and every row with its tags outside that vocabulary removed. Rows left with no tag
    /// are kept: they are true negatives for every tag (ccml keeps them too, as all-zero targets).
    /// Null <paramref name="n"/> keeps every tag seen in train.
    /// </summary>
    public static TaskManifest TopTags(IEnumerable<TaskRow> rows, int? n)
    {
        var all = rows.ToList();
        if (n is < 1) throw new ArgumentException($"--top must be at least 1 (got {n}).");
        var counts = all.Where(r => r.Split == "train").SelectMany(r => r.Labels.Distinct())
                        .GroupBy(t => t).Select(g => (Tag: g.Key, Count: g.Count()))
                        .OrderByDescending(t => t.Count).ThenBy(t => t.Tag, StringComparer.Ordinal).ToList();
        var vocab = (n is { } k ? counts.Take(k) : counts).Select(t => t.Tag).ToList();
        var keep = vocab.ToHashSet();
        var kept = all.Select(r => r with { Labels = r.Labels.Where(keep.Contains).Distinct().ToArray() }).ToList();
        return new TaskManifest(Order(kept), vocab);
    }

    /// <summary>A fixed vocabulary (MTAT's standard top-50): tags outside it are removed, rows are kept.</summary>
    public static TaskManifest Fixed(IEnumerable<TaskRow> rows, IReadOnlyList<string> vocab)
    {
        var keep = vocab.ToHashSet();
        return new TaskManifest(Order(rows.Select(r => r with { Labels = r.Labels.Where(keep.Contains).Distinct().ToArray() })), vocab);
    }

    /// <summary>Rows ordered train, valid, test, then by path: the same input always writes the same file.</summary>
    public static List<TaskRow> Order(IEnumerable<TaskRow> rows) =>
        rows.OrderBy(r => Array.IndexOf(TaskManifest.Splits, r.Split)).ThenBy(r => r.Path, StringComparer.Ordinal).ToList();

    /// <summary>
    /// Deterministic split of ids: sorted (ordinal), shuffled by Fisher–Yates with <c>new Random(seed)</c>, then cut.
    /// valid and test get floor(n·fraction) ids, train the rest — this reproduces ccml's counts (makam 5297 →
    /// 3709/529/1059, Hindustani 1204 → 844/120/240, Carnatic 2612 → 1829/261/522, FMA 24980 → 17486/2498/4996).
    /// </summary>
    public static Dictionary<string, string> SeededSplit(IEnumerable<string> ids, double train, double valid, double test, int seed)
    {
        if (train < 0 || valid < 0 || test < 0 || Math.Abs(train + valid + test - 1) > 1e-9)
            throw new ArgumentException($"split fractions {train}/{valid}/{test} must be non-negative and sum to 1.");
        var order = ids.Distinct().Order(StringComparer.Ordinal).ToArray();
        var rng = new Random(seed);
        for (var i = order.Length - 1; i > 0; i--)
        {
            var j = rng.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        int nValid = (int)Math.Floor(order.Length * valid + 1e-9), nTest = (int)Math.Floor(order.Length * test + 1e-9);
        var nTrain = order.Length - nValid - nTest;
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < order.Length; i++) result[order[i]] = i < nTrain ? "train" : i < nTrain + nValid ? "valid" : "test";
        return result;
    }

    /// <summary>
    /// Split lists in <paramref name="dir"/>: <c>train</c>, <c>valid</c>, <c>test</c> as <c>.npy</c> (numpy 1-D string or
    /// integer array, as ccml and minzwon store them) or <c>.txt</c> (one id per line). Returns id → split.
    /// </summary>
    public static Dictionary<string, string> ReadSplitDir(string dir)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{dir}: no such split folder (--split-dir).");
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var split in TaskManifest.Splits)
        {
            var npy = Path.Combine(dir, split + ".npy");
            var txt = Path.Combine(dir, split + ".txt");
            var ids = File.Exists(npy) ? Npy.ReadStrings(npy)
                    : File.Exists(txt) ? File.ReadAllLines(txt).Select(l => l.Trim()).Where(l => l.Length > 0).ToList()
                    : throw new FileNotFoundException($"{dir}: no {split}.npy or {split}.txt split list.", npy);
            foreach (var id in ids) result[id] = split;
        }
        return result;
    }
}
