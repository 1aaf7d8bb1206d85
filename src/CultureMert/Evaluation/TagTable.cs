using System.Globalization;

namespace CultureMert.Evaluation;

/// <summary>
/// The truth and score CSVs of <c>culturemert metrics</c>: an <c>id</c> column and one column per tag (truth 0/1, scores
/// real). The score file is aligned to the truth by id and by tag name, so either may list rows and columns in any order.
/// </summary>
public sealed record TagTable(string[] Ids, string[] Tags, bool[,] Truth, double[,] Scores)
{
    /// <summary>Reads and aligns both files.</summary>
    /// <exception cref="InvalidDataException">A missing id column, differing ids or tags, a bad value (naming file, line and column).</exception>
    public static TagTable Read(string truthPath, string scoresPath)
    {
        var truth = Sheet.Read(truthPath);
        var scores = Sheet.Read(scoresPath);
        var tags = truth.Tags;
        var missingTags = tags.Except(scores.Tags).ToList();
        var extraTags = scores.Tags.Except(tags).ToList();
        if (missingTags.Count > 0 || extraTags.Count > 0)
            throw new InvalidDataException($"{scoresPath}: tag columns differ from {truthPath}:" +
                                           Listed(" missing", missingTags) + Listed(" extra", extraTags));
        var rowOf = new Dictionary<string, int>(truth.Ids.Length, StringComparer.Ordinal);
        for (var i = 0; i < truth.Ids.Length; i++) rowOf[truth.Ids[i]] = i;
        var target = new int[scores.Ids.Length];          // scores line → truth row
        var extra = new List<string>();
        for (var i = 0; i < scores.Ids.Length; i++)
            if (!rowOf.TryGetValue(scores.Ids[i], out target[i])) extra.Add(scores.Ids[i]);
        var missing = extra.Count > 0 || scores.Ids.Length != truth.Ids.Length
            ? truth.Ids.Except(scores.Ids).ToList() : [];
        if (extra.Count > 0 || missing.Count > 0)
            throw new InvalidDataException($"{scoresPath}: ids differ from {truthPath}:" +
                                           Listed(" missing", missing) + Listed(" extra", extra));
        var (n, k) = (truth.Ids.Length, tags.Length);
        var truthValues = new bool[n, k];
        truth.Parse(tags, Enumerable.Range(0, n).ToArray(), (row, t, text, line) =>
        {
            truthValues[row, t] = double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v is 0 or 1
                ? v == 1 : throw new InvalidDataException($"{truthPath} line {line}, column '{tags[t]}': truth must be 0 or 1, not '{text}'.");
        });
        var scoreValues = new double[n, k];
        scores.Parse(tags, target, (row, t, text, line) =>
        {
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || double.IsNaN(v))
                throw new InvalidDataException($"{scoresPath} line {line}, column '{tags[t]}': '{text}' is not a number.");
            scoreValues[row, t] = v;
        });
        return new TagTable(truth.Ids, tags, truthValues, scoreValues);
    }

    static string Listed(string what, List<string> names) =>
        names.Count == 0 ? "" : $"{what} {names.Count} ({string.Join(", ", names.Take(5).Select(s => $"'{s}'"))}{(names.Count > 5 ? ", …" : "")})";

    delegate void Cell(int row, int tag, ReadOnlySpan<char> text, int line);

    /// <summary>One CSV file: header, ids and the raw data lines, parsed into numbers later, in parallel.</summary>
    sealed class Sheet
    {
        public required string Path;
        public required string[] Header, Tags, Ids, Lines;
        public required int[] LineNumbers;
        public int IdColumn;

        public static Sheet Read(string path)
        {
            using var reader = new StreamReader(path);
            string? headerLine;
            var lineNo = 0;
            do { headerLine = reader.ReadLine(); lineNo++; } while (headerLine is not null && headerLine.Trim().Length == 0);
            if (headerLine is null) throw new InvalidDataException($"{path}: empty file, expected a header with an 'id' column.");
            var header = Fields(headerLine).Select(f => f.Trim()).ToArray();
            var idColumn = Array.IndexOf(header, "id");
            if (idColumn < 0) throw new InvalidDataException($"{path}: no 'id' column in the header.");
            var duplicate = header.GroupBy(h => h).FirstOrDefault(g => g.Count() > 1);
            if (duplicate is not null) throw new InvalidDataException($"{path}: column '{duplicate.Key}' appears twice.");
            var tags = header.Where((_, i) => i != idColumn).ToArray();
            if (tags.Length == 0) throw new InvalidDataException($"{path}: no tag columns besides 'id'.");
            List<string> lines = [], ids = [];
            List<int> numbers = [];
            var seen = new HashSet<string>(StringComparer.Ordinal);
            while (reader.ReadLine() is { } line)
            {
                lineNo++;
                if (line.Trim().Length == 0) continue;
                var id = Field(line, idColumn, out var count);
                if (count != header.Length) throw new InvalidDataException($"{path} line {lineNo}: {count} fields, the header has {header.Length}.");
                if (!seen.Add(id)) throw new InvalidDataException($"{path} line {lineNo}: id '{id}' appears twice.");
                lines.Add(line); ids.Add(id); numbers.Add(lineNo);
            }
            if (lines.Count == 0) throw new InvalidDataException($"{path}: no data rows.");
            return new Sheet { Path = path, Header = header, Tags = tags, Ids = [.. ids], Lines = [.. lines], LineNumbers = [.. numbers], IdColumn = idColumn };
        }

        /// <summary>Calls <paramref name="cell"/> for every tag field of every line, lines in parallel; the first bad line wins.</summary>
        public void Parse(string[] tags, int[] targetRow, Cell cell)
        {
            var tagOf = Header.Select(h => Array.IndexOf(tags, h)).ToArray();      // column → tag index, −1 for id
            var firstError = (Line: int.MaxValue, Error: (Exception?)null);
            var gate = new object();
            Parallel.ForEach(System.Collections.Concurrent.Partitioner.Create(0, Lines.Length, 4096), range =>
            {
                for (var i = range.Item1; i < range.Item2; i++)
                {
                    try
                    {
                        var line = Lines[i].AsSpan();
                        var column = 0;
                        for (var pos = 0; pos <= line.Length; column++)
                        {
                            var text = Next(line, ref pos);
                            if (tagOf[column] >= 0) cell(targetRow[i], tagOf[column], text.Trim(), LineNumbers[i]);
                        }
                    }
                    catch (InvalidDataException e)
                    {
                        lock (gate) if (LineNumbers[i] < firstError.Line) firstError = (LineNumbers[i], e);
                        return;
                    }
                }
            });
            if (firstError.Error is not null) throw firstError.Error;
        }

        /// <summary>The field starting at <paramref name="pos"/>, unquoted (a quoted field is copied); moves past its comma.</summary>
        static ReadOnlySpan<char> Next(ReadOnlySpan<char> line, ref int pos)
        {
            if (pos < line.Length && line[pos] == '"')
            {
                var sb = new System.Text.StringBuilder();
                var i = pos + 1;
                for (; i < line.Length; i++)
                {
                    if (line[i] != '"') sb.Append(line[i]);
                    else if (i + 1 < line.Length && line[i + 1] == '"') { sb.Append('"'); i++; }
                    else { i++; break; }
                }
                var comma = line[i..].IndexOf(',');
                pos = comma < 0 ? line.Length + 1 : i + comma + 1;
                return sb.ToString();
            }
            var end = line[pos..].IndexOf(',');
            var field = end < 0 ? line[pos..] : line.Slice(pos, end);
            pos = end < 0 ? line.Length + 1 : pos + end + 1;
            return field;
        }

        static List<string> Fields(string line)
        {
            var fields = new List<string>();
            for (var pos = 0; pos <= line.Length;) fields.Add(Next(line, ref pos).ToString());
            return fields;
        }

        static string Field(string line, int index, out int count)
        {
            var result = "";
            count = 0;
            for (var pos = 0; pos <= line.Length; count++)
            {
                var f = Next(line, ref pos);
                if (count == index) result = f.Trim().ToString();
            }
            return result;
        }
    }
}
