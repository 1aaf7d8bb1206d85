using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CultureMert.Checkpoints;
using CultureMert.Batch;
using CultureMert.Reports;
using CultureMert.IO;

namespace CultureMert.Teachers;

/// <summary>The label of one audio file: its culture and, when the labels give one, the piece it belongs to.</summary>
/// <param name="Piece">the <c>piece</c> (or <c>track</c>) column; null when absent or empty: the file is a piece of its own</param>
public sealed record FileLabel(string Culture, string? Piece);

/// <summary>
/// Culture labels of audio files, read from a CSV with columns <c>path</c> and <c>culture</c>, and optionally
/// <c>piece</c> (or <c>track</c>): files of one piece (excerpts or chunks of one recording) are one unit for the
/// bootstrap of <see cref="TokenTransfer"/>, which must resample recordings, not their correlated chunks. A token file is
/// matched through its audio path (the <c>source</c> metadata written by <c>culturemert tokenize</c>): first by full path
/// (relative paths in the labels file are taken relative to the labels file's folder; a token file's relative
/// <c>source</c> relative to the current folder, where tokenize ran), then by file name without extension. A name that
/// two label rows give different labels matches by full path only. Rows with an empty culture label nothing.
/// </summary>
public sealed class CultureLabels
{
    readonly Dictionary<string, FileLabel> byPath = new(StringComparer.Ordinal);
    readonly Dictionary<string, (FileLabel? Label, string Full)> byStem = new(StringComparer.Ordinal);   // Label null: ambiguous name
    readonly HashSet<string> matched = new(StringComparer.Ordinal);

    public string Source { get; }

    /// <summary>Label rows (distinct paths with a culture).</summary>
    public int Count => byPath.Count;

    /// <summary>Label rows no token file has matched so far.</summary>
    public int Unmatched => byPath.Keys.Count(k => !matched.Contains(k));

    public CultureLabels(string labelsCsv)
    {
        Source = labelsCsv;
        if (!File.Exists(labelsCsv)) throw new FileNotFoundException($"{labelsCsv}: labels file not found.", labelsCsv);
        var table = Csv.Read(labelsCsv);
        if (table.IsEmpty) throw new InvalidDataException($"{labelsCsv}: empty labels file (expected a header with 'path' and 'culture' columns).");
        var (pathCol, cultureCol) = (table.Column("path"), table.Column("culture"));
        if (pathCol < 0 || cultureCol < 0)
            throw new InvalidDataException($"{labelsCsv}: the header needs 'path' and 'culture' columns, found: {string.Join(",", table.Header)}.");
        var pieceCol = table.Column("piece") is var p and >= 0 ? p : table.Column("track");   // -1: no pieces, Get gives ""
        var folder = Path.GetDirectoryName(Path.GetFullPath(labelsCsv))!;
        foreach (var r in table.Rows)
        {
            if (r.Count <= Math.Max(pathCol, cultureCol))
                throw table.Error(r, $"{r.Count} fields, expected at least {Math.Max(pathCol, cultureCol) + 1}.");
            var (path, culture, piece) = (r.Get(pathCol), r.Get(cultureCol), r.Get(pieceCol));
            if (path.Length == 0) throw table.Error(r, "no path in this row.");
            if (culture.Length == 0) continue;
            var label = new FileLabel(culture, piece.Length > 0 ? piece : null);
            var full = Path.GetFullPath(path, folder);
            if (byPath.TryGetValue(full, out var earlier) && earlier != label)
                throw table.Error(r, $"{path} is labelled both {Describe(earlier)} and {Describe(label)}; keep one row per file.");
            byPath[full] = label;
            var stem = Path.GetFileNameWithoutExtension(path);
            byStem[stem] = byStem.TryGetValue(stem, out var other) ? (other.Label == label ? other.Label : null, other.Full) : (label, full);
        }
    }

    static string Describe(FileLabel l) => l.Piece is null ? $"'{l.Culture}'" : $"'{l.Culture}' (piece '{l.Piece}')";

    /// <summary>The culture of an audio path, or null when no row matches (see the class summary for the rules).</summary>
    public string? Find(string audioPath) => Label(audioPath)?.Culture;

    /// <summary>The label (culture and piece) of an audio path, or null when no row matches (see the class summary).</summary>
    public FileLabel? Label(string audioPath)
    {
        var full = Path.GetFullPath(audioPath);
        if (byPath.TryGetValue(full, out var label)) { matched.Add(full); return label; }
        if (!byStem.TryGetValue(Path.GetFileNameWithoutExtension(audioPath), out var entry) || entry.Label is null) return null;
        matched.Add(entry.Full);
        return entry.Label;
    }
}

/// <summary>
/// The token counts of one piece (the files that one label gives the same culture and piece, or one file without a
/// piece): per codebook, its unigram counts and its bigram counts (consecutive frames within each file, never across
/// two files). The unit that <see cref="TokenTransfer"/>'s bootstrap resamples.
/// </summary>
public sealed class TokenPiece
{
    readonly SparseCounts[] unigrams, bigrams;

    internal TokenPiece(string name, int codebooks) =>
        (Name, unigrams, bigrams) = (name, Enumerable.Repeat(SparseCounts.Empty, codebooks).ToArray(), Enumerable.Repeat(SparseCounts.Empty, codebooks).ToArray());

    /// <summary>The piece label, or the audio path of a file that has none.</summary>
    public string Name { get; }
    public int Files { get; private set; }
    public long Frames { get; private set; }

    /// <summary>Per codebook: token → count.</summary>
    public IReadOnlyList<SparseCounts> Unigrams => unigrams;

    /// <summary>Per codebook: a·K + b → count of frame pairs (a, b).</summary>
    public IReadOnlyList<SparseCounts> Bigrams => bigrams;

    /// <summary>Adds one file's counts (per codebook).</summary>
    internal void Add(long frames, SparseCounts[] fileUnigrams, SparseCounts[] fileBigrams)
    {
        for (var q = 0; q < unigrams.Length; q++) (unigrams[q], bigrams[q]) = (unigrams[q].Plus(fileUnigrams[q]), bigrams[q].Plus(fileBigrams[q]));
        (Files, Frames) = (Files + 1, Frames + frames);
    }
}

/// <summary>
/// Token statistics per culture: for each culture and codebook, the histogram of teacher tokens (EnCodec RVQ codes or
/// k-means units) over all its files; between cultures, the Jensen–Shannon divergence (base 2, so in [0, 1]) of the token
/// distributions and the cosine similarity of the count vectors, per codebook and averaged over codebooks. Files are read
/// one at a time, so memory is cultures × codebooks × codebook size counts whatever the corpus size — unless per-piece
/// counts are kept (<c>keepPieces</c>, for <see cref="TokenTransfer"/>): those cost 8 bytes per distinct token and per
/// distinct token pair, per codebook and piece. For 2,000 30-second excerpts of 8 EnCodec codebooks (K = 1024, 75 Hz)
/// that is at most 290 MB of pairs (no pair repeated) and 130 MB of tokens; real music repeats, so less.
/// </summary>
public sealed class TokenStatistics
{
    const string CodesTensor = "codes";
    const int MaxPairCodebook = 46340;                                         // K·K must fit an int bigram key
    readonly CultureLabels labels;
    readonly Dictionary<string, SortedDictionary<string, TokenPiece>>? pieces;  // culture → piece key → counts (kept on request)
    readonly Dictionary<string, long[][]> counts = new(StringComparer.Ordinal);  // culture → [codebook][token]
    readonly Dictionary<string, (int Files, long Frames)> sizes = new(StringComparer.Ordinal);
    readonly HashSet<string> sources = new(StringComparer.Ordinal);
    string? firstFile;

    public int CodebookSize { get; private set; }
    public int Codebooks { get; private set; }
    public List<string> CodeDirs { get; } = [];

    /// <summary>Token files without a culture label: counted and reported, not an error.</summary>
    public int UnlabeledFiles { get; private set; }

    /// <summary>The first few unlabeled token files, for the report.</summary>
    public List<string> UnlabeledExamples { get; } = [];

    /// <summary>Token files whose audio (<c>source</c>) was already counted from another file: skipped, not counted twice.</summary>
    public int DuplicateFiles { get; private set; }

    /// <summary>Cultures seen so far, in ordinal order.</summary>
    public string[] Cultures => counts.Keys.Order(StringComparer.Ordinal).ToArray();

    /// <param name="keepPieces">also keep per-piece unigram and bigram counts (see <see cref="Pieces"/>); off by
    /// default, since only <see cref="TokenTransfer"/> needs them and they grow with the corpus</param>
    public TokenStatistics(CultureLabels labels, bool keepPieces = false) =>
        (this.labels, pieces) = (labels, keepPieces ? new(StringComparer.Ordinal) : null);

    /// <summary>Whether per-piece counts are kept (the <c>keepPieces</c> argument).</summary>
    public bool KeepsPieces => pieces is not null;

    /// <summary>Statistics of every token file in <paramref name="codeDirs"/> (see <see cref="FindTokenFiles"/>).</summary>
    /// <param name="keepPieces">also keep per-piece counts, which <see cref="TokenTransfer.Analyze"/> needs</param>
    public static TokenStatistics Compute(IEnumerable<string> codeDirs, string labelsCsv, bool keepPieces = false)
    {
        var stats = new TokenStatistics(new CultureLabels(labelsCsv), keepPieces);
        foreach (var dir in codeDirs)
        {
            stats.CodeDirs.Add(dir);
            foreach (var (file, audio) in FindTokenFiles(dir)) stats.Add(file, audio);
        }
        if (stats.counts.Count == 0)
            throw new InvalidDataException($"{labelsCsv}: no token file in {string.Join(", ", stats.CodeDirs)} matched a label " +
                                           $"({stats.UnlabeledFiles} unlabeled{(stats.UnlabeledExamples.Count > 0 ? ", e.g. " + stats.UnlabeledExamples[0] : "")}); " +
                                           "check that the labels' paths or file names match the audio the codes were made from.");
        return stats;
    }

    /// <summary>
    /// Token files of one <c>culturemert tokenize</c> output folder with the audio path of each (null if unknown): the
    /// rows of its <c>index.csv</c> with status ok or skipped, or, without an index, every <c>*.safetensors</c> below it.
    /// </summary>
    public static List<(string File, string? Audio)> FindTokenFiles(string codeDir)
    {
        if (!Directory.Exists(codeDir)) throw new DirectoryNotFoundException($"{codeDir}: codes folder not found.");
        var index = Path.Combine(codeDir, "index.csv");
        if (!File.Exists(index))
            return Directory.EnumerateFiles(codeDir, "*.safetensors", SearchOption.AllDirectories)
                .Where(f => !Path.GetFileName(f).StartsWith(".cmtmp.", StringComparison.Ordinal))
                .Order(StringComparer.Ordinal).Select(f => (f, (string?)null)).ToList();
        var files = new List<(string, string?)>();
        foreach (var row in Manifest.ReadIndex(index))
        {
            if (row.Status is not ("ok" or "skipped")) continue;
            var file = Path.Combine(codeDir, row.Output);
            if (!File.Exists(file))
                throw new FileNotFoundException($"{index}: the row for {row.Path} lists {row.Output}, which does not exist; rerun tokenize into {codeDir}.", file);
            files.Add((file, row.Path));
        }
        return files;
    }

    /// <summary>
    /// Adds one token file (int64 <c>codes</c> of shape (n_q, frames), metadata <c>codebook_size</c>, <c>codebooks</c>,
    /// <c>source</c>) to its culture's histograms. <paramref name="audioPath"/> is used when the file has no <c>source</c>.
    /// </summary>
    public void Add(string file, string? audioPath = null)
    {
        var (tensors, meta, _) = SafeTensors.ReadHeader(file);
        var info = tensors.FirstOrDefault(t => t.Name == CodesTensor)
                   ?? throw new InvalidDataException($"{file}: no '{CodesTensor}' tensor (not a token file from `culturemert tokenize`).");
        var size = MetaInt(file, meta, "codebook_size");
        var nq = MetaInt(file, meta, "codebooks");
        if (info.Shape.Length != 2 || info.Shape[0] != nq)
            throw new InvalidDataException($"{file}: codes have shape [{string.Join(", ", info.Shape)}], expected [{nq}, frames] (codebooks = {nq}).");
        if (info.DType != "I64") throw new InvalidDataException($"{file}: codes are {info.DType}, expected I64.");
        if (pieces is not null && size > MaxPairCodebook)
            throw new InvalidDataException($"{file}: codebook_size {size} is above {MaxPairCodebook}, too large for bigram keys (a·K + b must fit an int).");
        if (firstFile is null) (firstFile, CodebookSize, Codebooks) = (file, size, nq);
        else if (size != CodebookSize || nq != Codebooks)
            throw new InvalidDataException($"{file}: {nq} codebooks of {size} tokens, but {firstFile} has {Codebooks} of {CodebookSize}; " +
                                           "token statistics compare codes of one teacher only (tokenize all folders with the same teacher).");

        var audio = meta.TryGetValue("source", out var s) && s.Length > 0 ? s : audioPath ?? Path.ChangeExtension(file, null);
        var label = labels.Label(audio);
        if (label is null)
        {
            UnlabeledFiles++;
            if (UnlabeledExamples.Count < 5) UnlabeledExamples.Add(audio);
            return;
        }
        if (!sources.Add(Path.GetFullPath(audio))) { DuplicateFiles++; return; }

        var culture = label.Culture;
        if (!counts.TryGetValue(culture, out var hist))
            counts[culture] = hist = Enumerable.Range(0, nq).Select(_ => new long[size]).ToArray();
        var frames = (int)info.Shape[1];
        var (unigrams, bigrams) = (new SparseCounts[nq], new SparseCounts[nq]);
        using (var codes = SafeTensors.LoadTensor(file, CodesTensor))            // (n_q, frames) int64
        {
            var all = MemoryMarshal.Cast<byte, long>(codes.bytes);
            for (var q = 0; q < nq; q++)
            {
                var h = hist[q];
                var row = all.Slice(q * frames, frames);
                foreach (var token in row)
                {
                    if ((ulong)token >= (ulong)size)
                        throw new InvalidDataException($"{file}: codebook {q} holds token {token}, outside 0..{size - 1} (codebook_size = {size}).");
                    h[token]++;
                }
                if (pieces is not null) (unigrams[q], bigrams[q]) = (SparseCounts.Tokens(row), SparseCounts.Pairs(row, size));
            }
        }
        var (files, total) = sizes.GetValueOrDefault(culture);
        sizes[culture] = (files + 1, total + frames);
        if (pieces is not null) Piece(culture, label.Piece ?? Path.GetFullPath(audio)).Add(frames, unigrams, bigrams);
    }

    TokenPiece Piece(string culture, string name)
    {
        if (!pieces!.TryGetValue(culture, out var ofCulture)) pieces[culture] = ofCulture = new(StringComparer.Ordinal);
        if (!ofCulture.TryGetValue(name, out var piece)) ofCulture[name] = piece = new TokenPiece(name, Codebooks);
        return piece;
    }

    /// <summary>The pieces of <paramref name="culture"/> in ordinal order of their names (kept only with <c>keepPieces</c>).</summary>
    public IReadOnlyList<TokenPiece> Pieces(string culture) =>
        pieces is null ? throw new InvalidOperationException("per-piece counts were not kept: compute the token statistics with keepPieces: true.")
        : [.. pieces[culture].Values];

    static int MetaInt(string file, Dictionary<string, string> meta, string key) =>
        meta.TryGetValue(key, out var v) && int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n
            : throw new InvalidDataException($"{file}: metadata '{key}' is {(v is null ? "missing" : $"'{v}'")}, expected a positive integer " +
                                             "(token files are written by `culturemert tokenize`).");

    public long[] Counts(string culture, int codebook) => counts[culture][codebook];

    public (int Files, long Frames) Size(string culture) => sizes[culture];

    /// <summary>Jensen–Shannon divergence in bits (base 2, so in [0, 1]) of two distributions; 0·log 0 = 0. NaN if either is empty.</summary>
    /// <remarks>JSD(P, Q) = ½ KL(P‖M) + ½ KL(Q‖M), M = ½(P + Q). Inputs are counts or probabilities; each is normalised by its sum.</remarks>
    public static double JensenShannon(ReadOnlySpan<double> p, ReadOnlySpan<double> q)
    {
        if (p.Length != q.Length) throw new ArgumentException($"distributions of different lengths ({p.Length} and {q.Length}).");
        double sp = 0, sq = 0;
        foreach (var x in p) sp += x;
        foreach (var x in q) sq += x;
        if (sp <= 0 || sq <= 0) return double.NaN;
        double jsd = 0;
        for (var i = 0; i < p.Length; i++)
        {
            var (a, b) = (p[i] / sp, q[i] / sq);
            var m = 0.5 * (a + b);
            if (a > 0) jsd += 0.5 * a * Math.Log2(a / m);                       // a > 0 ⇒ m > 0; a = 0 contributes 0·log 0 = 0
            if (b > 0) jsd += 0.5 * b * Math.Log2(b / m);
        }
        return Math.Clamp(jsd, 0.0, 1.0);                                         // rounding can stray by an ulp
    }

    /// <summary>Cosine similarity of two non-negative vectors; NaN if either is all zeros.</summary>
    public static double Cosine(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"vectors of different lengths ({a.Length} and {b.Length}).");
        double dot = 0, na = 0, nb = 0;
        for (var i = 0; i < a.Length; i++) (dot, na, nb) = (dot + a[i] * b[i], na + a[i] * a[i], nb + b[i] * b[i]);
        return na == 0 || nb == 0 ? double.NaN : Math.Clamp(dot / Math.Sqrt(na * nb), -1.0, 1.0);
    }

    /// <summary>JSD and cosine of two cultures' histograms for one codebook.</summary>
    public (double Jsd, double Cosine) Compare(string a, string b, int codebook)
    {
        var (p, q) = (Array.ConvertAll(Counts(a, codebook), c => (double)c), Array.ConvertAll(Counts(b, codebook), c => (double)c));
        return (JensenShannon(p, q), Cosine(p, q));
    }

    /// <summary>Culture × culture matrices (order of <see cref="Cultures"/>) per codebook, then the mean over codebooks as the last entry.</summary>
    public (double[][,] Jsd, double[][,] Cosine) Matrices()
    {
        var cultures = Cultures;
        var c = cultures.Length;
        var jsd = Enumerable.Range(0, Codebooks + 1).Select(_ => new double[c, c]).ToArray();
        var cos = Enumerable.Range(0, Codebooks + 1).Select(_ => new double[c, c]).ToArray();
        for (var i = 0; i < c; i++)
            for (var j = i; j < c; j++)
                for (var q = 0; q < Codebooks; q++)
                {
                    var (d, s) = Compare(cultures[i], cultures[j], q);
                    (jsd[q][i, j], jsd[q][j, i], cos[q][i, j], cos[q][j, i]) = (d, d, s, s);
                    jsd[Codebooks][i, j] += d / Codebooks; cos[Codebooks][i, j] += s / Codebooks;
                    if (i != j) { jsd[Codebooks][j, i] += d / Codebooks; cos[Codebooks][j, i] += s / Codebooks; }
                }
        return (jsd, cos);
    }

    /// <summary>
    /// Writes <c>histograms.csv</c>, <c>divergence.csv</c>, <c>summary.json</c>, <c>jsd-heatmap.png</c> and
    /// <c>cosine-heatmap.png</c> into <paramref name="outDir"/>, each atomically.
    /// </summary>
    public void Write(string outDir)
    {
        Directory.CreateDirectory(outDir);
        var cultures = Cultures;
        var (jsd, cos) = Matrices();
        static string F(double x) => double.IsNaN(x) ? "nan" : x.ToString("R", CultureInfo.InvariantCulture);

        static string I(long x) => x.ToString(CultureInfo.InvariantCulture);
        IEnumerable<string[]> Histograms()
        {
            foreach (var culture in cultures)
                for (var q = 0; q < Codebooks; q++)
                {
                    var h = counts[culture][q];
                    var total = (double)h.Sum();
                    for (var t = 0; t < h.Length; t++)
                        if (h[t] > 0) yield return [culture, I(q), I(t), I(h[t]), F(h[t] / total)];
                }
        }
        Csv.Write(Path.Combine(outDir, "histograms.csv"), ["culture", "codebook", "token", "count", "probability"], Histograms());

        var div = new List<string[]>();
        for (var i = 0; i < cultures.Length; i++)
            for (var j = i + 1; j < cultures.Length; j++)
                for (var q = 0; q <= Codebooks; q++)
                    div.Add([cultures[i], cultures[j], q == Codebooks ? "mean" : I(q), F(jsd[q][i, j]), F(cos[q][i, j])]);
        Csv.Write(Path.Combine(outDir, "divergence.csv"), ["culture_a", "culture_b", "codebook", "jsd", "cosine"], div);

        static JsonNode? Num(double x) => double.IsFinite(x) ? JsonValue.Create(x) : null;   // JSON has no NaN
        static JsonArray Matrix(double[,] m) => new(Enumerable.Range(0, m.GetLength(0))
            .Select(i => (JsonNode)new JsonArray(Enumerable.Range(0, m.GetLength(1)).Select(j => Num(m[i, j])).ToArray())).ToArray());
        var summary = new JsonObject
        {
            ["cultures"] = new JsonArray(cultures.Select(c => (JsonNode)JsonValue.Create(c)).ToArray()),
            ["per_culture"] = new JsonObject(cultures.Select(c => KeyValuePair.Create(c, (JsonNode?)new JsonObject
                { ["files"] = sizes[c].Files, ["frames"] = sizes[c].Frames }))),
            ["codebook_size"] = CodebookSize,
            ["codebooks"] = Codebooks,
            ["code_dirs"] = new JsonArray(CodeDirs.Select(d => (JsonNode)JsonValue.Create(d)).ToArray()),
            ["labels"] = labels.Source,
            ["unlabeled_files"] = UnlabeledFiles,
            ["unlabeled_examples"] = new JsonArray(UnlabeledExamples.Select(d => (JsonNode)JsonValue.Create(d)).ToArray()),
            ["duplicate_files"] = DuplicateFiles,
            ["labels_without_tokens"] = labels.Unmatched,
            ["jsd_mean"] = Matrix(jsd[Codebooks]),
            ["cosine_mean"] = Matrix(cos[Codebooks]),
            ["jsd_by_codebook"] = new JsonArray(jsd.Take(Codebooks).Select(m => (JsonNode)Matrix(m)).ToArray()),
            ["cosine_by_codebook"] = new JsonArray(cos.Take(Codebooks).Select(m => (JsonNode)Matrix(m)).ToArray()),
        };
        AtomicFile.WriteText(Path.Combine(outDir, "summary.json"), summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");

        Heatmap.SavePng(Path.Combine(outDir, "jsd-heatmap.png"), $"Token Jensen-Shannon divergence (bits, mean over {Codebooks} codebooks)",
            cultures, cultures, jsd[Codebooks], "0.000");
        Heatmap.SavePng(Path.Combine(outDir, "cosine-heatmap.png"), $"Token count cosine similarity (mean over {Codebooks} codebooks)",
            cultures, cultures, cos[Codebooks], "0.000");
    }
}
