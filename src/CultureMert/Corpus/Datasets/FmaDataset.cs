using System.Globalization;
using CultureMert.IO;

namespace CultureMert.Corpus.Datasets;

/// <summary>
/// FMA-medium: <c>fma_metadata/tracks.csv</c> (pandas' 3-row header: row 1 the column group — <c>set</c>, <c>track</c>…,
/// row 2 the column — <c>split</c>, <c>subset</c>, <c>genres_all</c>…, row 3 <c>track_id</c>) and
/// <c>fma_metadata/genres.csv</c> (<c>genre_id</c>, <c>title</c>). The medium subset is every track whose
/// <c>set/subset</c> is small or medium; labels are the titles of <c>track/genres_all</c> (the genre with its parents:
/// the hierarchical labels), top 20 on train. Split: the official <c>set/split</c> (training/validation/test), or a
/// seeded 0.7/0.1/0.2 split with <see cref="DatasetOptions.SeededSplit"/> (ccml's). Audio at
/// <c>root/fma_medium/000/000002.mp3</c>.
/// </summary>
public static class FmaDataset
{
    public static TaskManifest Prepare(DatasetOptions o)
    {
        var root = o.RequireRoot();
        var tracksFile = DatasetOptions.Find(root, "FMA tracks.csv", "fma_metadata/tracks.csv", "tracks.csv");
        var genresFile = DatasetOptions.Find(root, "FMA genres.csv", "fma_metadata/genres.csv", "genres.csv");
        var genres = ReadGenres(genresFile);
        // FMA's tracks.csv has three header rows: column group (set, track, …), column name, then "track_id".
        var table = Csv.Read(tracksFile);
        if (table.Rows.Count < 2) throw new InvalidDataException($"{tracksFile}: expected the 3-row header of FMA's tracks.csv, found {table.Rows.Count + (table.IsEmpty ? 0 : 1)} row(s).");
        var (groups, names) = (table.Header, table.Rows[0]);
        if (table.Rows[1].Get(0) != "track_id")
            throw table.Error(table.Rows[1], "expected 'track_id' to start the third header row (FMA's 3-row header).");
        int Col(string group, string name)
        {
            for (var c = 0; c < Math.Min(groups.Count, names.Count); c++)
                if (groups[c].Trim() == group && names[c].Trim() == name) return c;
            return -1;
        }
        int split = Col("set", "split"), subset = Col("set", "subset"), genresAll = Col("track", "genres_all");
        var missing = new[] { ("set/split", split), ("set/subset", subset), ("track/genres_all", genresAll) }.Where(x => x.Item2 < 0).Select(x => x.Item1).ToList();
        if (missing.Count > 0) throw new InvalidDataException($"{tracksFile}: missing column(s) {string.Join(", ", missing)}.");
        var result = new List<TaskRow>();
        foreach (var r in table.Rows.Skip(2))
        {
            if (r.Count != names.Count) throw table.Error(r, $"{r.Count} fields, the header has {names.Count}.");
            if (r.Get(subset) is not ("small" or "medium")) continue;
            if (!int.TryParse(r[0], NumberStyles.None, CultureInfo.InvariantCulture, out var id))
                throw table.Error(r, $"track_id '{r[0]}' is not a number.");
            var s = r.Get(split) switch
            {
                "training" => "train", "validation" => "valid", "test" => "test",
                var x => throw table.Error(r, $"set/split '{x}' is not training, validation or test."),
            };
            var labels = r.Get(genresAll).Trim('[', ']').Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(g => genres.TryGetValue(g, out var t) ? t
                     : throw table.Error(r, $"genre id {g} is not in {genresFile}.")).ToArray();
            var name = id.ToString("D6", CultureInfo.InvariantCulture);
            result.Add(new TaskRow(Path.Combine(root, "fma_medium", name[..3], name + ".mp3"), s, labels, name, "western"));
        }
        if (o.SeededSplit)
        {
            var drawn = TagVocabulary.SeededSplit(result.Select(r => r.Track!), 0.7, 0.1, 0.2, o.Seed);
            result = result.Select(r => r with { Split = drawn[r.Track!] }).ToList();
        }
        return TagVocabulary.TopTags(result, o.Top ?? 20);
    }

    static Dictionary<string, string> ReadGenres(string file)
    {
        var table = Csv.Read(file).RequireColumns("genre_id", "title");
        int id = table.Column("genre_id"), title = table.Column("title");
        return table.Rows.Where(r => r.Count == table.Header.Count).ToDictionary(r => r.Get(id), r => r.Get(title));
    }
}
