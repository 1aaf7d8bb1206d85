using CultureMert.Audio;

namespace CultureMert.Corpus.Datasets;

/// <summary>
/// One subfolder per label: <c>root/&lt;label&gt;/**/*.wav</c> (single-label). If the root holds <c>train/</c>,
/// <c>valid/</c> and <c>test/</c> folders, those are the split (<c>root/train/&lt;label&gt;/…</c>); otherwise files are
/// split 0.7/0.1/0.2 with the seed. Every label is kept unless <c>--top</c> is given.
/// </summary>
public static class FolderDataset
{
    public static TaskManifest Prepare(DatasetOptions o)
    {
        var root = o.RequireRoot();
        var rows = new List<TaskRow>();
        var presplit = TaskManifest.Splits.All(s => Directory.Exists(Path.Combine(root, s)));
        if (presplit)
            foreach (var s in TaskManifest.Splits) rows.AddRange(Scan(Path.Combine(root, s), s));
        else
        {
            var found = Scan(root, "train");
            var split = TagVocabulary.SeededSplit(found.Select(r => r.Path), 0.7, 0.1, 0.2, o.Seed);
            rows.AddRange(found.Select(r => r with { Split = split[r.Path] }));
        }
        if (rows.Count == 0) throw new InvalidDataException($"{root}: no audio files in label subfolders (expected root/<label>/<file>.wav).");
        return TagVocabulary.TopTags(rows, o.Top);
    }

    static IEnumerable<TaskRow> Scan(string dir, string split) =>
        Directory.GetDirectories(dir).Order(StringComparer.Ordinal).SelectMany(labelDir =>
            Directory.EnumerateFiles(labelDir, "*", SearchOption.AllDirectories).Where(AudioDecoder.IsAudioFile)
                     .Select(f => new TaskRow(Path.GetFullPath(f), split, [Path.GetFileName(labelDir)])));
}
