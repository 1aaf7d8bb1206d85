using System.Globalization;
using CultureMert.Audio;
using CultureMert.Batch;
using CultureMert.Checkpoints;
using CultureMert.Corpus;
using CultureMert.IO;
using CultureMert.Model;
using CultureMert.Teachers;
using static TorchSharp.torch;

namespace CultureMert.Pretraining;

/// <summary>One audio file a source can draw crops from.</summary>
/// <param name="Samples">length at 24 kHz (from the header or the manifest's duration_s; exact once decoded)</param>
/// <param name="Targets">its target-cache file, when a cache is used</param>
public sealed record TrainingFile(string Source, string Path, long Samples, string? Targets);

/// <summary>A batch of training crops, all tensors on the CPU, owned by whoever drew it (Dispose, on its thread).</summary>
/// <param name="Audio">float32 (batch, crop samples), clean (before noise mixing)</param>
/// <param name="Codes">int64 (batch, T, n_codebooks), T = the model's frame count for a crop</param>
/// <param name="Cqt">float32 (batch, T, bins)</param>
/// <param name="Valid">bool (batch, T): false on frames that are zero padding of a short file</param>
/// <param name="Seconds">seconds of real audio drawn from each source</param>
/// <param name="Crops">each example's file and first sample</param>
public sealed record TrainingBatch(Tensor Audio, Tensor Codes, Tensor Cqt, Tensor Valid, IReadOnlyDictionary<string, double> Seconds,
                                   IReadOnlyList<(TrainingFile File, int Start)> Crops) : IDisposable
{
    public void Dispose() { Audio.Dispose(); Codes.Dispose(); Cqt.Dispose(); Valid.Dispose(); }
}

/// <summary>
/// The training data of a recipe: each source's files, the weighted draw of crops that hits a stage's mix in
/// expectation, and the targets of each crop (codes from a <c>tokenize</c> cache or a teacher applied to the whole file; the CQT of the crop).
/// </summary>
/// <remarks>
/// A crop is drawn as: source ~ the stage's mix; file ~ proportional to its length within the source (every second of a
/// source equally likely); start ~ U{0..L − crop} (fairseq's random crop), label offset round(start/320). Whole files are
/// decoded once and kept in a bounded LRU cache, as are their token codes. The codes are those of the whole file, sliced
/// at the crop (MERT's label files: EnCodec's LSTM sees the context before the crop). The CQT target is computed from the
/// crop itself, as the model is fed it (after the preprocessor, before noise, zero-padded when short): MERT computes it
/// inside the model's forward from the batch (spec/mert.md §5), so the first frames of a crop never see audio before it.
/// Every draw uses the caller's <see cref="Random"/>, so a batch is a pure function of the run's seed and step.
/// </remarks>
public sealed class PretrainData : IDisposable
{
    public const int SampleRate = 24000;
    private readonly MertConfig grid;
    private readonly int cropSamples, cropFrames;
    private readonly bool padShort;
    private readonly Dictionary<string, List<TrainingFile>> files;
    private readonly ITokenTeacher? teacher;
    private readonly MertCqt cqt;
    private readonly PreprocessorConfig preprocessor;
    private readonly LruCache<string, float[]> audio;
    private readonly LruCache<string, Tensor> codeCache;

    public IReadOnlyDictionary<string, List<TrainingFile>> Files => files;
    public int Codebooks { get; }
    public int CodebookSize { get; }
    public int CropSamples => cropSamples;
    /// <summary>Model frames per crop, T.</summary>
    public int CropFrames => cropFrames;

    /// <param name="files">usable files per source (see <see cref="Scan"/>)</param>
    /// <param name="teacher">null when every file has a target-cache entry</param>
    public PretrainData(MertConfig grid, PreprocessorConfig preprocessor, Dictionary<string, List<TrainingFile>> files, double cropSeconds, bool padShort,
                        ITokenTeacher? teacher, int codebooks, int codebookSize, long cacheBytes = 2L << 30)
    {
        this.grid = grid;
        this.preprocessor = preprocessor;
        this.files = files;
        this.padShort = padShort;
        this.teacher = teacher;
        (Codebooks, CodebookSize) = (codebooks, codebookSize);
        cropSamples = (int)Math.Round(cropSeconds * SampleRate);
        cropFrames = (int)grid.FrameCount(cropSamples);
        if (cropFrames < 1) throw new ArgumentException($"crop_seconds {cropSeconds} gives no model frame (need ≥ {grid.ReceptiveField} samples).");
        cqt = new MertCqt();
        audio = new LruCache<string, float[]>(cacheBytes / 2, a => a.LongLength * 4, _ => { });
        // Cached codes live outside every dispose scope, owned by this cache: disposed on eviction or by Dispose, both on
        // the one thread that calls Draw. An eviction never frees a batch's data: Draw's slices are views holding their own
        // reference to the storage, copied by stack before Draw returns.
        codeCache = new LruCache<string, Tensor>(cacheBytes / 2, t => t.NumberOfElements * 8, t => t.Dispose());
    }

    /// <summary>
    /// The usable files of each source: readable, long enough for a crop (unless padding is asked for) and, with a cache,
    /// present in it. Every file left out is reported through <paramref name="warn"/> with the reason; a source left with
    /// no file is an error. Synthesised sources are rendered into <paramref name="dataDir"/> first (once: existing
    /// clips are reused).
    /// </summary>
    public static Dictionary<string, List<TrainingFile>> Scan(Recipe recipe, string dataDir, Action<string> warn)
    {
        var cropSamples = (long)Math.Round(recipe.CropSeconds * SampleRate);
        Dictionary<string, string>? cache = recipe.Targets.Cache is { } c ? CacheIndex(c) : null;
        var result = new Dictionary<string, List<TrainingFile>>();
        var used = recipe.Stages.SelectMany(s => s.Mix.Keys).ToHashSet();
        foreach (var source in recipe.Sources.Values.Where(s => used.Contains(s.Name)))
        {
            if (source.Manifest is { } m && !File.Exists(m))
                throw new FileNotFoundException($"{m}: manifest of source '{source.Name}' not found (recipe {recipe.SourceFile}).");
            var entries = source.Synthesize is { } spec ? Synthesize(source.Name, spec, dataDir) : ReadManifest(source.Manifest!);
            var list = new List<TrainingFile>();
            foreach (var (path, duration) in entries)
            {
                long samples;
                try { samples = duration is { } d ? (long)Math.Round(d * SampleRate) : HeaderSamples(path); }
                catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or UnauthorizedAccessException or ArgumentException)
                { warn(e.Message.StartsWith(path) ? $"skipped {e.Message}" : $"{path}: skipped: {e.Message}"); continue; }
                if (samples < cropSamples && !recipe.PadShort)
                { warn($"{path}: skipped: {samples / (double)SampleRate:F2} s is shorter than one crop of {recipe.CropSeconds} s (set \"pad_short\": true to pad it)."); continue; }
                string? target = null;
                if (cache is not null && !cache.TryGetValue(Path.GetFullPath(path), out target))
                { warn($"{path}: skipped: no targets for it in the cache {recipe.Targets.Cache}."); continue; }
                list.Add(new TrainingFile(source.Name, path, samples, target));
            }
            if (list.Count == 0) throw new InvalidDataException($"source '{source.Name}': no usable audio file (see the warnings above).");
            result[source.Name] = list;
        }
        return result;
    }

    private static long HeaderSamples(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException("file not found.");
        using var reader = AudioDecoder.Open(path);
        if (reader.Frames is { } f) return (long)Math.Floor(f * (double)SampleRate / reader.SampleRate);
        return AudioFile.ReadMono(path, SampleRate).LongLength;      // no length in the header (some MP3s): decode once
    }

    private static List<(string Path, double? Duration)> ReadManifest(string manifest)
    {
        var paths = Manifest.ReadPaths(manifest);                                  // checks the path column and each row's path
        var table = Csv.Read(manifest);
        var duration = table.Column("duration_s");
        var dir = Path.GetDirectoryName(Path.GetFullPath(manifest))!;
        return [.. table.Rows.Select((row, i) => (Path.GetFullPath(Path.Combine(dir, paths[i])), duration >= 0 ? row.Double(duration) : null))];
    }

    private static List<(string Path, double? Duration)> Synthesize(string name, SynthesisSpec spec, string dataDir)
    {
        var dir = Path.Combine(dataDir, name);
        Directory.CreateDirectory(dir);
        var piece = DemoAudio.Pieces.Single(p => p.Name == spec.Piece) with { Seconds = spec.Seconds, SampleRate = SampleRate };
        var result = new List<(string, double?)>();
        for (var i = 0; i < spec.Clips; i++)
        {
            var path = Path.Combine(dir, FormattableString.Invariant($"{spec.Piece}-s{spec.Seed + i}-{spec.Seconds:0.##}s.wav"));
            if (!File.Exists(path)) AudioFile.WriteWav(path, DemoAudio.Render(piece, spec.Seed + i), SampleRate);
            result.Add((path, null));
        }
        return result;
    }

    /// <summary>Source path → target file, from a tokenize output folder's index.csv (rows with status ok).</summary>
    private static Dictionary<string, string> CacheIndex(string cacheDir)
    {
        var index = Path.Combine(cacheDir, BatchJob.IndexFile);
        if (!File.Exists(index)) throw new FileNotFoundException($"{index}: the target cache has no index (run culturemert tokenize into {cacheDir}).");
        return Manifest.ReadIndex(index).Where(r => r.Status is "ok" or "skipped")
            .GroupBy(r => Path.GetFullPath(r.Path)).ToDictionary(g => g.Key, g => Path.GetFullPath(Path.Combine(cacheDir, g.Last().Output)));
    }

    /// <summary>Draws one batch for a stage's mix.</summary>
    /// <param name="mix">source → probability (sums to 1)</param>
    public TrainingBatch Draw(IReadOnlyDictionary<string, double> mix, int batchSize, Random rng)
    {
        using var scope = NewDisposeScope();
        var seconds = mix.Keys.ToDictionary(k => k, _ => 0.0);
        var wave = new float[batchSize * (long)cropSamples];
        var codes = new List<Tensor>(batchSize);
        var valid = new bool[batchSize * cropFrames];                                // (batch, T): false on padding frames
        var crops = new List<(TrainingFile, int)>(batchSize);
        var names = mix.Keys.OrderBy(k => k, StringComparer.Ordinal).ToArray();    // fixed order: the draw does not depend on JSON order
        for (var b = 0; b < batchSize; b++)
        {
            var source = Pick(names, names.Select(n => mix[n]).ToArray(), rng);
            var pool = files[source];
            var file = pool[Pick(pool.Count, pool.Select(f => (double)f.Samples).ToArray(), rng)];
            var samples = Audio(file);
            var t = Codes(file, samples);                                   // (n_q, T_file)
            var labelFrames = (int)t.size(1);
            int start, realSamples;
            if (samples.Length >= cropSamples)
            {
                // Largest start whose labels still fit: round(start/320) + T ≤ the file's label frames.
                var maxStart = samples.Length - cropSamples;
                while (maxStart > 0 && RandomCrop.LabelOffset(maxStart) + cropFrames > labelFrames) maxStart--;
                if (RandomCrop.LabelOffset(maxStart) + cropFrames > labelFrames)
                    throw new InvalidDataException($"{file.Path}: its targets have {labelFrames} frames, too few for a crop of {cropFrames}.");
                start = rng.Next(0, maxStart + 1);
                realSamples = cropSamples;
            }
            else if (padShort) { start = 0; realSamples = samples.Length; }
            else throw new InvalidDataException($"{file.Path}: {samples.Length} samples, shorter than the crop of {cropSamples}.");
            Array.Copy(samples, start, wave, b * (long)cropSamples, realSamples);
            crops.Add((file, start));
            seconds[source] += realSamples / (double)SampleRate;

            var offset = RandomCrop.LabelOffset(start);
            var frames = Math.Min(cropFrames, labelFrames - offset);                         // < T only for padded crops
            var realFrames = Math.Min(frames, (int)grid.FrameCount(realSamples));
            codes.Add(PadFrames(t.narrow(1, offset, frames).t(), cropFrames));                 // (T, n_q)
            // Not arange(T).lt(realFrames): its implicit int → Scalar temporary can be freed by the finaliser thread while
            // libtorch reads it — the "Unknown scalar type" / "toLong" crashes (see Scalars).
            valid.AsSpan(b * cropFrames, realFrames).Fill(true);
        }
        var audioT = preprocessor.Apply(tensor(wave, new long[] { batchSize, cropSamples }));   // (batch, samples)
        return new TrainingBatch(audioT.MoveToOuterDisposeScope(), stack(codes).MoveToOuterDisposeScope(), CropCqt(audioT).MoveToOuterDisposeScope(),
                                 tensor(valid, new long[] { batchSize, cropFrames }).MoveToOuterDisposeScope(), seconds, crops);
    }

    /// <summary>The CQT target of each crop as fed to the model, its first T frames (MERT truncates floor(L/320) + 1 to T).</summary>
    /// <param name="audio">(batch, samples), preprocessed</param>
    /// <returns>(batch, T, bins) float32</returns>
    private Tensor CropCqt(Tensor audio)
    {
        using var scope = NewDisposeScope();
        var rows = new List<Tensor>((int)audio.size(0));
        for (var b = 0L; b < audio.size(0); b++)
            rows.Add(cqt.Transform(audio[b]).narrow(1, 0, cropFrames).t());                  // (T, bins)
        return stack(rows).MoveToOuterDisposeScope();
    }

    private static Tensor PadFrames(Tensor x, int frames) =>
        x.size(0) == frames ? x : nn.functional.pad(x, new long[] { 0, 0, 0, frames - x.size(0) });

    private static int Pick(int n, double[] weights, Random rng)
    {
        var u = rng.NextDouble() * weights.Sum();
        for (var i = 0; i < n; i++)
        {
            u -= weights[i];
            if (u < 0) return i;
        }
        return n - 1;
    }

    private static string Pick(string[] names, double[] weights, Random rng) => names[Pick(names.Length, weights, rng)];

    private float[] Audio(TrainingFile file) => audio.GetOrAdd(file.Path, () =>
    {
        var samples = AudioFile.ReadMono(file.Path, SampleRate);
        if (samples.Length < grid.ReceptiveField) throw new InvalidDataException($"{file.Path}: {samples.Length} samples decoded, too short for one frame.");
        if (samples.Any(v => !float.IsFinite(v))) throw new InvalidDataException($"{file.Path}: the audio contains NaN or infinite samples.");
        return samples;
    });

    /// <summary>The teacher's codes of a whole file: its target-cache entry, or the teacher applied to the decoded audio.</summary>
    /// <returns>(n_q, frames) int64 on the CPU, owned by the cache</returns>
    private Tensor Codes(TrainingFile file, float[] samples) => codeCache.GetOrAdd(file.Path, () =>
    {
        if (file.Targets is { } cacheFile)
        {
            using var reader = new SafeTensorsReader(cacheFile);
            if (!reader.Contains("codes")) throw new InvalidDataException($"{cacheFile}: the target cache entry has no 'codes' tensor (run culturemert tokenize).");
            var c = reader.Read("codes").to_type(ScalarType.Int64);
            if (c.dim() != 2 || c.size(0) != Codebooks) throw new InvalidDataException($"{cacheFile}: codes have shape [{string.Join(", ", c.shape)}], expected [{Codebooks}, frames].");
            if (c.max().item<long>() >= CodebookSize || c.min().item<long>() < 0) throw new InvalidDataException($"{cacheFile}: codes outside [0, {CodebookSize}).");
            return c.DetachFromDisposeScope();
        }
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var codes = teacher!.Encode(tensor(samples));                       // (n_q, teacher frames), on the teacher's device
        // Cached on the CPU, where batches are cut (the cache's budget is host memory); the trainer moves each batch.
        return codes.to(ScalarType.Int64, CPU, copy: true).DetachFromDisposeScope();
    });

    public void Dispose()
    {
        audio.Dispose();
        codeCache.Dispose();
        cqt.Dispose();
    }
}

/// <summary>
/// A least-recently-used cache bounded by an estimate of bytes; an item larger than the bound is still kept alone.
/// Not thread-safe: one thread uses it (and so disposes what it evicts).
/// </summary>
internal sealed class LruCache<TKey, TValue>(long maxBytes, Func<TValue, long> size, Action<TValue> evict) : IDisposable where TKey : notnull
{
    private readonly LinkedList<(TKey Key, TValue Value, long Bytes)> order = new();
    private readonly Dictionary<TKey, LinkedListNode<(TKey Key, TValue Value, long Bytes)>> map = new();
    private long bytes;

    public TValue GetOrAdd(TKey key, Func<TValue> create)
    {
        if (map.TryGetValue(key, out var node))
        {
            order.Remove(node);
            order.AddFirst(node);
            return node.Value.Value;
        }
        var value = create();
        var n = size(value);
        while (order.Count > 0 && bytes + n > maxBytes)
        {
            var last = order.Last!;
            order.RemoveLast();
            map.Remove(last.Value.Key);
            bytes -= last.Value.Bytes;
            evict(last.Value.Value);
        }
        map[key] = order.AddFirst((key, value, n));
        bytes += n;
        return value;
    }

    public void Dispose()
    {
        foreach (var (_, v, _) in order) evict(v);
        order.Clear();
        map.Clear();
        bytes = 0;
    }
}
