namespace CultureMert.Corpus.Datasets;

/// <summary>
/// What <c>dataset prepare</c> is given: the dataset's root folder, the vocabulary size (null: the task's ccml default),
/// the seed of drawn splits, an optional folder of split lists (<c>train|valid|test.npy|txt</c>), and for FMA whether
/// to draw a seeded 0.7/0.1/0.2 split (as ccml did) instead of the official one.
/// </summary>
public sealed record DatasetOptions(string Root, int? Top = null, int Seed = 42, string? SplitDir = null, bool SeededSplit = false)
{
    public string RequireRoot()
    {
        if (!Directory.Exists(Root)) throw new DirectoryNotFoundException($"{Root}: no such dataset folder (--root).");
        return Path.GetFullPath(Root);
    }

    /// <summary>The first of <paramref name="candidates"/> (relative to the root) that exists, else an error naming them all.</summary>
    public static string Find(string root, string what, params string[] candidates)
    {
        foreach (var c in candidates)
            if (File.Exists(Path.Combine(root, c))) return Path.Combine(root, c);
        throw new FileNotFoundException($"{root}: no {what} (looked for {string.Join(", ", candidates)}).", Path.Combine(root, candidates[0]));
    }
}

/// <summary>The kinds of <c>dataset prepare</c>, each with its adapter.</summary>
public static class DatasetKinds
{
    public static readonly string[] Names = ["folder", "mtat", "fma", "lyra", "makam", "hindustani", "carnatic"];

    public static TaskManifest Prepare(string kind, DatasetOptions o)
    {
        if (o.Top is < 1) throw new ArgumentException($"--top must be at least 1 (got {o.Top}).");
        return kind switch
        {
            "folder" => FolderDataset.Prepare(o),
            "mtat" => MtatDataset.Prepare(o),
            "fma" => FmaDataset.Prepare(o),
            "lyra" => LyraDataset.Prepare(o),
            "makam" or "hindustani" or "carnatic" => DunyaDataset.Prepare(DunyaDataset.Tradition(kind), o),
            _ => throw new ArgumentException($"unknown dataset kind '{kind}' (expected one of {string.Join(", ", Names)})."),
        };
    }
}
