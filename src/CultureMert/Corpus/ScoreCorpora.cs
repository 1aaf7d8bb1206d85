using System.Globalization;
using System.Text;
using CultureMert.IO;

namespace CultureMert.Corpus;

/// <summary>
/// Which pieces of a score corpus to take and how to vary them. Null ranges and pools take the tradition's defaults
/// (<see cref="ScoreCorpora.SymbTr"/>, <see cref="ScoreCorpora.Nottingham"/>).
/// </summary>
public sealed record ScoreCorpusOptions
{
    /// <summary>Every per-piece choice comes from a generator seeded with (Seed, culture, id), so a piece's rendering does not depend on which others were taken.</summary>
    public int Seed { get; init; } = 42;
    /// <summary>At most this many pieces: a seeded sample, round-robin over the classes (see <see cref="ClassLabel"/>) so that small corpora stay balanced.</summary>
    public int? MaxPieces { get; init; }
    /// <summary>Keep only pieces whose class is among the N most frequent in metadata.csv (ties: alphabetical).</summary>
    public int? TopClasses { get; init; }
    /// <summary>The label type that <see cref="TopClasses"/> and <see cref="MaxPieces"/> count (null: the corpus's task, <c>makam</c> or <c>tune_type</c>).</summary>
    public string? ClassLabel { get; init; }
    /// <summary>Whole-piece transposition range in semitones, both ends included.</summary>
    public (int Low, int High)? Transposition { get; init; }
    /// <summary>Tempo factor range (1.1 = 10% faster), drawn uniformly and rounded to 0.001.</summary>
    public (double Low, double High) TempoFactor { get; init; } = (0.85, 1.15);
    /// <summary>GM programs for the melody (SymbTr: every melodic channel).</summary>
    public IReadOnlyList<int>? MelodyPrograms { get; init; }
    /// <summary>GM programs for the other parts (Nottingham's chords).</summary>
    public IReadOnlyList<int>? AccompanimentPrograms { get; init; }

    public ScoreCorpusOptions Validate(string source)
    {
        if (MaxPieces is < 1) throw new ArgumentException($"{source}: MaxPieces must be at least 1 (got {MaxPieces}).");
        if (TopClasses is < 1) throw new ArgumentException($"{source}: TopClasses must be at least 1 (got {TopClasses}).");
        if (Transposition is { } t && t.Low > t.High) throw new ArgumentException($"{source}: transposition range {t.Low}..{t.High} is empty.");
        if (!(TempoFactor.Low > 0 && TempoFactor.Low <= TempoFactor.High)) throw new ArgumentException($"{source}: tempo factor range {TempoFactor.Low}..{TempoFactor.High} must be positive and ordered.");
        foreach (var pool in new[] { MelodyPrograms, AccompanimentPrograms })
            if (pool is not null && (pool.Count == 0 || pool.Any(p => p is < 0 or > 127)))
                throw new ArgumentException($"{source}: a program pool must hold GM programs 0–127 (got [{string.Join(", ", pool)}]).");
        return this;
    }
}

/// <summary>
/// Real scores as <see cref="MusicPiece"/>s: SymbTr (Turkish makam) and the Nottingham Music Database (British and Irish
/// folk), or any folder laid out like them (MIDI files and a <c>metadata.csv</c> whose <c>path</c> column is relative to
/// the folder). Each piece gets its own seeded variation, because a rendered score is cleaner than any recording: SymbTr
/// writes every piece at its makam's standard pitch, so a fixed-tonic rendering lets pitch-class statistics alone name
/// the makam (corpora/README.md, "Making the tasks honest"). So the whole piece is transposed (ahenk), its tempo scaled
/// and its instruments drawn from those of the tradition; bends are kept exact (see <see cref="ScoreMidi"/>).
/// </summary>
public static class ScoreCorpora
{
    /// <summary>One tradition's layout and defaults.</summary>
    /// <param name="NoteZeroIsRest">the corpus writes rests as MIDI note 0 (SymbTr), which are removed</param>
    public sealed record Tradition(string Culture, string ClassLabel, string[] LabelColumns, (int Low, int High) Transposition,
                                   int[] MelodyPrograms, int[] AccompanimentPrograms, bool NoteZeroIsRest = false);

    /// <summary>
    /// Ahenk: makam music is notated at one standard pitch (bolahenk) and performed at the pitch level of the ensemble's
    /// ney, mostly at or below the notation; −5..+2 semitones spans the usual levels around it.
    /// Instruments (GM, 0-based): ney → shakuhachi 77, flute 73, pan flute 75; kanun → harp 46, dulcimer 15;
    /// oud → nylon guitar 24, shamisen 106; tanbur → sitar 104; kemençe → violin 40, fiddle 110. FluidR3_GM tunes its
    /// samples within about ±10 cents of A440 (sitar −7, violin +1, measured): a constant offset per piece, well below
    /// the ahenk shift, that leaves the makam's intervals as written.
    /// </summary>
    public static readonly Tradition SymbTr = new("turkish-makam", "makam", ["makam", "form", "usul"], (-5, 2),
        [77, 73, 75, 46, 15, 24, 106, 104, 40, 110], [], NoteZeroIsRest: true);

    /// <summary>
    /// Session keys move a few semitones either way. Melody: fiddle 110, violin 40, flute 73, piccolo 72 (for the tin
    /// whistle), accordion 21, piano 0; chords: piano 0, accordion 21, nylon and steel guitar 24, 25.
    /// </summary>
    public static readonly Tradition Nottingham = new("western-folk", "tune_type", ["tune_type"], (-3, 3),
        [110, 40, 73, 72, 21, 0], [0, 21, 24, 25]);

    public static IReadOnlyList<MusicPiece> ReadSymbTr(string folder, ScoreCorpusOptions? options = null, Action<string>? warn = null) =>
        Read(folder, SymbTr, options, warn);

    public static IReadOnlyList<MusicPiece> ReadNottingham(string folder, ScoreCorpusOptions? options = null, Action<string>? warn = null) =>
        Read(folder, Nottingham, options, warn);

    /// <summary>
    /// The pieces of <paramref name="folder"/>, in metadata.csv order. A row whose file is missing or not a readable MIDI
    /// with notes is skipped with a message to <paramref name="warn"/> naming the file; the rest of the corpus goes on.
    /// </summary>
    public static IReadOnlyList<MusicPiece> Read(string folder, Tradition tradition, ScoreCorpusOptions? options = null, Action<string>? warn = null)
    {
        var o = (options ?? new ScoreCorpusOptions()).Validate(folder);
        warn ??= _ => { };
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"{folder}: no such corpus folder.");
        var metadata = Path.Combine(folder, "metadata.csv");
        var entries = ReadMetadata(metadata, tradition, warn);
        var classLabel = o.ClassLabel ?? tradition.ClassLabel;
        if (!tradition.LabelColumns.Contains(classLabel)) throw new ArgumentException(
            $"{metadata}: class label '{classLabel}' is not one of this corpus's label columns ({string.Join(", ", tradition.LabelColumns)}).");
        string? ClassOf(Entry e) => e.Labels.FirstOrDefault(l => l.StartsWith(classLabel + "--", StringComparison.Ordinal));

        if (o.TopClasses is { } top)
        {
            var keep = entries.Select(ClassOf).OfType<string>().GroupBy(c => c)
                              .OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
                              .Take(top).Select(g => g.Key).ToHashSet();
            entries = entries.Where(e => ClassOf(e) is { } c && keep.Contains(c)).ToList();
        }
        var pieces = new List<(int Index, MusicPiece Piece)>();
        bool TryAdd(Entry e)
        {
            try
            {
                pieces.Add((e.Index, Make(e, tradition, o)));
                return true;
            }
            catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                warn(ex is InvalidDataException ? $"{ex.Message.TrimEnd('.')}; skipped." : $"{e.Path}: cannot read ({ex.Message}); skipped.");
                return false;
            }
        }
        if (o.MaxPieces is not { } max)
            foreach (var e in entries) TryAdd(e);
        else
        {
            // Seeded and stratified: each class shuffled, then one piece from each class in turn (largest class first), a
            // bad file replaced by the next of its own class, so any cap is as balanced as the classes allow.
            var rng = new Random(o.Seed);
            var classes = entries.GroupBy(e => ClassOf(e) ?? "").OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
                                 .Select(g => new Queue<Entry>(g.OrderBy(_ => rng.Next()))).ToList();
            while (pieces.Count < max && classes.Any(q => q.Count > 0))
                foreach (var q in classes)
                    while (pieces.Count < max && q.TryDequeue(out var e) && !TryAdd(e)) { }
        }
        return pieces.OrderBy(p => p.Index).Select(p => p.Piece).ToList();
    }

    sealed record Entry(int Index, string Path, string Id, IReadOnlyList<string> Labels);

    static List<Entry> ReadMetadata(string metadata, Tradition tradition, Action<string> warn)
    {
        if (!File.Exists(metadata)) throw new FileNotFoundException($"{metadata}: no such file (a score corpus folder needs metadata.csv with a path column).", metadata);
        var table = Csv.Read(metadata);
        if (table.IsEmpty) throw new InvalidDataException($"{metadata}: empty file (expected a header line).");
        var header = table.Header.ToList();
        var missing = tradition.LabelColumns.Prepend("path").Where(c => !header.Contains(c)).ToList();
        if (missing.Count > 0) throw new InvalidDataException($"{metadata}: missing column(s) {string.Join(", ", missing)} (header: {string.Join(",", header)}).");
        var folder = Path.GetDirectoryName(metadata)!;
        var (entries, ids) = (new List<Entry>(), new HashSet<string>(StringComparer.Ordinal));
        foreach (var r in table.Rows)
        {
            if (r.Count != header.Count) { warn($"{metadata}:{r.Line}: {r.Count} fields, the header has {header.Count}; row skipped."); continue; }
            string Field(string column) => r.Get(header.IndexOf(column));
            var path = Path.Combine(folder, Field("path"));
            var id = Path.GetFileNameWithoutExtension(path);
            if (!ids.Add(id)) { warn($"{metadata}:{r.Line}: id {id} ({path}) already taken by an earlier row; row skipped."); continue; }
            var labels = tradition.LabelColumns.Where(c => Field(c).Length > 0).Select(c => $"{c}--{Field(c)}").ToList();
            entries.Add(new Entry(r.Line, path, id, labels));
        }
        return entries;
    }

    static MusicPiece Make(Entry e, Tradition tradition, ScoreCorpusOptions o)
    {
        if (!File.Exists(e.Path)) throw new InvalidDataException($"{e.Path}: listed in metadata.csv but missing.");
        var events = ScoreMidi.Read(File.ReadAllBytes(e.Path), e.Path).Events;
        if (tradition.NoteZeroIsRest) ScoreMidi.RemoveNote(events, 0);
        ScoreMidi.SplitSharedChannels(events);
        var channels = ScoreMidi.MelodicChannels(events);
        if (channels.Count == 0) throw new InvalidDataException($"{e.Path}: no melodic notes.");

        // Draw every choice up front, in a fixed order and independent of the ranges' widths, so that changing one range
        // (say, fixing the transposition) leaves the other choices of the same seed as they were.
        var pieceSeed = PieceSeed(o.Seed, tradition.Culture, e.Id);
        var rng = new Random(pieceSeed);
        var (uTranspose, uTempo) = (rng.NextDouble(), rng.NextDouble());
        var (melody, accompaniment) = (o.MelodyPrograms ?? tradition.MelodyPrograms, o.AccompanimentPrograms ?? tradition.AccompanimentPrograms);
        if (accompaniment.Count == 0) accompaniment = melody;
        var programs = channels.Select((c, k) => (Channel: c, Program: (k == 0 ? melody : accompaniment)[rng.Next((k == 0 ? melody : accompaniment).Count)]))
                               .ToDictionary(p => p.Channel, p => p.Program);
        var (lo, hi) = o.Transposition ?? tradition.Transposition;
        var transpose = lo + (int)Math.Min(hi - lo, Math.Floor(uTranspose * (hi - lo + 1)));
        var tempo = Math.Round(o.TempoFactor.Low + uTempo * (o.TempoFactor.High - o.TempoFactor.Low), 3);

        ScoreMidi.Transpose(events, transpose, e.Path);
        ScoreMidi.ScaleTempo(events, tempo);
        ScoreMidi.SetPrograms(events, programs, e.Path);
        var inv = CultureInfo.InvariantCulture;
        return new MusicPiece(tradition.Culture, e.Id, e.Labels, ScoreMidi.Write(events), new Dictionary<string, string>
        {
            ["source"] = e.Path,
            ["seed"] = o.Seed.ToString(inv),
            ["piece_seed"] = pieceSeed.ToString(inv),
            ["transpose"] = transpose.ToString(inv),
            ["tempo_factor"] = tempo.ToString("0.###", inv),
            ["programs"] = string.Join(' ', programs.Select(p => $"{p.Key}:{p.Value}")),   // channel (1-based):GM program (0-based)
            ["bend_range"] = ScoreMidi.DefaultBendRangeSemitones.ToString(inv),
        });
    }

    /// <summary>FNV-1a of (seed, culture, id): stable across runs and platforms, unlike string.GetHashCode.</summary>
    static int PieceSeed(int seed, string culture, string id)
    {
        var h = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes($"{seed}\n{culture}\n{id}")) h = (h ^ b) * 1099511628211UL;
        return (int)(h ^ (h >> 32)) & int.MaxValue;
    }
}
