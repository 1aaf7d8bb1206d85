using CultureMert.Audio;
using CultureMert.Checkpoints;
using CultureMert.IO;
using CultureMert.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Embedding;

public enum Pooling { Mean, None }

/// <summary>What <c>culturemert embed</c> computes per file.</summary>
public sealed record EmbedOptions
{
    /// <summary>Hidden-state indices to keep (0 = input to layer 1); null = all L + 1.</summary>
    public int[]? Layers { get; init; }
    public Pooling Pool { get; init; } = Pooling.Mean;
    public double ChunkSeconds { get; init; } = 5.0;
    /// <summary>
    /// Chunks of equal length run through the model together; never changes results (no padding). Null: chosen by
    /// measuring the job's first batches on this machine (<see cref="BatchSizer"/>).
    /// </summary>
    public int? BatchSize { get; init; }
    /// <summary>The model's weights are converted to this in place when the embedder is made (HF's <c>torch_dtype</c>).</summary>
    public Precision Precision { get; init; } = Precision.Float32;

    /// <summary>The name outputs record in their metadata: fp32, bf16.</summary>
    public string PrecisionName => Precision.Name();

    /// <summary>Checks what can be checked before a model is loaded.</summary>
    public EmbedOptions Validate()
    {
        if (!double.IsFinite(ChunkSeconds) || ChunkSeconds <= 0 || ChunkSeconds > 3600)
            throw new ArgumentException($"--chunk-seconds {ChunkSeconds}: expected a number of seconds above 0 and at most 3600.");
        if (BatchSize is { } b && b is < 1 or > 4096) throw new ArgumentException($"--batch-size {BatchSize}: expected 1 to 4096.");
        return this;
    }
}

/// <summary>Embeddings of one audio file, ready to be written.</summary>
public sealed record FileEmbedding(string Source, int SourceRate, int SourceChannels, double DurationSeconds, int[] Layers,
                                   Tensor? ChunkEmbeddings, Tensor? Embedding, Tensor? HiddenStates) : IDisposable
{
    /// <summary>Chunks pooled (mean) or 1 (none).</summary>
    public int Chunks => (int)(ChunkEmbeddings?.size(0) ?? 1);

    public void Dispose()
    {
        ChunkEmbeddings?.Dispose();
        Embedding?.Dispose();
        HiddenStates?.Dispose();
    }
}

/// <summary>
/// Layer-wise MERT embeddings of audio files. Audio is decoded and resampled as a stream on a background thread
/// (<see cref="ChunkPrefetch"/>), a bounded number of chunks ahead of the model, so decoding overlaps the forward passes
/// and memory does not grow with file length in <see cref="Pooling.Mean"/> mode: non-overlapping chunks of
/// <see cref="EmbedOptions.ChunkSeconds"/> go through the model in batches of equal length (padding would change the
/// CNN's GroupNorm statistics), and each chunk keeps only its time-mean. A last chunk shorter than one second is dropped
/// unless it is the only one. <see cref="Prefetch"/> starts decoding the next file while this one runs.
/// </summary>
public sealed class Embedder
{
    readonly LoadedMert mert;
    readonly EmbedOptions options;
    readonly int rate, chunkSamples, minSamples;
    readonly ChunkPrefetch.BufferPool buffers;
    readonly BatchSizer sizer;
    ChunkPrefetch? next;                                          // the file Prefetch started, not yet embedded

    public int[] Layers { get; }

    public Embedder(LoadedMert mert, EmbedOptions options)
    {
        NativeHeap.ReuseTensorBuffers();
        this.mert = mert;
        this.options = options;
        rate = mert.Model.Config.SampleRate;
        var L = mert.Model.NumLayers;
        Layers = options.Layers ?? Enumerable.Range(0, L + 1).ToArray();
        if (Layers.Length == 0) throw new ArgumentException("--layers names no layer.");
        foreach (var l in Layers)
            if (l < 0 || l > L) throw new ArgumentException($"layer {l} does not exist: {mert.Name} has hidden states 0..{L}.");
        if (Layers.Distinct().Count() != Layers.Length) throw new ArgumentException($"--layers {string.Join(",", Layers)} names a layer twice.");
        options.Validate();
        if (options.ChunkSeconds * rate < mert.Model.Config.ReceptiveField)
            throw new ArgumentException($"--chunk-seconds {options.ChunkSeconds} is shorter than the model's receptive field ({mert.Model.Config.ReceptiveField} samples).");
        chunkSamples = (int)Math.Round(options.ChunkSeconds * rate);
        minSamples = mert.Model.Config.ReceptiveField;
        buffers = new ChunkPrefetch.BufferPool(chunkSamples);
        var dtype = options.Precision == Precision.BFloat16 ? ScalarType.BFloat16 : ScalarType.Float32;
        if (mert.Model.parameters().First().dtype != dtype) mert.Model.to(dtype);
        var c = mert.Model.Config;
        var weight = mert.Model.parameters().First();
        // What the time per chunk depends on besides the machine: the model's shape, the layers run, chunk, dtype, device.
        var sizeKey = $"hidden {c.HiddenSize} ffn {c.IntermediateSize} layers {Layers.Max()}/{c.NumHiddenLayers} conv {string.Join(",", c.ConvDim)} " +
                      $"chunk {chunkSamples} {weight.dtype} {weight.device}";
        sizer = new BatchSizer(options.BatchSize, options.BatchSize is null ? EmbedTuningCache.Value : null, MachineKey.Current, sizeKey);
    }

    static readonly Lazy<TuningCache> EmbedTuningCache =
        new(() => new TuningCache(Path.Combine(TuningCache.DefaultDirectory(Environment.GetEnvironmentVariable), "embed.json")));

    /// <summary>The batch size in use: the user's, the cached or the measured one; null while the first batches measure it.</summary>
    public int? BatchSize => sizer.Chosen;

    /// <summary>Chunks decoded ahead of the model: two batches (a few MB), enough to hide decoding behind one batch.</summary>
    int ChunksAhead => 2 * sizer.Largest;

    /// <summary>Starts decoding <paramref name="path"/> in the background for the next <see cref="Embed(string, CancellationToken, Action{double}?)"/> call.</summary>
    public void Prefetch(string path)
    {
        next?.Dispose();
        next = new ChunkPrefetch(path, rate, chunkSamples, ChunksAhead, buffers);
    }

    /// <summary>Embeds one file; throws <see cref="InvalidDataException"/> naming the file for audio it cannot use.</summary>
    /// <param name="progress">called after each batch with the fraction of the file done (when its length is known)</param>
    public FileEmbedding Embed(string path, CancellationToken cancel = default, Action<double>? progress = null)
    {
        var prefetched = next?.Path == path ? next : null;
        if (prefetched is null) next?.Dispose();
        next = null;
        using var source = prefetched ?? new ChunkPrefetch(path, rate, chunkSamples, ChunksAhead, buffers);
        return options.Pool == Pooling.None ? EmbedWhole(source, cancel) : EmbedChunks(source, cancel, progress);
    }

    /// <summary>
    /// Embeds samples already in memory: interleaved float32 frames at <paramref name="sampleRate"/>, mixed to mono and
    /// resampled exactly as a decoded file is, then the same chunking and model as <see cref="Embed(string, CancellationToken, Action{double}?)"/>.
    /// </summary>
    /// <param name="name">what messages call the samples</param>
    public FileEmbedding Embed(ReadOnlySpan<float> samples, int sampleRate, int channels, string name = "samples", CancellationToken cancel = default)
    {
        var reader = new MemoryAudioReader(name, samples.ToArray(), sampleRate, channels);
        using var source = new ChunkPrefetch(name, () => MonoAudioStream.Open(reader, rate), chunkSamples, ChunksAhead, buffers);
        return options.Pool == Pooling.None ? EmbedWhole(source, cancel) : EmbedChunks(source, cancel, null);
    }

    /// <summary>Stops a prefetch that will not be used (the end of a batch, an interruption); the embedder stays usable.</summary>
    public void CancelPrefetch()
    {
        next?.Dispose();
        next = null;
    }

    FileEmbedding EmbedChunks(ChunkPrefetch source, CancellationToken cancel, Action<double>? progress)
    {
        var pooled = new List<Tensor>();                          // each (layers, hidden); owned here: disposed in finally, this thread
        var pending = new List<ChunkPrefetch.Chunk>();
        long total = 0;
        var peak = 0f;
        try
        {
            void Flush()
            {
                if (pending.Count == 0) return;
                var clock = System.Diagnostics.Stopwatch.StartNew();
                pooled.AddRange(PoolBatch(pending.Select(c => c.Samples).ToList()));
                sizer.Record(pending.Count, clock.Elapsed.TotalSeconds);
                foreach (var used in pending) buffers.Return(used.Samples);
                pending.Clear();
            }
            foreach (var chunk in source.Chunks(cancel))
            {
                total += chunk.Length;
                peak = Math.Max(peak, chunk.Peak);
                if (chunk.Length == chunkSamples)
                {
                    pending.Add(chunk);
                    if (pending.Count < sizer.Next) continue;
                    Flush();
                    if (progress is not null && source.Info.DurationSeconds is > 0 and var d) progress(Math.Min(1, total / (d * rate)));
                    continue;
                }
                // The last, shorter chunk (the stream ends with it): the full ones first, then it alone if long enough.
                Flush();
                if (pooled.Count == 0 || chunk.Length >= rate)
                {
                    CheckUsable(source.Path, total, peak);
                    pooled.AddRange(PoolBatch([chunk.Samples[..chunk.Length]]));
                }
                buffers.Return(chunk.Samples);
            }
            Flush();
            CheckUsable(source.Path, total, peak);
            using var scope = NewDisposeScope();
            var chunks = Finite.Require(stack(pooled), $"{source.Path}: the embeddings");   // (chunks, layers, hidden)
            var mean = chunks.mean([0]);                          // (layers, hidden)
            var info = source.Info;
            return new FileEmbedding(source.Path, info.SourceRate, info.SourceChannels, (double)total / rate, Layers,   // the caller's to dispose
                                     chunks.MoveToOuterDisposeScope(), mean.MoveToOuterDisposeScope(), null);
        }
        finally
        {
            foreach (var t in pooled) t.Dispose();
        }
    }

    FileEmbedding EmbedWhole(ChunkPrefetch source, CancellationToken cancel)
    {
        var samples = new List<float>();
        foreach (var chunk in source.Chunks(cancel))
        {
            samples.AddRange(chunk.Samples.AsSpan(0, chunk.Length));
            buffers.Return(chunk.Samples);
        }
        var audio = samples.ToArray();
        CheckUsable(source.Path, audio.Length, MaxAbs(audio));
        CheckFitsInMemory(source.Path, audio.Length);
        using var scope = NewDisposeScope();
        var states = Forward([audio]);                            // each (1, frames, hidden)
        var hidden = stack(Layers.Select(l => states[l][0].to(ScalarType.Float32)).ToArray()).cpu();   // (layers, frames, hidden)
        Finite.Require(hidden, $"{source.Path}: the hidden states");
        var info = source.Info;
        return new FileEmbedding(source.Path, info.SourceRate, info.SourceChannels, (double)audio.Length / rate, Layers,
                                 null, null, hidden.MoveToOuterDisposeScope());
    }

    /// <summary>Time-mean of the kept layers for each chunk of a batch of equal-length chunks.</summary>
    /// <returns>one (layers, hidden) tensor per chunk</returns>
    List<Tensor> PoolBatch(List<float[]> chunks)
    {
        using var scope = NewDisposeScope();
        var states = Forward(chunks);                             // each (batch, frames, hidden)
        // The time-mean in float32 whatever the model computes in (a bf16 mean would round the sum).
        var kept = stack(Layers.Select(l => states[l].to(ScalarType.Float32).mean([1])).ToArray(), dim: 1).cpu();   // (batch, layers, hidden)
        return Enumerable.Range(0, chunks.Count).Select(i => kept[i].clone().MoveToOuterDisposeScope()).ToList();
    }

    /// <summary>Chunks of equal length through the model: normalised in float32, then in the model's device and precision.</summary>
    /// <param name="batch">chunks of equal length, only their first batch[0].Length samples used</param>
    /// <returns>hidden states 0..max(Layers), each (batch, frames, hidden), in the model's precision</returns>
    List<Tensor> Forward(IReadOnlyList<float[]> batch)
    {
        using var _ = inference_mode();
        var weight = mert.Model.parameters().First();
        var x = empty(batch.Count, batch[0].Length);                        // (batch, samples)
        for (var i = 0; i < batch.Count; i++) x[i].bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(batch[i].AsSpan());
        x = mert.Preprocessor.Apply(x.to(weight.device)).to(weight.dtype);
        return mert.Model.HiddenStates(x, Layers.Max());
    }

    /// <summary>
    /// One pass over a whole file needs memory in proportion to its length (the first CNN block alone keeps three
    /// (conv_dim, samples / stride) float tensors); refuse a file that cannot fit rather than let the process be killed.
    /// </summary>
    void CheckFitsInMemory(string path, long samples)
    {
        var c = mert.Model.Config;
        var bytesPerSample = 3.0 * c.ConvDim[0] * 4 / c.ConvStride[0] + 2.0 * (c.NumHiddenLayers + 1) * c.HiddenSize * 4 / c.TotalStride;
        var needed = samples * bytesPerSample;
        var available = AvailableMemoryBytes();
        if (needed > 0.8 * available)
            throw new InvalidDataException($"{path}: {(double)samples / rate:F0} s is too long for --pool none: one forward pass over the whole file " +
                                           $"needs about {needed / (1L << 30):F1} GiB and {available / (double)(1L << 30):F1} GiB are available; use --pool mean (chunked) or split the file.");
    }

    static double AvailableMemoryBytes()
    {
        // Linux: MemAvailable (what can be allocated without swapping); elsewhere the runtime's view of the machine.
        const string meminfo = "/proc/meminfo";
        if (File.Exists(meminfo))
            foreach (var line in File.ReadLines(meminfo))
                if (line.StartsWith("MemAvailable:") && double.TryParse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], out var kb))
                    return kb * 1024;
        return GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
    }

    void CheckUsable(string path, long samples, float peak)
    {
        if (samples == 0) throw new InvalidDataException($"{path}: no audio samples after decoding (empty or truncated file).");
        if (samples < minSamples)
            throw new InvalidDataException($"{path}: too short: {samples} samples at {rate} Hz ({(double)samples / rate * 1000:F1} ms); the model needs at least {minSamples} ({(double)minSamples / rate * 1000:F1} ms).");
        if (peak == 0) throw new InvalidDataException($"{path}: silent: every sample is zero (a broken export?).");
    }

    internal static float MaxAbs(ReadOnlySpan<float> x)
    {
        var m = 0f;
        foreach (var v in x) m = Math.Max(m, Math.Abs(v));
        return m;
    }
}
