using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CultureMert.Audio;
using CultureMert.Corpus.Datasets;
using CultureMert.IO;

namespace CultureMert.Corpus;

/// <summary>Settings of <see cref="CorpusBuilder.Build"/>.</summary>
/// <param name="SecondsPerClip">clip length; clips are consecutive from the start of each rendering</param>
/// <param name="ClipsPerPiece">at most this many clips per piece (fewer when the piece is shorter)</param>
/// <param name="Seed">the split draw (pieces are shuffled per culture with it)</param>
/// <param name="WesternCultures">cultures whose task counts as Western in the evaluation (its manifest's culture column
/// says <c>western</c>)</param>
public sealed record CorpusOptions(double SecondsPerClip = 10, int ClipsPerPiece = 2, int Seed = 0, double TrainShare = 0.7, double ValidShare = 0.1,
                                   IReadOnlyList<string>? WesternCultures = null)
{
    public IReadOnlyList<string> Western => WesternCultures ?? ["western", "western-folk"];
}

/// <summary>One rendered clip of the corpus.</summary>
public sealed record CorpusClip(string Culture, string PieceId, int Index, string Path, string Split, IReadOnlyList<string> Labels, double Seconds);

/// <summary>What <see cref="CorpusBuilder.Build"/> wrote.</summary>
public sealed record CorpusSummary(string Dir, IReadOnlyList<CorpusClip> Clips, IReadOnlyList<string> TaskManifests, IReadOnlyList<string> PretrainManifests,
                                   IReadOnlyList<string> SkippedPieces);

/// <summary>
/// Renders pieces (real scores and procedural music) into clips and writes the benchmark:
/// <c>audio/CULTURE/PIECE--K.wav</c> (24 kHz mono), <c>tasks/CULTURE.csv</c> (one tagging task per culture in the
/// evaluation format, splits fixed by piece), <c>pretrain/CULTURE.csv</c> (the train split's clips, for pre-training:
/// never the valid/test audio the probes are scored on), <c>pieces.csv</c> (every piece's labels and generating
/// parameters) and <c>corpus.json</c> (hours and label counts per culture, settings).
/// </summary>
/// <remarks>
/// Splits: per culture the pieces are shuffled with the seed and cut 70/10/20, each split non-empty when there are at
/// least three pieces; all clips of a piece share its split, so nothing of a piece leaks across splits. Re-running with
/// the same settings reuses clips already on disk (a piece renders only when one of its clips is missing); other
/// settings in the same folder are refused. Clips that are near-silent (RMS below −50 dBFS) are dropped; a piece that
/// fails to render is reported and skipped.
/// </remarks>
public static class CorpusBuilder
{
    public const int SampleRate = 24000;

    /// <param name="render">renders a piece to mono float32 at 24 kHz, at most the given seconds; called from several threads</param>
    public static CorpusSummary Build(IReadOnlyList<MusicPiece> pieces, string outDir, CorpusOptions options,
                                      Func<MusicPiece, double, float[]> render, Action<string>? log = null, CancellationToken cancel = default)
    {
        if (!(options.SecondsPerClip > 0) || options.ClipsPerPiece < 1) throw new ArgumentException("need seconds per clip > 0 and clips per piece ≥ 1.");
        if (!(options.TrainShare > 0) || options.ValidShare < 0 || options.TrainShare + options.ValidShare >= 1)
            throw new ArgumentException("need train share > 0, valid share ≥ 0 and train + valid < 1.");
        foreach (var dup in pieces.GroupBy(p => (p.Culture, p.Id)).Where(g => g.Count() > 1))
            throw new ArgumentException($"two pieces of {dup.Key.Culture} have the id '{dup.Key.Id}'.");
        using var held = FolderLock.Acquire(outDir);
        var settings = SettingsHash(pieces, options);
        var stampPath = Path.Combine(outDir, "corpus.json");
        if (File.Exists(stampPath) && JsonNode.Parse(File.ReadAllText(stampPath))?["settings_sha256"]?.GetValue<string>() is { } old && old != settings)
            throw new ArgumentException($"{outDir} holds a corpus built with other settings or pieces; choose another --out or delete it.");

        var splits = Splits(pieces, options);
        var clips = new List<CorpusClip>();
        var skipped = new List<string>();
        var clipSamples = (int)Math.Round(options.SecondsPerClip * SampleRate);
        List<string> ClipPaths(MusicPiece piece) => [.. Enumerable.Range(0, options.ClipsPerPiece)
            .Select(k => Path.Combine(outDir, "audio", piece.Culture, $"{Safe(piece.Id)}--{k}.wav"))];
        string Marker(MusicPiece piece) => Path.Combine(outDir, "audio", piece.Culture, $"{Safe(piece.Id)}.clips");
        // The marker records how many clips the piece gave: with it and those clips on disk, the piece is done.
        int Done(MusicPiece piece) =>
            File.Exists(Marker(piece)) && int.TryParse(File.ReadAllText(Marker(piece)), CultureInfo.InvariantCulture, out var n) && ClipPaths(piece).Take(n).All(File.Exists) ? n : -1;

        // FluidSynth is one process per piece on one core: render a few pieces at once, then write their clips in order.
        var width = Math.Max(1, Environment.ProcessorCount);
        for (var first = 0; first < pieces.Count; first += 4 * width)
        {
            cancel.ThrowIfCancellationRequested();
            var batch = Enumerable.Range(first, Math.Min(4 * width, pieces.Count - first)).ToList();
            var rendered = new (float[]? Audio, Exception? Error)[pieces.Count];
            Parallel.ForEach(batch.Where(i => Done(pieces[i]) < 0), new ParallelOptions { MaxDegreeOfParallelism = width, CancellationToken = cancel }, i =>
            {
                try { rendered[i] = (render(pieces[i], options.SecondsPerClip * options.ClipsPerPiece + 0.5), null); }
                catch (Exception e) when (e is InvalidDataException or IOException or InvalidOperationException or ArgumentException) { rendered[i] = (null, e); }
            });
            foreach (var i in batch)
            {
                var piece = pieces[i];
                var paths = ClipPaths(piece);
                var done = Done(piece);
                var existing = paths.Take(Math.Max(done, 0)).ToList();
                if (done < 0)
                {
                    if (rendered[i].Error is { } e)
                    {
                        skipped.Add($"{piece.Culture}/{piece.Id}: {e.Message}");
                        log?.Invoke($"warning: {piece.Culture}/{piece.Id} skipped: {e.Message}");
                        continue;
                    }
                    var audio = rendered[i].Audio!;
                    for (var k = 0; k < options.ClipsPerPiece && (k + 1) * (long)clipSamples <= audio.Length; k++)
                    {
                        var clip = audio.AsSpan(k * clipSamples, clipSamples);
                        if (Rms(clip) < 0.00316) continue;                                  // −50 dBFS: a rest, not music
                        AudioFile.WriteWav(paths[existing.Count], clip, SampleRate);
                        existing.Add(paths[existing.Count]);
                    }
                    AtomicFile.WriteText(Marker(piece), existing.Count.ToString(CultureInfo.InvariantCulture));
                }
                if (existing.Count == 0)
                {
                    skipped.Add($"{piece.Culture}/{piece.Id}: shorter than one clip of {options.SecondsPerClip} s, or silent");
                    if (done < 0) log?.Invoke($"warning: {piece.Culture}/{piece.Id} skipped: shorter than one clip of {options.SecondsPerClip} s, or silent");
                }
                clips.AddRange(existing.Select((p, k) => new CorpusClip(piece.Culture, piece.Id, k, p, splits[(piece.Culture, piece.Id)], piece.Labels, options.SecondsPerClip)));
                log?.Invoke(FormattableString.Invariant($"[{i + 1}/{pieces.Count}] {piece.Culture}/{piece.Id}: {existing.Count} clips"));
            }
        }

        var tasks = new List<string>();
        var pretrain = new List<string>();
        foreach (var culture in clips.Select(c => c.Culture).Distinct().Order(StringComparer.Ordinal))
        {
            var mine = clips.Where(c => c.Culture == culture).ToList();
            var western = options.Western.Contains(culture);
            var task = Path.Combine(outDir, "tasks", culture + ".csv");
            var group = western ? "western" : culture;
            new TaskManifest(mine.Select(c => new TaskRow(c.Path, c.Split, [.. c.Labels], c.PieceId, group)).ToList(), []).Write(task);
            tasks.Add(task);
            tasks.AddRange(ClassTasks(mine, group, Path.Combine(outDir, "tasks")));
            var pre = Path.Combine(outDir, "pretrain", culture + ".csv");
            Csv.Write(pre, ["path", "duration_s"], mine.Where(c => c.Split == "train").Select(c => new[]
            {
                Path.GetRelativePath(Path.GetDirectoryName(pre)!, c.Path).Replace('\\', '/'), c.Seconds.ToString("R", CultureInfo.InvariantCulture),
            }));
            pretrain.Add(pre);
        }
        WritePieces(Path.Combine(outDir, "pieces.csv"), pieces, splits);
        WriteSummary(stampPath, settings, options, clips, pieces, skipped);
        return new CorpusSummary(outDir, clips, tasks, pretrain, skipped);
    }

    /// <summary>Piece → split: per culture, a seeded shuffle cut at the train and valid shares (each split non-empty from three pieces on).</summary>
    public static Dictionary<(string Culture, string Id), string> Splits(IReadOnlyList<MusicPiece> pieces, CorpusOptions options)
    {
        var result = new Dictionary<(string, string), string>();
        foreach (var group in pieces.GroupBy(p => p.Culture))
        {
            var ids = group.Select(p => p.Id).Order(StringComparer.Ordinal).ToArray();
            var rng = new Random(HashCode(options.Seed, group.Key));
            rng.Shuffle(ids);
            var n = ids.Length;
            var nTrain = (int)Math.Round(options.TrainShare * n);
            var nValid = (int)Math.Round(options.ValidShare * n);
            if (n >= 3)
            {
                nValid = Math.Max(1, nValid);
                nTrain = Math.Clamp(nTrain, 1, n - nValid - 1);                      // at least one test piece
            }
            for (var i = 0; i < n; i++)
                result[(group.Key, ids[i])] = i < nTrain ? "train" : i < nTrain + nValid ? "valid" : "test";
        }
        return result;
    }

    /// <summary>
    /// A culture's class tasks beside its tagging task: <c>CULTURE-TYPE.csv</c>, single-label classification of the
    /// culture's class label (genre, mode, makam, raga, tune type), and <c>CULTURE-TYPE-retrieval.csv</c>, retrieval by
    /// the same label. The class label is the first label type (the part before <c>--</c>, in the order the pieces list
    /// their labels) that every clip has exactly once and that takes at least two values in the train split; a culture
    /// without one has no class tasks.
    /// </summary>
    private static IEnumerable<string> ClassTasks(List<CorpusClip> clips, string group, string folder)
    {
        static string TypeOf(string label) => label.Split("--")[0];
        var type = clips[0].Labels.Select(TypeOf).Distinct().FirstOrDefault(t =>
            clips.All(c => c.Labels.Count(l => TypeOf(l) == t) == 1) &&
            clips.Where(c => c.Split == "train").Select(c => c.Labels.First(l => TypeOf(l) == t)).Distinct().Count() >= 2);
        if (type is null) return [];
        var rows = clips.Select(c => new TaskRow(c.Path, c.Split, [c.Labels.First(l => TypeOf(l) == type)], c.PieceId, group)).ToList();
        return new[] { ("", TaskType.SingleLabel), ("-retrieval", TaskType.Retrieval) }.Select(x =>
        {
            var path = Path.Combine(folder, $"{clips[0].Culture}-{type}{x.Item1}.csv");
            new TaskManifest(rows, []) { Type = x.Item2 }.Write(path);
            return path;
        }).ToList();
    }

    /// <summary>A stable seed from a number and a name (string.GetHashCode is randomised per process).</summary>
    private static int HashCode(int seed, string name) =>
        BitConverter.ToInt32(SHA256.HashData(Encoding.UTF8.GetBytes($"{seed}:{name}")), 0);

    private static string Safe(string id) => string.Concat(id.Select(c => Path.GetInvalidFileNameChars().Contains(c) || c == ' ' ? '_' : c));

    private static double Rms(ReadOnlySpan<float> x)
    {
        double s = 0;
        foreach (var v in x) s += v * (double)v;
        return Math.Sqrt(s / Math.Max(1, x.Length));
    }

    private static string SettingsHash(IReadOnlyList<MusicPiece> pieces, CorpusOptions o)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes(FormattableString.Invariant($"{o.SecondsPerClip}|{o.ClipsPerPiece}|{o.Seed}|{o.TrainShare}|{o.ValidShare}|{string.Join(",", o.Western)}|{SampleRate}")));
        foreach (var p in pieces)
        {
            sha.AppendData(Encoding.UTF8.GetBytes($"|{p.Culture}|{p.Id}|{string.Join(";", p.Labels)}|"));
            sha.AppendData(p.Midi);
        }
        return Convert.ToHexString(sha.GetHashAndReset())[..16].ToLowerInvariant();
    }

    private static void WritePieces(string path, IReadOnlyList<MusicPiece> pieces, Dictionary<(string, string), string> splits)
    {
        Csv.Write(path, ["culture", "id", "split", "labels", "parameters"], pieces.Select(p => new[]
        {
            p.Culture, p.Id, splits[(p.Culture, p.Id)], string.Join(';', p.Labels),
            JsonSerializer.Serialize(p.Parameters.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToDictionary()),
        }));
    }

    private static void WriteSummary(string path, string settings, CorpusOptions o, List<CorpusClip> clips, IReadOnlyList<MusicPiece> pieces, List<string> skipped)
    {
        var cultures = new JsonObject();
        foreach (var g in clips.GroupBy(c => c.Culture).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var bySplit = new JsonObject();
            foreach (var s in TaskManifest.Splits)
                bySplit[s] = new JsonObject
                {
                    ["pieces"] = g.Where(c => c.Split == s).Select(c => c.PieceId).Distinct().Count(),
                    ["clips"] = g.Count(c => c.Split == s),
                };
            var labels = new JsonObject();
            foreach (var l in g.SelectMany(c => c.Labels).GroupBy(l => l).OrderByDescending(l => l.Count()).ThenBy(l => l.Key, StringComparer.Ordinal))
                labels[l.Key] = l.Count();
            cultures[g.Key] = new JsonObject
            {
                ["hours"] = Math.Round(g.Sum(c => c.Seconds) / 3600, 4),
                ["pieces"] = g.Select(c => c.PieceId).Distinct().Count(),
                ["clips"] = g.Count(),
                ["western"] = o.Western.Contains(g.Key),
                ["splits"] = bySplit,
                ["label_counts_per_clip"] = labels,
            };
        }
        var json = new JsonObject
        {
            ["settings_sha256"] = settings,
            ["sample_rate"] = SampleRate,
            ["seconds_per_clip"] = o.SecondsPerClip,
            ["clips_per_piece"] = o.ClipsPerPiece,
            ["seed"] = o.Seed,
            ["hours"] = Math.Round(clips.Sum(c => c.Seconds) / 3600, 4),
            ["pieces"] = pieces.Count,
            ["cultures"] = cultures,
            ["skipped"] = new JsonArray([.. skipped.Select(s => (JsonNode?)JsonValue.Create(s))]),
        };
        AtomicFile.WriteText(path, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n");
    }
}
