using System.Text.RegularExpressions;
using CultureMert.IO;

namespace CultureMert.Corpus.Datasets;

/// <summary>
/// MagnaTagATune: <c>annotations_final.csv</c> (tab-separated, quoted; <c>clip_id</c>, 188 0/1 tag columns,
/// <c>mp3_path</c>) under the root, audio at <c>root/&lt;mp3_path&gt;</c>. Vocabulary: the standard top-50 tags
/// (minzwon/sota-music-tagging-models) unless <c>--top N</c> picks the N most frequent on train instead.
/// Split: <c>--split-dir</c> with minzwon's <c>train/valid/test.npy</c> (entries "index\tmp3_path"; clips in none of
/// them are dropped, as in the standard split); without it, the folder convention 0–b train, c valid, d–f test (all clips).
/// </summary>
public static partial class MtatDataset
{
    /// <summary>The standard top-50 MTAT tags, in minzwon's order.</summary>
    public static readonly string[] Top50 =
    [
        "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast", "piano",
        "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male", "singing",
        "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman", "male vocal", "no vocal", "pop",
        "soft", "sitar", "solo", "man", "classic", "choir", "voice", "new age", "dance", "male voice",
        "female vocal", "beats", "harp", "cello", "no voice", "weird", "country", "metal", "female voice", "choral",
    ];

    public static TaskManifest Prepare(DatasetOptions o)
    {
        var root = o.RequireRoot();
        var file = DatasetOptions.Find(root, "MTAT annotations", "annotations_final.csv");
        var table = Csv.Read(file, '\t', trim: true).RequireColumns("clip_id", "mp3_path").RequireFieldCount();
        var header = table.Header;
        if (o.Top is null)
        {
            var missing = Top50.Where(t => !header.Contains(t)).ToList();
            if (missing.Count > 0) throw new InvalidDataException(
                $"{file}: missing column(s) of the standard top-50 tags: {string.Join(", ", missing)} (or give --top N to choose tags from the columns present).");
        }
        var (clipCol, pathCol) = (table.Column("clip_id"), table.Column("mp3_path"));
        var tagCols = Enumerable.Range(0, header.Count).Where(c => c != clipCol && c != pathCol).ToList();
        var splits = o.SplitDir is null ? null
            : TagVocabulary.ReadSplitDir(o.SplitDir).ToDictionary(kv => kv.Key[(kv.Key.LastIndexOf('\t') + 1)..], kv => kv.Value);
        var result = new List<TaskRow>();
        foreach (var row in table.Rows)
        {
            var rel = row[pathCol];
            if (rel.Length == 0) throw table.Error(row, "empty mp3_path.");
            string? split = splits is null ? FolderSplit(rel) : splits.GetValueOrDefault(rel);
            if (split is null) continue;                                        // not in the standard split
            var labels = tagCols.Where(c => row[c] == "1").Select(c => header[c]).ToArray();
            result.Add(new TaskRow(Path.Combine(root, rel), split, labels, TrackRe().Replace(rel, ""), "western"));
        }
        return o.Top is null ? TagVocabulary.Fixed(result, Top50) : TagVocabulary.TopTags(result, o.Top);
    }

    /// <summary>The MTAT folder convention: folders 0–9, a, b train; c valid; d, e, f test.</summary>
    public static string FolderSplit(string mp3Path)
    {
        var c = char.ToLowerInvariant(mp3Path.TrimStart('/')[0]);
        return c is >= '0' and <= '9' or 'a' or 'b' ? "train" : c == 'c' ? "valid" : c is >= 'd' and <= 'f' ? "test"
            : throw new InvalidDataException($"{mp3Path}: not under an MTAT folder 0–f; give --split-dir.");
    }

    // "f/artist-album-01-song-30-59.mp3" → track "f/artist-album-01-song": the clips of one song share it.
    [GeneratedRegex(@"-\d+-\d+\.mp3$")] private static partial Regex TrackRe();
}
