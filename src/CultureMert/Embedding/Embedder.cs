using CultureMert.Audio;
using CultureMert.Checkpoints;
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
    /// <summary>Chunks of equal length run through the model together; never changes results (no padding).</summary>
    public int BatchSize { get; init; } = 4;

    /// <summary>Checks what can be checked before a model is loaded.</summary>
    public EmbedOptions Validate()
    {
        if (!double.IsFinite(ChunkSeconds) || ChunkSeconds <= 0 || ChunkSeconds > 3600)
            throw new ArgumentException($"--chunk-seconds {ChunkSeconds}: expected a number of seconds above 0 and at most 3600.");
        if (BatchSize is < 1 or > 4096) throw new ArgumentException($"--batch-size {BatchSize}: expected 1 to 4096.");
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
/// Layer-wise MERT embeddings of audio files. Audio is decoded and resampled as a stream, so memory does not grow with
/// file length in <see cref="Pooling.Mean"/> mode: non-overlapping chunks of <see cref="EmbedOptions.ChunkSeconds"/> go
/// through the model in batches of equal length (padding would change the CNN's GroupNorm statistics), and each chunk
/// keeps only its time-mean. A last chunk shorter than one second is dropped unless it is the only one.
/// </summary>
public sealed class Embedder
{
    readonly LoadedMert mert;
    readonly EmbedOptions options;
    readonly int rate, chunkSamples, minSamples;

    public int[] Layers { get; }

    public Embedder(LoadedMert mert, EmbedOptions options)
    {
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
    }

    /// <summary>Embeds one file; throws <see cref="InvalidDataException"/> naming the file for audio it cannot use.</summary>
    /// <param name="progress">called after each batch with the fraction of the file done (when its length is known)</param>
    public FileEmbedding Embed(string path, CancellationToken cancel = default, Action<double>? progress = null)
    {
        using var stream = MonoAudioStream.Open(path, rate);
        return options.Pool == Pooling.None ? EmbedWhole(stream, cancel) : EmbedChunks(stream, cancel, progress);
    }

    FileEmbedding EmbedChunks(MonoAudioStream stream, CancellationToken cancel, Action<double>? progress)
    {
        void Report(long samples)
        {
            if (progress is not null && stream.DurationSeconds is > 0 and var d) progress(Math.Min(1, samples / (d * rate)));
        }
        var pooled = new List<Tensor>();                          // each (layers, hidden)
        var pending = new List<float[]>();
        var spare = new Stack<float[]>();                         // chunk buffers are reused: no garbage per chunk on long files
        var reader = new ChunkReader(stream);
        long total = 0;
        var peak = 0f;
        try
        {
            while (true)
            {
                cancel.ThrowIfCancellationRequested();
                var chunk = spare.Count > 0 ? spare.Pop() : new float[chunkSamples];
                var n = reader.Fill(chunk);
                total += n;
                peak = Math.Max(peak, MaxAbs(chunk.AsSpan(0, n)));
                if (n == chunkSamples)
                {
                    pending.Add(chunk);
                    if (pending.Count == options.BatchSize)
                    {
                        pooled.AddRange(PoolBatch(pending));
                        foreach (var used in pending) spare.Push(used);
                        pending.Clear();
                        Report(total);
                    }
                    continue;
                }
                if (pending.Count > 0) { pooled.AddRange(PoolBatch(pending)); pending.Clear(); }
                var isOnly = pooled.Count == 0;
                if (n > 0 && (n >= rate || isOnly))
                {
                    CheckUsable(stream.Path, total, peak);
                    pooled.AddRange(PoolBatch([chunk[..n]]));
                }
                break;
            }
            CheckUsable(stream.Path, total, peak);
            using var scope = NewDisposeScope();
            var chunks = stack(pooled);                           // (chunks, layers, hidden)
            var mean = chunks.mean([0]);                          // (layers, hidden)
            return new FileEmbedding(stream.Path, stream.SourceRate, stream.SourceChannels, (double)total / rate, Layers,
                                     chunks.MoveToOuterDisposeScope(), mean.MoveToOuterDisposeScope(), null);
        }
        finally
        {
            foreach (var t in pooled) t.Dispose();
        }
    }

    FileEmbedding EmbedWhole(MonoAudioStream stream, CancellationToken cancel)
    {
        var samples = new List<float>();
        var buffer = new float[1 << 16];
        int n;
        while ((n = stream.Read(buffer)) > 0) { cancel.ThrowIfCancellationRequested(); samples.AddRange(buffer.AsSpan(0, n)); }
        var audio = samples.ToArray();
        CheckUsable(stream.Path, audio.Length, MaxAbs(audio));
        CheckFitsInMemory(stream.Path, audio.Length);
        using var scope = NewDisposeScope();
        var states = Forward([audio]);                            // each (1, frames, hidden)
        var hidden = stack(Layers.Select(l => states[l][0]).ToArray());   // (layers, frames, hidden)
        return new FileEmbedding(stream.Path, stream.SourceRate, stream.SourceChannels, (double)audio.Length / rate, Layers,
                                 null, null, hidden.MoveToOuterDisposeScope());
    }

    /// <summary>Time-mean of the kept layers for each chunk of a batch of equal-length chunks.</summary>
    /// <returns>one (layers, hidden) tensor per chunk</returns>
    List<Tensor> PoolBatch(List<float[]> chunks)
    {
        using var scope = NewDisposeScope();
        var states = Forward(chunks);                             // each (batch, frames, hidden)
        var kept = stack(Layers.Select(l => states[l].mean([1])).ToArray(), dim: 1);   // (batch, layers, hidden)
        return Enumerable.Range(0, chunks.Count).Select(i => kept[i].clone().MoveToOuterDisposeScope()).ToList();
    }

    /// <returns>hidden states 0..max(Layers), each (batch, frames, hidden)</returns>
    List<Tensor> Forward(IReadOnlyList<float[]> batch)
    {
        using var _ = inference_mode();
        var device = mert.Model.parameters().First().device;
        var x = empty(batch.Count, batch[0].Length);                        // (batch, samples)
        for (var i = 0; i < batch.Count; i++) x[i].bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(batch[i].AsSpan());
        x = x.to(device);
        return mert.Model.HiddenStates(mert.Preprocessor.Apply(x), Layers.Max());
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

    /// <summary>Fills fixed-size chunks from the stream, keeping what overflows for the next chunk.</summary>
    sealed class ChunkReader(MonoAudioStream stream)
    {
        readonly float[] scratch = new float[1 << 15];
        int scratchPos, scratchLen;

        public int Fill(float[] buffer)
        {
            var filled = 0;
            while (filled < buffer.Length)
            {
                if (scratchPos == scratchLen)
                {
                    (scratchPos, scratchLen) = (0, stream.Read(scratch));
                    if (scratchLen == 0) break;
                }
                var n = Math.Min(buffer.Length - filled, scratchLen - scratchPos);
                Array.Copy(scratch, scratchPos, buffer, filled, n);
                (filled, scratchPos) = (filled + n, scratchPos + n);
            }
            return filled;
        }
    }

    static float MaxAbs(ReadOnlySpan<float> x)
    {
        var m = 0f;
        foreach (var v in x) m = Math.Max(m, Math.Abs(v));
        return m;
    }
}
