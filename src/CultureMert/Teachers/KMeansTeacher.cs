using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using CultureMert.Audio;
using CultureMert.Checkpoints;
using CultureMert.Model;
using static TorchSharp.torch;
using static CultureMert.Scalars;

namespace CultureMert.Teachers;

/// <summary>Settings of <see cref="KMeansTeacher.Fit"/>.</summary>
public sealed record KMeansFitOptions
{
    public FrameFeatureOptions Features { get; init; } = new();
    public int K { get; init; } = 1024;
    public int Seed { get; init; }
    /// <summary>Frames drawn (uniformly, without replacement) from each file at most: 3000 ≈ 40 s, so no track dominates.</summary>
    public int MaxFramesPerFile { get; init; } = 3000;
    /// <summary>Frames kept over the corpus at most (uniform reservoir sample): 500 000 × 140 float32 ≈ 280 MB.</summary>
    public int MaxTotalFrames { get; init; } = 500_000;
    /// <summary>Mini-batch size (Sculley 2010); 0 = full-batch Lloyd.</summary>
    public int BatchSize { get; init; } = 4096;
    /// <summary>Batch steps (mini-batch) or full passes (Lloyd).</summary>
    public int MaxIterations { get; init; } = 300;
    public double Tolerance { get; init; } = 1e-4;

    public KMeansFitOptions Validate()
    {
        Features.Validate();
        if (MaxFramesPerFile < 1 || MaxTotalFrames < 1) throw new ArgumentException($"frame caps must be positive (got {MaxFramesPerFile} per file, {MaxTotalFrames} in total).");
        if (MaxTotalFrames < K) throw new ArgumentException($"k = {K} needs at least {K} frames, but at most {MaxTotalFrames} are kept.");
        ToKMeans().Validate();
        return this;
    }

    internal KMeansOptions ToKMeans() => new()
    { K = K, Seed = Seed, BatchSize = BatchSize, MaxIterations = MaxIterations, Tolerance = Tolerance };
}

/// <summary>
/// Self-contained pre-training teacher of MERT's first version: nearest-centroid tokens of log-mel + chroma frame
/// features (<see cref="FrameFeatures"/>) under a k-means codebook fitted on the user's corpus. No downloaded weights.
/// One fitted codebook gives n_q = 1; <see cref="Combine"/> stacks several (other feature settings, other k... but one
/// CodebookSize) as n_q codebooks, as MERT's multi-codebook targets expect.
/// File (.safetensors): <c>centroids</c> [k, F], <c>mean</c> [F], <c>std</c> [F] (float32; for n_q &gt; 1 each under
/// <c>codebooks.{q}.</c>), metadata <c>teacher=kmeans</c>, <c>codebooks</c>, <c>feature_options</c> (JSON), <c>k</c>,
/// <c>seed</c>, <c>files_used</c> (JSON list), <c>frames_used</c>, <c>skipped_files</c>, <c>inertia</c>, <c>iterations</c>.
/// </summary>
public sealed class KMeansTeacher : ITokenTeacher
{
    /// <summary>One codebook with the features it reads and where it came from.</summary>
    sealed record Book(FrameFeatureOptions Options, KMeansCodebook Codebook, FrameFeatures Features, int Seed, int FramesUsed, string[] Files, int SkippedFiles);

    readonly List<Book> books;

    KMeansTeacher(List<Book> books)
    {
        this.books = books;
        Hash = ComputeHash();
    }

    public string Name => string.Join(",", books.Select(b => $"kmeans-k{b.Codebook.K}-{b.Options.Tag}"));
    public string Hash { get; }
    public int SampleRate => books[0].Options.SampleRate;
    public int Codebooks => books.Count;
    public int CodebookSize => books[0].Codebook.K;

    /// <summary>Fitting frames behind each codebook.</summary>
    public IReadOnlyList<int> FramesUsed => books.Select(b => b.FramesUsed).ToList();
    /// <summary>Audio files the (first) codebook was fitted on.</summary>
    public IReadOnlyList<string> FilesUsed => books[0].Files;
    /// <summary>The (first) codebook's fit, for reports: mean squared distance to the centroid, standardised units.</summary>
    public double Inertia => books[0].Codebook.Inertia;
    /// <summary>The codebooks' centroids (k, F), standardised units; owned by the teacher.</summary>
    public IReadOnlyList<KMeansCodebook> CodebookTensors => books.Select(b => b.Codebook).ToList();

    /// <summary>
    /// Fits a codebook on frames of <paramref name="audioFiles"/> (read with <see cref="AudioFile.ReadMono"/> at the
    /// feature sample rate). Files that fail to decode or hold no audio are skipped and reported through
    /// <paramref name="progress"/>; only no usable frames at all is an error.
    /// </summary>
    /// <param name="device">where features and k-means are computed and the teacher encodes (null: the CPU); the frame
    /// sample and k-means++ draws come from the seeded .NET <see cref="Random"/> on any device</param>
    public static KMeansTeacher Fit(IReadOnlyList<string> audioFiles, KMeansFitOptions options, IProgress<string>? progress = null, Device? device = null)
    {
        options.Validate();
        if (audioFiles.Count == 0) throw new ArgumentException("k-means teacher: no audio files given.", nameof(audioFiles));
        NativeHeap.ReuseTensorBuffers();
        var fo = options.Features;
        var F = fo.Dimension;
        var rng = new Random(options.Seed);
        var reservoir = new float[(long)Math.Min(options.MaxTotalFrames, 1 << 16) * F];
        long kept = 0, seen = 0;
        var used = new List<string>();
        var skipped = new List<string>();
        using var features = new FrameFeatures(fo, device);
        foreach (var path in audioFiles)
        {
            float[] samples;
            try { samples = AudioFile.ReadMono(path, fo.SampleRate); }
            catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or UnauthorizedAccessException or ArgumentException or FormatException or EndOfStreamException)
            {
                skipped.Add(path);
                progress?.Report($"{path}: could not be decoded ({e.Message}); skipped.");
                continue;
            }
            if (samples.Length == 0)
            {
                skipped.Add(path);
                progress?.Report($"{path}: 0 audio frames after decoding (empty or truncated file); skipped.");
                continue;
            }
            float[] rows;
            int frames;
            using (var scope = NewDisposeScope())
            {
                var f = features.Compute(tensor(samples));                         // (frames, F)
                if (f.shape[0] > options.MaxFramesPerFile) f = f.index_select(0, KMeans.Sample(rng, f.shape[0], options.MaxFramesPerFile, f.device));
                frames = (int)f.shape[0];
                rows = f.cpu().contiguous().data<float>().ToArray();
            }
            for (var r = 0; r < frames; r++, seen++)
            {
                // Algorithm R: after `seen` frames, each is in the reservoir with probability cap / seen.
                long slot = kept < options.MaxTotalFrames ? kept++ : rng.NextInt64(seen + 1);
                if (slot >= options.MaxTotalFrames) continue;
                if ((slot + 1) * F > reservoir.Length) Array.Resize(ref reservoir, (int)Math.Min((long)options.MaxTotalFrames * F, Math.Max(reservoir.LongLength * 2, (slot + 1) * F)));
                Array.Copy(rows, (long)r * F, reservoir, slot * F, F);
            }
            used.Add(path);
            progress?.Report($"{path}: {frames} frames ({seen} so far, {kept} kept).");
        }
        if (kept == 0) throw new InvalidDataException($"k-means teacher: none of the {audioFiles.Count} audio files could be read ({skipped.Count} skipped).");
        if (kept < options.K) throw new InvalidDataException($"k-means teacher: k = {options.K} needs at least {options.K} frames; {used.Count} files gave only {kept}.");
        progress?.Report($"k-means: k = {options.K} on {kept} frames × {F} features from {used.Count} files ({skipped.Count} skipped).");
        KMeansCodebook book;
        using (var data = tensor(reservoir.AsSpan(0, (int)(kept * F)).ToArray(), [kept, F], device: device))
            book = KMeans.Fit(data, options.ToKMeans());
        progress?.Report($"k-means: {book.Iterations} iterations, inertia {book.Inertia:G4}, {book.Reseeded} empty clusters re-seeded.");
        return new KMeansTeacher([new Book(fo, book, new FrameFeatures(fo, device), options.Seed, (int)kept, used.ToArray(), skipped.Count)]);
    }

    /// <summary>Tokens of a mono waveform: the nearest centroid of each frame, per codebook.</summary>
    /// <param name="waveform">(samples) or (1, samples) float32 at <see cref="SampleRate"/>, on any device</param>
    /// <returns>int64 (n_q, floor(samples / 320) + 1) on the teacher's device</returns>
    public Tensor Encode(Tensor waveform)
    {
        if (waveform.dim() == 2 && waveform.shape[0] == 1) waveform = waveform[0];
        if (waveform.dim() != 1) throw new ArgumentException($"{Name}: Encode takes a mono waveform (samples); got shape [{string.Join(", ", waveform.shape)}].", nameof(waveform));
        using var scope = NewDisposeScope();
        var codes = new List<Tensor>();
        var cache = new Dictionary<FrameFeatureOptions, Tensor>();                    // combined codebooks may share features
        foreach (var b in books)
        {
            if (!cache.TryGetValue(b.Options, out var f)) cache[b.Options] = f = b.Features.Compute(waveform);   // (frames, F)
            codes.Add(b.Codebook.Assign(Finite.Require(f, $"{Name}: the frame features")));                                                                     // (frames)
        }
        return stack(codes, 0).MoveToOuterDisposeScope();                                                        // (n_q, frames)
    }

    /// <summary>
    /// Several teachers as one with n_q = total codebooks (tensors copied; the inputs stay usable). They must read the same
    /// sample rate and hop (so their frames align) and have the same k (the interface has one CodebookSize).
    /// </summary>
    public static KMeansTeacher Combine(params KMeansTeacher[] teachers)
    {
        if (teachers.Length == 0) throw new ArgumentException("Combine needs at least one teacher.", nameof(teachers));
        var all = teachers.SelectMany(t => t.books).ToList();
        var first = all[0];
        foreach (var b in all)
        {
            if (b.Options.SampleRate != first.Options.SampleRate || b.Options.HopLength != first.Options.HopLength)
                throw new ArgumentException($"Combine: codebooks read {first.Options.SampleRate} Hz / hop {first.Options.HopLength} and {b.Options.SampleRate} Hz / hop {b.Options.HopLength}; their frames would not align.", nameof(teachers));
            if (b.Codebook.K != first.Codebook.K)
                throw new ArgumentException($"Combine: codebooks have k = {first.Codebook.K} and k = {b.Codebook.K}; a combined teacher needs one codebook size.", nameof(teachers));
        }
        return new KMeansTeacher(all.Select(b => b with
        {
            Codebook = new KMeansCodebook(b.Codebook.Centroids.clone(), b.Codebook.Mean.clone(), b.Codebook.Std.clone())
            { Inertia = b.Codebook.Inertia, Iterations = b.Codebook.Iterations, Reseeded = b.Codebook.Reseeded },
            Features = new FrameFeatures(b.Options, b.Features.Device),
        }).ToList());
    }

    string Prefix(int q) => books.Count == 1 ? "" : $"codebooks.{q}.";

    /// <summary>Writes the codebook(s) and provenance to a .safetensors file, atomically.</summary>
    public void Save(string path)
    {
        var meta = new Dictionary<string, string> { ["format"] = "pt", ["teacher"] = "kmeans", ["codebooks"] = $"{books.Count}", ["name"] = Name, ["hash"] = Hash };
        var tensors = new List<KeyValuePair<string, Tensor>>();
        for (var q = 0; q < books.Count; q++)
        {
            var (b, p) = (books[q], Prefix(q));
            tensors.Add(new(p + "centroids", b.Codebook.Centroids));
            tensors.Add(new(p + "mean", b.Codebook.Mean));
            tensors.Add(new(p + "std", b.Codebook.Std));
            meta[p + "feature_options"] = b.Options.ToJson();
            meta[p + "k"] = $"{b.Codebook.K}";
            meta[p + "seed"] = $"{b.Seed}";
            meta[p + "frames_used"] = $"{b.FramesUsed}";
            meta[p + "files_used"] = JsonSerializer.Serialize(b.Files);
            meta[p + "skipped_files"] = $"{b.SkippedFiles}";
            meta[p + "inertia"] = b.Codebook.Inertia.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
            meta[p + "iterations"] = $"{b.Codebook.Iterations}";
        }
        SafeTensors.Save(path, tensors, meta);
    }

    /// <summary>Reads a teacher written by <see cref="Save"/>; anything missing or mis-shaped is an error naming the file.</summary>
    /// <param name="device">where the teacher encodes (null: the CPU)</param>
    public static KMeansTeacher Load(string path, Device? device = null)
    {
        var (infos, meta, _) = SafeTensors.ReadHeader(path);
        string Meta(string key) => meta.TryGetValue(key, out var v) ? v
            : throw new InvalidDataException($"{path}: metadata key {key} is missing (not a k-means teacher written by KMeansTeacher.Save?).");
        int Int(string key) => int.TryParse(Meta(key), out var v) ? v : throw new InvalidDataException($"{path}: metadata {key} = '{meta[key]}' is not an integer.");
        if (meta.GetValueOrDefault("teacher") is { } kind && kind != "kmeans") throw new InvalidDataException($"{path}: teacher is '{kind}', not 'kmeans'.");
        var n = meta.ContainsKey("codebooks") ? Int("codebooks") : 1;
        if (n < 1) throw new InvalidDataException($"{path}: codebooks = {n}; expected at least 1.");
        var all = SafeTensors.Load(path);
        var books = new List<Book>();
        try
        {
            for (var q = 0; q < n; q++)
            {
                var p = n == 1 ? "" : $"codebooks.{q}.";
                var fo = FrameFeatureOptions.FromJson(Meta(p + "feature_options"), path);
                var F = fo.Dimension;
                Tensor Take(string name, params long[] shape)
                {
                    if (!all.Remove(p + name, out var t)) throw new InvalidDataException($"{path}: tensor {p + name} is missing.");
                    if (!t.shape.SequenceEqual(shape)) throw new InvalidDataException($"{path}: {p + name} has shape [{string.Join(", ", t.shape)}], expected [{string.Join(", ", shape)}].");
                    if (!t.is_floating_point()) throw new InvalidDataException($"{path}: {p + name} has dtype {t.dtype}; expected float32.");
                    var f = t.to(ScalarType.Float32, device ?? CPU);
                    if (!f.isfinite().all().item<bool>()) throw new InvalidDataException($"{path}: {p + name} holds NaN or infinite values.");
                    return f;
                }
                var centroidsInfo = infos.FirstOrDefault(i => i.Name == p + "centroids") ?? throw new InvalidDataException($"{path}: tensor {p}centroids is missing.");
                var k = centroidsInfo.Shape.Length == 2 ? centroidsInfo.Shape[0] : -1;
                if (k < 1) throw new InvalidDataException($"{path}: {p}centroids has shape [{string.Join(", ", centroidsInfo.Shape)}], expected [k, {F}].");
                var centroids = Take("centroids", k, F);
                var mean = Take("mean", F);
                var std = Take("std", F);
                if (!std.gt(Of(0)).all().item<bool>()) throw new InvalidDataException($"{path}: {p}std has non-positive entries.");
                if (meta.ContainsKey(p + "k") && Int(p + "k") != k) throw new InvalidDataException($"{path}: metadata {p}k = {meta[p + "k"]} but {p}centroids has {k} rows.");
                string[] files;
                try { files = JsonSerializer.Deserialize<string[]>(meta.GetValueOrDefault(p + "files_used") ?? "[]") ?? []; }
                catch (JsonException) { throw new InvalidDataException($"{path}: metadata {p}files_used is not a JSON list of strings."); }
                var book = new KMeansCodebook(centroids, mean, std)
                {
                    Inertia = double.TryParse(meta.GetValueOrDefault(p + "inertia"), System.Globalization.CultureInfo.InvariantCulture, out var inr) ? inr : double.NaN,
                    Iterations = int.TryParse(meta.GetValueOrDefault(p + "iterations"), out var its) ? its : 0,
                };
                books.Add(new Book(fo, book, new FrameFeatures(fo, device), int.TryParse(meta.GetValueOrDefault(p + "seed"), out var s) ? s : 0,
                    int.TryParse(meta.GetValueOrDefault(p + "frames_used"), out var fu) ? fu : 0, files,
                    int.TryParse(meta.GetValueOrDefault(p + "skipped_files"), out var sk) ? sk : 0));
                if (books.Count > 1 && k != books[0].Codebook.K) throw new InvalidDataException($"{path}: codebooks have k = {books[0].Codebook.K} and {k}; expected one size.");
            }
        }
        catch
        {
            foreach (var b in books) { b.Codebook.Dispose(); b.Features.Dispose(); }
            throw;
        }
        finally
        {
            foreach (var t in all.Values) t.Dispose();
        }
        return new KMeansTeacher(books);
    }

    /// <summary>SHA-256 over each codebook's feature options and tensor bytes (16 hex digits): metadata does not change it.</summary>
    string ComputeHash()
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var b in books)
        {
            sha.AppendData(Encoding.UTF8.GetBytes(b.Options.ToJson()));
            foreach (var t in new[] { b.Codebook.Centroids, b.Codebook.Mean, b.Codebook.Std })
            {
                using var host = t.cpu().contiguous();                      // the bytes are read from CPU memory
                sha.AppendData(host.bytes);
            }
        }
        return Convert.ToHexString(sha.GetHashAndReset())[..16].ToLowerInvariant();
    }

    public void Dispose()
    {
        foreach (var b in books)
        {
            b.Codebook.Dispose();
            b.Features.Dispose();
        }
    }
}
