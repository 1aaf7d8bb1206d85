using System.Globalization;
using CultureMert.IO;

namespace CultureMert.Batch;

/// <summary>The file lists of batch jobs: input manifests (a <c>path</c> column) and the <c>index.csv</c> each job writes.</summary>
public static class Manifest
{
    /// <summary>The <c>path</c> column of a manifest, in order; errors name the file and line.</summary>
    public static List<string> ReadPaths(string manifest)
    {
        var table = IO.Csv.Read(manifest);
        if (table.IsEmpty) throw new InvalidDataException($"{manifest}: empty manifest (expected a header with a 'path' column).");
        var col = table.Column("path");
        if (col < 0) throw new InvalidDataException($"{manifest}: no 'path' column in the header ({string.Join(",", table.Header)}).");
        var paths = new List<string>();
        foreach (var row in table.Rows)
        {
            if (row.Get(col).Length == 0) throw table.Error(row, "no path in this row.");
            // A quoted field may span lines in CSV, but a path never does: it is a quote left open, swallowing rows.
            if (row.Fields.Any(f => f.Contains('\n')))
                throw table.Error(row, "a quoted field runs over a line break (a '\"' left open?); the rows after it would be read as part of it.");
            paths.Add(row.Get(col));
        }
        return paths;
    }

    /// <summary>The columns of an <c>index.csv</c>; the fourth names what the job counts per file (chunks, frames).</summary>
    public static string IndexHeader(string countColumn) => string.Join(",", IndexColumns(countColumn));

    static readonly string[] FixedColumns = ["path", "output", "duration_s", "status", "error"];

    static string[] IndexColumns(string countColumn) => [.. FixedColumns[..3], countColumn, .. FixedColumns[3..]];

    /// <summary>Rows of an existing <c>index.csv</c> (none if the file does not exist); a file that is not an index is an error.</summary>
    public static List<IndexRow> ReadIndex(string path)
    {
        if (!File.Exists(path)) return [];
        var table = IO.Csv.Read(path);
        if (table.IsEmpty) return [];
        var count = CountColumn(table);
        int Col(string name) => table.Header.ToList().IndexOf(name);
        return [.. table.RequireFieldCount().Rows.Select(r => new IndexRow(r[Col("path")], r[Col("output")], r.Double(Col("duration_s")),
            r.Int(count), r[Col("status")], r[Col("error")]))];
    }

    /// <summary>The per-file count column (chunks, frames) of an index that <see cref="ReadIndex"/> accepts.</summary>
    public static string CountColumn(string indexPath)
    {
        var table = IO.Csv.Read(indexPath);
        return table.Header[CountColumn(table)];
    }

    /// <summary>The index of the count column; a header that is not an index's is an error.</summary>
    static int CountColumn(CsvTable table)
    {
        var header = table.Header;
        if (FixedColumns.Any(c => !header.Contains(c)) || header.Count != 6)
            throw new InvalidDataException($"{table.File}: not an index written by culturemert embed or tokenize (expected columns {IndexHeader("chunks|frames")}); " +
                                           "move it away or choose another --out folder.");
        return Enumerable.Range(0, header.Count).Single(i => !FixedColumns.Contains(header[i]));
    }

    /// <summary>Writes an <c>index.csv</c> atomically.</summary>
    public static void WriteIndex(string path, string countColumn, IEnumerable<IndexRow> rows) =>
        IO.Csv.Write(path, IndexColumns(countColumn), rows.Select(r => new[]
        {
            r.Path, r.Output, r.DurationSeconds?.ToString("0.######", CultureInfo.InvariantCulture) ?? "",
            r.Chunks?.ToString(CultureInfo.InvariantCulture) ?? "", r.Status, r.Error,
        }));
}
