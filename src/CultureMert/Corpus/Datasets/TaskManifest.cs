using CultureMert.IO;

namespace CultureMert.Corpus.Datasets;

/// <summary>
/// One example of a tagging task: an audio file, its split and its tags (chunks of one track share <see cref="Track"/>).
/// <see cref="Line"/> is the manifest line it was read from (0 for rows made in code).
/// </summary>
public sealed record TaskRow(string Path, string Split, string[] Labels, string? Track = null, string? Culture = null)
{
    public int Line { get; init; }
}

/// <summary>
/// The one manifest format of every task: CSV <c>path,split,labels,track,culture</c>; split is train, valid or test,
/// labels are ';'-separated. Paths are written relative to the manifest's folder when they can be. Read by dataset
/// preparation, probing and evaluation alike.
/// </summary>
public sealed record TaskManifest(IReadOnlyList<TaskRow> Rows, IReadOnlyList<string> Vocabulary)
{
    public const string Header = "path,split,labels,track,culture";
    public static readonly string[] Splits = ["train", "valid", "test"];
    static readonly string[] Required = ["path", "split", "labels"];

    /// <summary>The file it was read from (null when made in code).</summary>
    public string? Source { get; init; }

    public int Count(string split) => Rows.Count(r => r.Split == split);

    /// <summary>"manifest:line", for messages about one row.</summary>
    public string Where(TaskRow row) => $"{Source}:{row.Line}";

    /// <summary>The row's audio file as an absolute path (relative paths are relative to the manifest's folder).</summary>
    public string FullPath(TaskRow row) =>
        System.IO.Path.GetFullPath(row.Path, System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Source ?? "."))!);

    /// <summary>Writes the manifest atomically; absolute paths become relative to the manifest's folder.</summary>
    public void Write(string path)
    {
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        foreach (var r in Rows)
        {
            if (!Splits.Contains(r.Split)) throw new ArgumentException($"{r.Path}: split '{r.Split}' is not train, valid or test.");
            var bad = r.Labels.FirstOrDefault(l => l.Contains(';') || l.Trim().Length == 0);
            if (bad is not null) throw new InvalidDataException($"{r.Path}: label '{bad}' is empty or contains ';', the manifest's label separator.");
        }
        string Relative(string p) => (System.IO.Path.IsPathRooted(p) ? System.IO.Path.GetRelativePath(dir, p) : p).Replace('\\', '/');
        Csv.Write(path, Header.Split(','), Rows.Select(r => new[] { Relative(r.Path), r.Split, string.Join(';', r.Labels), r.Track ?? "", r.Culture ?? "" }));
    }

    /// <summary>
    /// Reads a manifest: <c>path</c>, <c>split</c> and <c>labels</c> are required, every row has the header's field count
    /// and a path; split is train, valid or test in any case (validation and val mean valid); labels are trimmed and
    /// de-duplicated. Errors name the file and line.
    /// </summary>
    public static TaskManifest Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such manifest.", path);
        var table = Csv.Read(path);
        if (table.IsEmpty) throw new InvalidDataException($"{path}: empty manifest (expected the header {Header}).");
        var missing = table.Missing(Required);
        if (missing.Count > 0)
            throw new InvalidDataException($"{path}: no {string.Join(", ", missing.Select(c => $"'{c}'"))} column in the header " +
                                           $"({string.Join(",", table.Header)}); a task manifest needs path,split,labels (track and culture optional).");
        int pc = table.Column("path"), sc = table.Column("split"), lc = table.Column("labels"), tc = table.Column("track"), cc = table.Column("culture");
        var result = new List<TaskRow>();
        foreach (var r in table.RequireFieldCount().Rows)
        {
            if (r.Get(pc).Length == 0) throw table.Error(r, "no path in this row.");
            var split = r.Get(sc).ToLowerInvariant() switch { "validation" or "val" => "valid", var s => s };
            if (!Splits.Contains(split)) throw table.Error(r, sc, $"'{r.Get(sc)}' is not train, valid or test.");
            var labels = r.Get(lc).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToArray();
            string? Optional(int c) => r.Get(c) is { Length: > 0 } v ? v : null;
            result.Add(new TaskRow(r.Get(pc), split, labels, Optional(tc), Optional(cc)) { Line = r.Line });
        }
        var vocab = result.SelectMany(r => r.Labels).Distinct().Order(StringComparer.Ordinal).ToList();
        return new TaskManifest(result, vocab) { Source = path };
    }
}
