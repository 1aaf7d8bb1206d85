using System.Globalization;
using CultureMert.IO;

namespace CultureMert.Batch;

/// <summary>
/// The CSV dialect of manifests and indices (RFC 4180: comma-separated, double-quoted fields with doubled quotes), read
/// and written by hand because it is one small function each way and every job uses it.
/// </summary>
public static class Manifest
{
    /// <summary>The <c>path</c> column of a manifest, in order; errors name the file and line.</summary>
    public static List<string> ReadPaths(string manifest)
    {
        var rows = ReadRows(manifest);
        if (rows.Count == 0) throw new InvalidDataException($"{manifest}: empty manifest (expected a header with a 'path' column).");
        var col = rows[0].FindIndex(h => h.Trim().Equals("path", StringComparison.OrdinalIgnoreCase));
        if (col < 0) throw new InvalidDataException($"{manifest}: no 'path' column in the header ({string.Join(",", rows[0])}).");
        var paths = new List<string>();
        for (var i = 1; i < rows.Count; i++)
        {
            if (rows[i].Count == 1 && rows[i][0].Length == 0) continue;       // blank line
            if (col >= rows[i].Count || rows[i][col].Trim().Length == 0)
                throw new InvalidDataException($"{manifest}:{i + 1}: no path in this row.");
            paths.Add(rows[i][col].Trim());
        }
        return paths;
    }

    /// <summary>The columns of an <c>index.csv</c>; the fourth names what the job counts per file (chunks, frames).</summary>
    public static string IndexHeader(string countColumn) => $"path,output,duration_s,{countColumn},status,error";

    static readonly string[] IndexColumns = ["path", "output", "duration_s", "status", "error"];

    /// <summary>Rows of an existing <c>index.csv</c> (none if the file does not exist); a file that is not an index is an error.</summary>
    public static List<IndexRow> ReadIndex(string path)
    {
        if (!File.Exists(path)) return [];
        var rows = ReadRows(path);
        if (rows.Count == 0) return [];
        var header = rows[0];
        var missing = IndexColumns.Where(c => !header.Contains(c)).ToList();
        if (missing.Count > 0 || header.Count != 6)
            throw new InvalidDataException($"{path}: not an index written by culturemert embed or tokenize (expected columns {IndexHeader("chunks|frames")}); " +
                                           "move it away or choose another --out folder.");
        int Col(string name) => header.IndexOf(name);
        var count = Enumerable.Range(0, header.Count).Single(i => !IndexColumns.Contains(header[i]));
        var result = new List<IndexRow>();
        for (var i = 1; i < rows.Count; i++)
        {
            var r = rows[i];
            if (r.Count == 1 && r[0].Length == 0) continue;                  // blank line
            if (r.Count != header.Count) throw new InvalidDataException($"{path}:{i + 1}: {r.Count} fields, the header has {header.Count}.");
            result.Add(new IndexRow(r[Col("path")], r[Col("output")],
                double.TryParse(r[Col("duration_s")], CultureInfo.InvariantCulture, out var d) ? d : null,
                int.TryParse(r[count], out var c) ? c : null, r[Col("status")], r[Col("error")]));
        }
        return result;
    }

    /// <summary>The per-file count column (chunks, frames) of an index that <see cref="ReadIndex"/> accepts.</summary>
    public static string CountColumn(string indexPath) => ReadRows(indexPath)[0].Single(h => !IndexColumns.Contains(h));

    /// <summary>Writes an <c>index.csv</c> atomically.</summary>
    public static void WriteIndex(string path, string countColumn, IEnumerable<IndexRow> rows)
    {
        var sb = new System.Text.StringBuilder(IndexHeader(countColumn) + "\n");
        foreach (var r in rows)
            sb.Append(string.Join(",", Csv(r.Path), Csv(r.Output),
                r.DurationSeconds?.ToString("0.######", CultureInfo.InvariantCulture) ?? "", r.Chunks?.ToString(CultureInfo.InvariantCulture) ?? "",
                r.Status, Csv(r.Error))).Append('\n');
        AtomicFile.WriteText(path, sb.ToString());
    }

    public static List<List<string>> ReadRows(string path)
    {
        var text = File.ReadAllText(path);
        var rows = new List<List<string>>();
        var row = new List<string>();
        var field = new System.Text.StringBuilder();
        var quoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            var ch = text[i];
            if (quoted)
            {
                if (ch == '"' && i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i++; }
                else if (ch == '"') quoted = false;
                else field.Append(ch);
            }
            else if (ch == '"') quoted = true;
            else if (ch == ',') { row.Add(field.ToString()); field.Clear(); }
            else if (ch == '\n' || ch == '\r')
            {
                if (ch == '\r' && i + 1 < text.Length && text[i + 1] == '\n') i++;
                row.Add(field.ToString()); field.Clear();
                rows.Add(row); row = [];
            }
            else field.Append(ch);
        }
        if (field.Length > 0 || row.Count > 0) { row.Add(field.ToString()); rows.Add(row); }
        return rows;
    }

    /// <summary>One CSV field, quoted when it needs to be.</summary>
    public static string Csv(string s) =>
        s.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;
}
