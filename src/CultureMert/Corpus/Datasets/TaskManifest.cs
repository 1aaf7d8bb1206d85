using System.Text;
using CultureMert.Batch;
using CultureMert.Checkpoints;
using CultureMert.IO;

namespace CultureMert.Corpus.Datasets;

/// <summary>One example of a tagging task: an audio file, its split and its tags (chunks of one track share <see cref="Track"/>).</summary>
public sealed record TaskRow(string Path, string Split, string[] Labels, string? Track = null, string? Culture = null);

/// <summary>
/// The one manifest format of every task: CSV <c>path,split,labels,track,culture</c>; split is train, valid or test,
/// labels are ';'-separated. Paths are written relative to the manifest's folder when they can be.
/// </summary>
public sealed record TaskManifest(IReadOnlyList<TaskRow> Rows, IReadOnlyList<string> Vocabulary)
{
    public const string Header = "path,split,labels,track,culture";
    public static readonly string[] Splits = ["train", "valid", "test"];

    public int Count(string split) => Rows.Count(r => r.Split == split);

    /// <summary>Writes the manifest atomically; absolute paths become relative to the manifest's folder.</summary>
    public void Write(string path)
    {
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        var sb = new StringBuilder(Header).Append('\n');
        foreach (var r in Rows)
        {
            if (!Splits.Contains(r.Split)) throw new ArgumentException($"{r.Path}: split '{r.Split}' is not train, valid or test.");
            var bad = r.Labels.FirstOrDefault(l => l.Contains(';') || l.Trim().Length == 0);
            if (bad is not null) throw new InvalidDataException($"{r.Path}: label '{bad}' is empty or contains ';', the manifest's label separator.");
            var p = System.IO.Path.IsPathRooted(r.Path) ? System.IO.Path.GetRelativePath(dir, r.Path) : r.Path;
            sb.Append(Manifest.Csv(p.Replace('\\', '/'))).Append(',').Append(r.Split).Append(',')
              .Append(Manifest.Csv(string.Join(';', r.Labels))).Append(',')
              .Append(Manifest.Csv(r.Track ?? "")).Append(',').Append(Manifest.Csv(r.Culture ?? "")).Append('\n');
        }
        AtomicFile.WriteText(path, sb.ToString());
    }

    /// <summary>Reads a manifest; <c>path</c>, <c>split</c> and <c>labels</c> are required, errors name the file and line.</summary>
    public static TaskManifest Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such manifest.", path);
        var rows = Manifest.ReadRows(path);
        if (rows.Count == 0) throw new InvalidDataException($"{path}: empty manifest (expected the header {Header}).");
        var header = rows[0].Select(h => h.Trim().ToLowerInvariant()).ToList();
        var missing = new[] { "path", "split", "labels" }.Where(c => !header.Contains(c)).ToList();
        if (missing.Count > 0)
            throw new InvalidDataException($"{path}: missing column(s) {string.Join(", ", missing)} (expected the header {Header}).");
        int pc = header.IndexOf("path"), sc = header.IndexOf("split"), lc = header.IndexOf("labels"),
            tc = header.IndexOf("track"), cc = header.IndexOf("culture");
        var result = new List<TaskRow>();
        for (var i = 1; i < rows.Count; i++)
        {
            var r = rows[i];
            if (r.Count == 1 && r[0].Length == 0) continue;                  // blank line
            if (r.Count != header.Count) throw new InvalidDataException($"{path}:{i + 1}: {r.Count} fields, the header has {header.Count}.");
            if (r[pc].Trim().Length == 0) throw new InvalidDataException($"{path}:{i + 1}: no path in this row.");
            var split = r[sc].Trim();
            if (!Splits.Contains(split)) throw new InvalidDataException($"{path}:{i + 1}: split '{split}' is not train, valid or test.");
            var labels = r[lc].Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            string? Opt(int c) => c >= 0 && r[c].Trim().Length > 0 ? r[c].Trim() : null;
            result.Add(new TaskRow(r[pc].Trim(), split, labels, Opt(tc), Opt(cc)));
        }
        var vocab = result.SelectMany(r => r.Labels).Distinct().Order(StringComparer.Ordinal).ToList();
        return new TaskManifest(result, vocab);
    }
}
