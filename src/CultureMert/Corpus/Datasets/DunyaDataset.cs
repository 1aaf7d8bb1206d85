using System.Text.Json;
using CultureMert.Audio;

namespace CultureMert.Corpus.Datasets;

/// <summary>
/// CompMusic/Dunya corpora (Turkish makam, Hindustani, Carnatic) as in ccml's "From West to East" study: tags prefixed by
/// type — makam: <c>makam--</c>, <c>usul--</c>, <c>instrument--</c>; Hindustani and Carnatic: <c>raga--</c>, <c>tala--</c>,
/// <c>instrument--</c>, <c>form--</c> — top N on train (makam 30, Hindustani 20, Carnatic 20), split 0.7/0.1/0.2 seeded
/// or from <c>--split-dir</c> (lists of mbids, as ccml's <c>data/*/split/*.npy</c>).
/// <para>Input is OUR documented layout (ccml's get_metadata.py output is not available here): <c>root/metadata/&lt;mbid&gt;.json</c>,
/// one object per recording, <c>{"mbid": "…", "makam": ["Hicaz"], "usul": ["Aksak"], "instrument": ["Ney", "Voice"]}</c>
/// (each type a list of names or one name; absent = none), produce it from the Dunya API (pycompmusic) with one key per
/// tag type; audio at <c>root/audio/&lt;mbid&gt;.*</c> (default <c>.mp3</c>).</para>
/// </summary>
public static class DunyaDataset
{
    public sealed record Spec(string Name, string Culture, string[] TagTypes, int Top);

    public static readonly Spec Makam = new("makam", "turkish-makam", ["makam", "usul", "instrument"], 30);
    public static readonly Spec Hindustani = new("hindustani", "hindustani", ["raga", "tala", "instrument", "form"], 20);
    public static readonly Spec Carnatic = new("carnatic", "carnatic", ["raga", "tala", "instrument", "form"], 20);

    public static Spec Tradition(string kind) => kind switch
    {
        "makam" => Makam, "hindustani" => Hindustani, "carnatic" => Carnatic,
        _ => throw new ArgumentException($"unknown Dunya tradition '{kind}' (expected makam, hindustani or carnatic)."),
    };

    public static TaskManifest Prepare(Spec spec, DatasetOptions o)
    {
        var root = o.RequireRoot();
        var meta = Path.Combine(root, "metadata");
        if (!Directory.Exists(meta)) throw new DirectoryNotFoundException($"{root}: no metadata/ folder (expected metadata/<mbid>.json, one per recording).");
        var files = Directory.GetFiles(meta, "*.json").Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new InvalidDataException($"{meta}: no .json metadata files.");
        var audio = Path.Combine(root, "audio");
        var stems = Directory.Exists(audio)
            ? Directory.EnumerateFiles(audio).Where(AudioDecoder.IsAudioFile).GroupBy(f => Path.GetFileNameWithoutExtension(f))
                       .ToDictionary(g => g.Key, g => g.Order(StringComparer.Ordinal).First())
            : [];
        var recordings = new List<(string Mbid, string[] Labels)>();
        foreach (var file in files)
        {
            JsonElement doc;
            try { doc = JsonDocument.Parse(File.ReadAllText(file)).RootElement; }
            catch (JsonException e) { throw new InvalidDataException($"{file}: not valid JSON ({e.Message})."); }
            if (doc.ValueKind != JsonValueKind.Object || !doc.TryGetProperty("mbid", out var m) || m.ValueKind != JsonValueKind.String || m.GetString()!.Length == 0)
                throw new InvalidDataException($"{file}: missing field 'mbid' (a non-empty string).");
            var labels = new List<string>();
            foreach (var type in spec.TagTypes)
            {
                if (!doc.TryGetProperty(type, out var v) || v.ValueKind == JsonValueKind.Null) continue;
                var values = v.ValueKind switch
                {
                    JsonValueKind.String => [v.GetString()!],
                    JsonValueKind.Array when v.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String) => v.EnumerateArray().Select(e => e.GetString()!).ToArray(),
                    _ => throw new InvalidDataException($"{file}: field '{type}' must be a string or a list of strings."),
                };
                labels.AddRange(values.Select(x => x.Trim()).Where(x => x.Length > 0).Select(x => $"{type}--{x}"));
            }
            recordings.Add((m.GetString()!, labels.Distinct().ToArray()));
        }
        var dup = recordings.GroupBy(r => r.Mbid).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new InvalidDataException($"{meta}: mbid {dup.Key} is described by more than one file.");
        var split = o.SplitDir is null ? TagVocabulary.SeededSplit(recordings.Select(r => r.Mbid), 0.7, 0.1, 0.2, o.Seed)
                                       : TagVocabulary.ReadSplitDir(o.SplitDir);
        var rows = recordings.Where(r => split.ContainsKey(r.Mbid))          // recordings outside given split lists are left out
            .Select(r => new TaskRow(stems.GetValueOrDefault(r.Mbid) ?? Path.Combine(audio, r.Mbid + ".mp3"), split[r.Mbid], r.Labels, r.Mbid, spec.Culture));
        return TagVocabulary.TopTags(rows, o.Top ?? spec.Top);
    }
}
