using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using CsvHelper;
using nietras.SeparatedValues;

/// <summary>
/// The measurement behind the choice of CSV library (<c>csv</c> mode): Sep and CsvHelper, each in its strict setting,
/// parse a generated manifest of N rows (path, duration_s, labels, split, track, culture; one row in 50 has a path with a
/// comma, one in 70 a label with quotes, one in 90 a label spanning two lines) into typed values, and read a set of
/// RFC 4180 cases (quotes, embedded commas and newlines, a UTF-8 BOM, CRLF, empty fields, malformed rows) whose
/// expected fields are written out below by hand.
/// </summary>
static class CsvBench
{
    /// <summary>A library under test: every record of a file (header first) as strings, and the sum of a manifest's durations.</summary>
    sealed record Library(string Name, Func<string, List<string[]>> ReadAll, Func<string, double> SumDurations);

    static readonly Library[] Libraries =
    [
        new("sep 0.18.0", ReadAllSep, SumDurationsSep),
        new("csvhelper 34.0.0", ReadAllCsvHelper, SumDurationsCsvHelper),
    ];

    public static void Run(int rows, int repeats, string work)
    {
        var file = Path.Combine(work, "manifest.csv");
        var bytes = WriteManifest(file, rows);
        foreach (var lib in Libraries)
        {
            var expected = 0.001 * rows * (rows - 1) / 2 + 60.0 * rows;     // sum of the generated durations
            var ms = new List<double>();
            for (var r = 0; r <= repeats; r++)                               // run 0 warms up (JIT, page cache)
            {
                var clock = Stopwatch.StartNew();
                var sum = lib.SumDurations(file);
                if (r > 0) ms.Add(clock.Elapsed.TotalMilliseconds);
                if (Math.Abs(sum - expected) > 1e-6 * expected) throw new InvalidDataException($"{lib.Name}: durations sum to {sum}, expected {expected}.");
            }
            var median = ms.Order().ElementAt(ms.Count / 2);
            var cases = Cases(work).Select(c => (c.Name, Result: Check(lib, c))).ToList();
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                mode = "csv", impl = lib.Name, rows, mb = Math.Round(bytes / 1e6, 1), repeats, median_ms = Math.Round(median, 1),
                rows_per_s = Math.Round(rows / (median / 1000)), cases_passed = cases.Count(c => c.Result == "ok"), cases_total = cases.Count,
                failures = cases.Where(c => c.Result != "ok").Select(c => $"{c.Name}: {c.Result}").ToArray(),
            }));
        }
    }

    /// <summary>Writes the N-row manifest (LF line ends, RFC 4180 quoting); returns its size in bytes.</summary>
    static long WriteManifest(string file, int rows)
    {
        static string Q(string s) => s.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;
        string[] splits = ["train", "valid", "test"];
        using (var w = new StreamWriter(file, false, new UTF8Encoding(false)) { NewLine = "\n" })
        {
            w.WriteLine("path,duration_s,labels,split,track,culture");
            for (var i = 0; i < rows; i++)
            {
                var path = i % 50 == 0 ? $"audio/Artist {i / 100}, live/track {i:D6}.mp3" : $"audio/artist-{i / 100:D4}/track-{i:D6}.mp3";
                var labels = i % 70 == 0 ? "rock;\"indie\" pop" : i % 90 == 0 ? "folk\nacoustic" : $"tag{i % 50};tag{i % 7}";
                var duration = (60.0 + 0.001 * i).ToString("R", CultureInfo.InvariantCulture);
                w.WriteLine($"{Q(path)},{duration},{Q(labels)},{splits[i % 3]},track-{i / 4:D6},{(i % 5 == 0 ? "western" : "makam")}");
            }
        }
        return new FileInfo(file).Length;
    }

    /// <summary>An RFC 4180 case: the file's bytes and the rows it holds, or null when reading it must fail.</summary>
    sealed record Case(string Name, string File, string[][]? Expected);

    static List<Case> Cases(string work)
    {
        Case Make(string name, byte[] bytes, string[][]? expected)
        {
            var path = Path.Combine(work, name + ".csv");
            File.WriteAllBytes(path, bytes);
            return new Case(name, path, expected);
        }
        Case Text(string name, string text, string[][]? expected) => Make(name, Encoding.UTF8.GetBytes(text), expected);
        return
        [
            Text("embedded-comma", "path,labels\n\"a,b.wav\",x\n", [["path", "labels"], ["a,b.wav", "x"]]),
            Text("doubled-quotes", "path,labels\n\"say \"\"hi\"\".wav\",x\n", [["path", "labels"], ["say \"hi\".wav", "x"]]),
            Text("newline-in-quotes", "path,labels\n\"a\nb.wav\",x\n\"c\r\nd.wav\",y\n", [["path", "labels"], ["a\nb.wav", "x"], ["c\r\nd.wav", "y"]]),
            Make("utf8-bom", [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes("path,labels\na.wav,x\n")], [["path", "labels"], ["a.wav", "x"]]),
            Text("crlf", "path,labels\r\na.wav,x\r\nb.wav,y\r\n", [["path", "labels"], ["a.wav", "x"], ["b.wav", "y"]]),
            Text("empty-fields", "path,labels,track\na.wav,,\nb.wav,\"\",t\n", [["path", "labels", "track"], ["a.wav", "", ""], ["b.wav", "", "t"]]),
            Text("no-final-newline", "path,labels\na.wav,x", [["path", "labels"], ["a.wav", "x"]]),
            Text("non-ascii", "path,labels\nşarkı/ney.wav,hüzzam\n", [["path", "labels"], ["şarkı/ney.wav", "hüzzam"]]),
            Text("too-many-fields", "path,labels\na.wav,x,extra\n", null),
            Text("too-few-fields", "path,labels,track\na.wav,x\n", null),
            Text("unterminated-quote", "path,labels\n\"a.wav,x\n", null),
        ];
    }

    /// <summary>"ok", or what differed.</summary>
    static string Check(Library lib, Case c)
    {
        List<string[]> got;
        try { got = lib.ReadAll(c.File); }
        catch (Exception e)
        {
            if (c.Expected is null) Console.Error.WriteLine($"[{lib.Name}] {c.Name}: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}");
            return c.Expected is null ? "ok" : $"threw {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}";
        }
        if (c.Expected is null) return $"accepted, read {JsonSerializer.Serialize(got)}";
        return got.Count == c.Expected.Length && got.Zip(c.Expected).All(p => p.First.SequenceEqual(p.Second))
            ? "ok" : $"read {JsonSerializer.Serialize(got)}";
    }

    static SepReaderOptions SepOptions => Sep.New(',').Reader(o => o with { Unescape = true, HasHeader = false });

    static List<string[]> ReadAllSep(string file)
    {
        using var reader = SepOptions.FromFile(file);
        var rows = new List<string[]>();
        foreach (var row in reader) rows.Add(row[0..row.ColCount].ToStringsArray());
        return rows;
    }

    static double SumDurationsSep(string file)
    {
        using var reader = Sep.New(',').Reader(o => o with { Unescape = true }).FromFile(file);
        var (path, duration, labels) = (reader.Header.IndexOf("path"), reader.Header.IndexOf("duration_s"), reader.Header.IndexOf("labels"));
        var sum = 0.0;
        foreach (var row in reader)
        {
            if (row[path].ToString().Length == 0 || row[labels].ToString().Length == 0) throw new InvalidDataException("empty field");
            sum += row[duration].Parse<double>();
        }
        return sum;
    }

    // CsvHelper 34 (a rewrite: UTF-8 + SIMD) recovers from bad quoting and allows ragged rows by default; strict here as Sep is.
    static CsvReaderOptions CsvHelperOptions => CsvReaderOptions.Default with
    {
        Separator = ',', HasHeader = false, SkipEmptyLines = false, TrackLineNumbers = true,
        MalformedData = CsvMalformedDataHandling.Throw, FieldCountMismatch = CsvFieldCountHandling.Throw,
    };

    static List<string[]> ReadAllCsvHelper(string file)
    {
        using var csv = CsvReader.FromFile(file, CsvHelperOptions);
        var rows = new List<string[]>();
        while (csv.Read()) rows.Add(csv.Current.ToArray());
        return rows;
    }

    static double SumDurationsCsvHelper(string file)
    {
        using var csv = CsvReader.FromFile(file, CsvHelperOptions with { HasHeader = true });
        var headers = csv.Headers.ToList();
        var (path, duration, labels) = (headers.IndexOf("path"), headers.IndexOf("duration_s"), headers.IndexOf("labels"));
        var sum = 0.0;
        while (csv.Read())
        {
            if (csv.GetString(path).Length == 0 || csv.GetString(labels).Length == 0) throw new InvalidDataException("empty field");
            sum += csv.Parse<double>(duration);
        }
        return sum;
    }
}
