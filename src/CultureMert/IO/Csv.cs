using System.Globalization;
using System.Text;
using nietras.SeparatedValues;

namespace CultureMert.IO;

/// <summary>One record of a CSV file: its fields, unquoted, and the line it starts on (1-based, as an editor counts).</summary>
public sealed record CsvRow(int Line, string[] Fields)
{
    public int Count => Fields.Length;
    public string this[int column] => Fields[column];

    /// <summary>The field in <paramref name="column"/>, trimmed; "" when the column is absent (-1) or the row is short.</summary>
    public string Get(int column) => column >= 0 && column < Fields.Length ? Fields[column].Trim() : "";

    /// <summary>The field as an invariant-culture number; null when empty or not a number.</summary>
    public double? Double(int column) => double.TryParse(Get(column), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : null;

    /// <summary>The field as an invariant-culture integer; null when empty or not an integer.</summary>
    public int? Int(int column) => int.TryParse(Get(column), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : null;
}

/// <summary>A CSV file read whole: its header (the first record) and the records after it; errors name the file and line.</summary>
public sealed class CsvTable(string file, string[] header, IReadOnlyList<CsvRow> rows)
{
    public string File => file;
    /// <summary>The header as written (empty for an empty file).</summary>
    public IReadOnlyList<string> Header => header;
    public IReadOnlyList<CsvRow> Rows => rows;
    public bool IsEmpty => header.Length == 0;

    /// <summary>The index of the column named <paramref name="name"/> (trimmed, any case), or -1.</summary>
    public int Column(string name) => Array.FindIndex(header, h => h.Trim().Equals(name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The names among <paramref name="names"/> that no column has.</summary>
    public List<string> Missing(params string[] names) => [.. names.Where(n => Column(n) < 0)];

    /// <summary>Throws, naming them all, when columns among <paramref name="names"/> are missing.</summary>
    public CsvTable RequireColumns(params string[] names)
    {
        var missing = Missing(names);
        if (missing.Count > 0) throw new InvalidDataException($"{file}: missing column(s) {string.Join(", ", missing)}.");
        return this;
    }

    /// <summary>"file:line: message".</summary>
    public InvalidDataException Error(CsvRow row, string message) => new($"{file}:{row.Line}: {message}");

    /// <summary>"file:line: column 'name': message".</summary>
    public InvalidDataException Error(CsvRow row, int column, string message) => Error(row, $"column '{header[column].Trim()}': {message}");

    /// <summary>Throws for the first row whose field count differs from the header's.</summary>
    public CsvTable RequireFieldCount()
    {
        foreach (var r in rows)
            if (r.Count != header.Length) throw Error(r, $"{r.Count} fields, the header has {header.Length}.");
        return this;
    }
}

/// <summary>
/// The CSV of manifests, indexes and reports (RFC 4180: comma-separated, fields with a separator, quote or line break
/// double-quoted, quotes doubled; UTF-8 with or without a BOM; LF or CRLF), read and written with Sep, which
/// <c>bench/CultureMert.Bench csv</c> measured against CsvHelper (bench/RESULTS.md, "CSV library").
/// </summary>
public static class Csv
{
    /// <summary>Every record of <paramref name="path"/>, header included; blank lines are left out.</summary>
    /// <param name="separator">',' for CSV, '\t' for the TSV files datasets ship.</param>
    /// <param name="trim">Remove spaces around fields (outside quotes), as the datasets' TSV readers always did.</param>
    public static List<CsvRow> ReadRecords(string path, char separator = ',', bool trim = false)
    {
        // Ragged rows are allowed here: callers check the field count where a format fixes it (RequireFieldCount).
        using var reader = Sep.New(separator).Reader(o => o with
        {
            HasHeader = false, Unescape = true, DisableColCountCheck = true, Trim = trim ? SepTrim.Outer : SepTrim.None,
        }).FromFile(path);
        var records = new List<CsvRow>();
        foreach (var row in reader)
        {
            var raw = row.Span;
            if (raw.IsWhiteSpace()) continue;                                  // blank line
            // Sep pairs quotes wherever they are; an odd count means one was never closed (it ran to the end of the file).
            if (raw.Count('"') % 2 != 0)
                throw new InvalidDataException($"{path}:{row.LineNumberFrom}: unterminated quoted field (a '\"' without its closing quote).");
            records.Add(new CsvRow(row.LineNumberFrom, row[0..row.ColCount].ToStringsArray()));
        }
        return records;
    }

    /// <summary>The header and rows of <paramref name="path"/> (see <see cref="ReadRecords"/>).</summary>
    public static CsvTable Read(string path, char separator = ',', bool trim = false)
    {
        var records = ReadRecords(path, separator, trim);
        return records.Count == 0 ? new CsvTable(path, [], []) : new CsvTable(path, records[0].Fields, records[1..]);
    }

    /// <summary>Writes <paramref name="header"/> and <paramref name="rows"/> atomically, as UTF-8 without a BOM.</summary>
    public static void Write(string path, IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows) =>
        AtomicFile.Write(path, stream =>
        {
            using var text = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true);
            WriteTo(text, header, rows);
        });

    /// <summary>The CSV text of <paramref name="header"/> and <paramref name="rows"/>.</summary>
    public static string Format(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows)
    {
        using var text = new StringWriter(CultureInfo.InvariantCulture);
        WriteTo(text, header, rows);
        return text.ToString();
    }

    // The header goes out as a plain record: Sep's own header wants unique names, and a report's need not be.
    // Sep ends lines with Environment.NewLine: LF on Linux, as these files have always been written.
    static void WriteTo(TextWriter text, IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows)
    {
        using var writer = Sep.New(',').Writer(o => o with { Escape = true, WriteHeader = false, DisableColCountCheck = true }).To(text, leaveOpen: true);
        foreach (var record in rows.Prepend(header))
        {
            using var row = writer.NewRow();
            for (var c = 0; c < record.Count; c++) row[c].Set(record[c]);
        }
    }

    /// <summary>One field as <see cref="Write"/> writes it (quoted when it holds a separator, quote or line break), for lines built by hand.</summary>
    public static string Field(string s)
    {
        using var writer = Sep.New(',').Writer(o => o with { Escape = true, WriteHeader = false }).ToText();
        using (var row = writer.NewRow()) row[0].Set(s);
        return writer.ToString()[..^Environment.NewLine.Length];
    }
}
