namespace CultureMert.Corpus.Datasets;

/// <summary>Tab-separated files as MTAT and Lyra ship them: one record a line, fields optionally wrapped in double quotes.</summary>
public static class Tsv
{
    /// <summary>Header and rows (each with its 1-based line number); the named columns must be in the header.</summary>
    public static (List<string> Header, List<(int Line, string[] Fields)> Rows) Read(string path, params string[] required)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file.", path);
        var lines = File.ReadAllLines(path);
        if (lines.Length == 0) throw new InvalidDataException($"{path}: empty file (expected a header line).");
        static string Unquote(string s) { s = s.Trim(); return s.Length >= 2 && s[0] == '"' && s[^1] == '"' ? s[1..^1].Replace("\"\"", "\"") : s; }
        var header = lines[0].Split('\t').Select(Unquote).ToList();
        var missing = required.Where(c => !header.Contains(c)).ToList();
        if (missing.Count > 0) throw new InvalidDataException($"{path}: missing column(s) {string.Join(", ", missing)}.");
        var rows = new List<(int, string[])>();
        for (var i = 1; i < lines.Length; i++)
        {
            if (lines[i].Trim().Length == 0) continue;
            var f = lines[i].Split('\t').Select(Unquote).ToArray();
            if (f.Length != header.Count) throw new InvalidDataException($"{path}:{i + 1}: {f.Length} fields, the header has {header.Count}.");
            rows.Add((i + 1, f));
        }
        return (header, rows);
    }
}
