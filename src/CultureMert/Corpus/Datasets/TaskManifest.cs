using CultureMert.IO;

namespace CultureMert.Corpus.Datasets;

/// <summary>
/// What a task asks of a model's embeddings. Multi-label: tags, a sigmoid probe, macro ROC-AUC and AP. Single-label: one
/// class per track (genre, mode, makam, raga), a softmax probe, accuracy and macro-F1. Retrieval: no training; cosine
/// similarity of track embeddings ranks the other tracks of the split, relevant when they share a label (MAP@10, MRR,
/// recall@k).
/// </summary>
public enum TaskType { MultiLabel, SingleLabel, Retrieval }

/// <summary>
/// One example of a tagging task: an audio file, its split and its tags (chunks of one track share <see cref="Track"/>).
/// <see cref="Line"/> is the manifest line it was read from (0 for rows made in code).
/// </summary>
public sealed record TaskRow(string Path, string Split, string[] Labels, string? Track = null, string? Culture = null)
{
    public int Line { get; init; }
}

/// <summary>
/// The one manifest format of every task: CSV <c>path,split,labels,track,culture[,task]</c>; split is train, valid or
/// test, labels are ';'-separated. The optional <c>task</c> column declares the task's type (<c>multilabel</c>,
/// <c>singlelabel</c> or <c>retrieval</c>, the same in every row; a column rather than a side file, so the manifest
/// stays one file any CSV reader opens); without it the type is inferred (every row one label → single-label). Paths
/// are written relative to the manifest's folder when they can be. Read by dataset preparation, probing and evaluation alike.
/// </summary>
public sealed record TaskManifest(IReadOnlyList<TaskRow> Rows, IReadOnlyList<string> Vocabulary)
{
    public const string Header = "path,split,labels,track,culture";
    public static readonly string[] Splits = ["train", "valid", "test"];
    static readonly string[] Required = ["path", "split", "labels"];

    /// <summary>The file it was read from (null when made in code).</summary>
    public string? Source { get; init; }

    /// <summary>The declared type (the <c>task</c> column); null: inferred from the labels where it is used.</summary>
    public TaskType? Type { get; init; }

    /// <summary>The <c>task</c> column's spelling of each type.</summary>
    public static string Name(TaskType type) => type switch
    {
        TaskType.MultiLabel => "multilabel", TaskType.SingleLabel => "singlelabel", _ => "retrieval",
    };

    /// <summary>Parses a type name (also <c>multi-label</c>, <c>single-label</c>); null when it is none of them.</summary>
    public static TaskType? ParseType(string text) => text.Trim().ToLowerInvariant().Replace("-", "").Replace("_", "") switch
    {
        "multilabel" => TaskType.MultiLabel, "singlelabel" => TaskType.SingleLabel, "retrieval" => TaskType.Retrieval, _ => null,
    };

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
        string[] Fields(TaskRow r) => [Relative(r.Path), r.Split, string.Join(';', r.Labels), r.Track ?? "", r.Culture ?? ""];
        if (Type is { } type) Csv.Write(path, [.. Header.Split(','), "task"], Rows.Select(r => (string[])[.. Fields(r), Name(type)]));
        else Csv.Write(path, Header.Split(','), Rows.Select(Fields));
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
        var kc = table.Column("task");
        var result = new List<TaskRow>();
        TaskType? type = null;
        foreach (var r in table.RequireFieldCount().Rows)
        {
            if (r.Get(pc).Length == 0) throw table.Error(r, "no path in this row.");
            var split = r.Get(sc).ToLowerInvariant() switch { "validation" or "val" => "valid", var s => s };
            if (!Splits.Contains(split)) throw table.Error(r, sc, $"'{r.Get(sc)}' is not train, valid or test.");
            var labels = r.Get(lc).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToArray();
            string? Optional(int c) => r.Get(c) is { Length: > 0 } v ? v : null;
            result.Add(new TaskRow(r.Get(pc), split, labels, Optional(tc), Optional(cc)) { Line = r.Line });
            if (kc < 0) continue;
            var declared = ParseType(r.Get(kc)) ?? throw table.Error(r, kc, $"task '{r.Get(kc)}' is not multilabel, singlelabel or retrieval.");
            if (type is { } first && first != declared)
                throw table.Error(r, kc, $"task '{r.Get(kc)}', but earlier rows declare {Name(first)}; a manifest is one task of one type.");
            type = declared;
        }
        var vocab = result.SelectMany(r => r.Labels).Distinct().Order(StringComparer.Ordinal).ToList();
        return new TaskManifest(result, vocab) { Source = path, Type = type };
    }
}
