using CultureMert.Audio;
using CultureMert.IO;

namespace CultureMert.Corpus.Datasets;

/// <summary>
/// Lyra (pxaris/lyra-dataset): the public split <c>data/split/training.tsv</c> and <c>test.tsv</c> (tab-separated;
/// <c>id</c>, <c>instruments</c>, <c>genres</c>, <c>place</c>, …; values '|'-separated, "None" for none). Tags are
/// <c>instruments--*</c>, <c>genres--*</c>, <c>place--*</c> (ccml's lyra.py), top 30 on train. If a split file lacks a
/// tag column, the row's tags are taken from <c>data/raw.tsv</c> by id. Validation: a seeded 10% of training (ccml
/// draws it at train time). Audio: <c>root/audio/&lt;id&gt;.*</c> (our layout; Lyra ships YouTube ids and
/// timestamps, not audio) — the first audio file with that stem, else <c>&lt;id&gt;.mp3</c>.
/// </summary>
public static class LyraDataset
{
    public static readonly string[] TagColumns = ["instruments", "genres", "place"];

    public static TaskManifest Prepare(DatasetOptions o)
    {
        var root = o.RequireRoot();
        var training = DatasetOptions.Find(root, "Lyra training split", "data/split/training.tsv", "split/training.tsv", "training.tsv");
        var test = DatasetOptions.Find(root, "Lyra test split", "data/split/test.tsv", "split/test.tsv", "test.tsv");
        Dictionary<string, string[]>? raw = null;
        Dictionary<string, string[]> Raw()
        {
            if (raw is not null) return raw;
            var file = DatasetOptions.Find(root, "Lyra raw.tsv (needed: a split file lacks a tag column)", "data/raw.tsv", "raw.tsv");
            raw = Labels(file, null);
            return raw;
        }
        var audio = Path.Combine(root, "audio");
        var stems = Directory.Exists(audio)
            ? Directory.EnumerateFiles(audio).Where(AudioDecoder.IsAudioFile).GroupBy(f => Path.GetFileNameWithoutExtension(f))
                       .ToDictionary(g => g.Key, g => g.Order(StringComparer.Ordinal).First())
            : [];
        var rows = new List<TaskRow>();
        foreach (var (file, split) in new[] { (training, "train"), (test, "test") })
            foreach (var (id, labels) in Labels(file, Raw))
                rows.Add(new TaskRow(stems.GetValueOrDefault(id) ?? Path.Combine(audio, id + ".mp3"), split, labels, id, "greek"));
        var valid = TagVocabulary.SeededSplit(rows.Where(r => r.Split == "train").Select(r => r.Track!), 0.9, 0.1, 0, o.Seed);
        rows = rows.Select(r => r.Split == "train" ? r with { Split = valid[r.Track!] } : r).ToList();
        return TagVocabulary.TopTags(rows, o.Top ?? 30);
    }

    /// <summary>id → prefixed tags of one Lyra TSV; a missing tag column is filled from <paramref name="raw"/> (or is an error).</summary>
    static Dictionary<string, string[]> Labels(string file, Func<Dictionary<string, string[]>>? raw)
    {
        var table = Csv.Read(file, '\t', trim: true).RequireColumns("id").RequireFieldCount();
        var missing = table.Missing(TagColumns);
        if (missing.Count > 0 && raw is null) throw new InvalidDataException($"{file}: missing column(s) {string.Join(", ", missing)}.");
        var present = TagColumns.Except(missing).ToList();
        var result = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var row in table.Rows)
        {
            var id = row[table.Column("id")];
            if (id.Length == 0) throw table.Error(row, "empty id.");
            var tags = present.SelectMany(c => row[table.Column(c)]
                .Split('|', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Where(v => v != "None").Select(v => $"{c}--{v}")).ToList();
            if (missing.Count > 0)
            {
                var full = raw!();
                if (!full.TryGetValue(id, out var more)) throw table.Error(row, $"id '{id}' is not in raw.tsv.");
                tags.AddRange(more.Where(t => missing.Any(c => t.StartsWith(c + "--", StringComparison.Ordinal))));
            }
            if (!result.TryAdd(id, tags.Distinct().ToArray())) throw table.Error(row, $"id '{id}' appears twice.");
        }
        return result;
    }
}
