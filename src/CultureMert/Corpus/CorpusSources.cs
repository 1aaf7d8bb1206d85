using CultureMert.Corpus.Procedural;

namespace CultureMert.Corpus;

/// <summary>Which pieces <c>corpus build</c> and the demo take from each source.</summary>
/// <param name="SymbTr">a folder laid out like corpora/symbtr (null: the repository's copy)</param>
/// <param name="Nottingham">a folder laid out like corpora/nottingham (null: the repository's copy)</param>
/// <param name="PiecesPerCulture">pieces per culture (score corpora: a class-balanced seeded sample)</param>
/// <param name="TopClasses">score corpora: only pieces of the N most frequent makams / tune types, so a small corpus
/// still has several examples of every class</param>
/// <param name="ProceduralSeconds">length of each generated piece</param>
public sealed record CorpusSourceOptions(string? SymbTr = null, string? Nottingham = null, int PiecesPerCulture = 24, int TopClasses = 6,
                                         double ProceduralSeconds = 25, int Seed = 0, IReadOnlyList<string>? Cultures = null);

/// <summary>The default multi-cultural corpus: two real score corpora and the four procedural traditions.</summary>
public static class CorpusSources
{
    public static readonly string[] AllCultures = ["turkish-makam", "western-folk", .. ProceduralMusic.All.Select(g => g.Culture)];

    public static List<MusicPiece> Gather(CorpusSourceOptions o, Action<string>? warn = null)
    {
        if (o.PiecesPerCulture < 1) throw new ArgumentException($"--pieces-per-culture must be at least 1 (got {o.PiecesPerCulture}).");
        var wanted = o.Cultures ?? AllCultures;
        foreach (var c in wanted.Where(c => !AllCultures.Contains(c)))
            throw new ArgumentException($"unknown culture '{c}' (known: {string.Join(", ", AllCultures)}).");
        var pieces = new List<MusicPiece>();
        var scoreOptions = new ScoreCorpusOptions { Seed = o.Seed, MaxPieces = o.PiecesPerCulture, TopClasses = o.TopClasses };
        if (wanted.Contains("turkish-makam")) pieces.AddRange(ScoreCorpora.ReadSymbTr(o.SymbTr ?? RepoCorpus("symbtr"), scoreOptions, warn));
        // Nottingham's metadata names only four tune types often (reel, jig, hornpipe, waltz); its next "types" are
        // collections (ashover, playford), which would make a task of telling sources apart.
        if (wanted.Contains("western-folk"))
            pieces.AddRange(ScoreCorpora.ReadNottingham(o.Nottingham ?? RepoCorpus("nottingham"), scoreOptions with { TopClasses = Math.Min(o.TopClasses, 4) }, warn));
        foreach (var g in ProceduralMusic.All.Where(g => wanted.Contains(g.Culture)))
            pieces.AddRange(g.Generate(o.PiecesPerCulture, o.Seed, o.ProceduralSeconds));
        return pieces;
    }

    /// <summary>The repository's copy of a corpus (corpora/NAME), found from the program's folder upwards.</summary>
    public static string RepoCorpus(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "corpora", name);
            if (File.Exists(Path.Combine(candidate, "metadata.csv"))) return candidate;
        }
        throw new DirectoryNotFoundException($"corpora/{name} not found above {AppContext.BaseDirectory}; pass --{name} DIR (a folder with metadata.csv and the MIDI files).");
    }
}
