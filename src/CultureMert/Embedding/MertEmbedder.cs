using CultureMert.Checkpoints;
using TorchSharp;

namespace CultureMert.Embedding;

/// <summary>
/// Layer-wise embeddings of one piece of audio, as plain arrays (no tensors to dispose). Row-major:
/// <see cref="Chunks"/> is (chunks, layers, hidden) and <see cref="Mean"/> (layers, hidden) with
/// <see cref="Pooling.Mean"/>; <see cref="Frames"/> is (layers, frames, hidden) with <see cref="Pooling.None"/>.
/// </summary>
public sealed record MertEmbedding(int[] Layers, int Hidden, double DurationSeconds, int ChunkCount, float[]? Chunks, float[]? Mean, int FrameCount, float[]? Frames)
{
    /// <summary>The mean embedding of one hidden-state layer (its id, 0 = the CNN's projection), length <see cref="Hidden"/>.</summary>
    public float[] Layer(int layer)
    {
        var i = Array.IndexOf(Layers, layer);
        if (i < 0) throw new ArgumentException($"layer {layer} was not kept (kept: {string.Join(",", Layers)}).");
        if (Mean is null) throw new InvalidOperationException("embedded with Pooling.None: read Frames (layers, frames, hidden).");
        return Mean[(i * Hidden)..((i + 1) * Hidden)];
    }
}

/// <summary>
/// MERT for .NET applications that hold samples, not files: <c>MertEmbedder.Load(dir).Embed(samples, 44100, 2)</c>.
/// The samples take <c>culturemert embed</c>'s path from decoding on — mono mix, resampling to the model's rate, chunks,
/// batches of chunks, the model — so the numbers equal <c>embed</c>'s on the same samples. Safe to call from several
/// threads: calls run one at a time on the loaded model (each batches its own chunks), so memory stays one model's.
/// </summary>
public sealed class MertEmbedder : IDisposable
{
    readonly LoadedMert mert;
    readonly Embedder embedder;
    readonly Lock gate = new();

    MertEmbedder(LoadedMert mert, EmbedOptions options) => (this.mert, embedder) = (mert, new Embedder(mert, options));

    /// <summary>Loads a Hugging Face MERT folder (MERT-v1, CultureMERT, or any folder this toolkit wrote).</summary>
    /// <param name="options">layers, pooling, chunk length, batch size, precision: as <c>embed</c>'s options (default: every layer, mean over 5-s chunks)</param>
    /// <param name="device">where the model runs (null: the CPU)</param>
    public static MertEmbedder Load(string modelDir, EmbedOptions? options = null, torch.Device? device = null)
    {
        var mert = MertCheckpoint.Load(modelDir, device);
        try { return new MertEmbedder(mert, options ?? new EmbedOptions()); }
        catch { mert.Dispose(); throw; }
    }

    /// <summary>The model's input rate in Hz (samples at any rate are resampled to it).</summary>
    public int SampleRate => mert.Model.Config.SampleRate;

    /// <summary>The hidden-state layers kept, in order.</summary>
    public IReadOnlyList<int> Layers => embedder.Layers;

    /// <summary>Embeds interleaved float32 samples in [-1, 1] at <paramref name="sampleRate"/> with <paramref name="channels"/> channels.</summary>
    /// <exception cref="ArgumentException">non-finite samples, or a length that is not whole frames</exception>
    /// <exception cref="InvalidDataException">audio the model cannot use (silent, shorter than its receptive field), naming <paramref name="name"/></exception>
    public MertEmbedding Embed(ReadOnlySpan<float> samples, int sampleRate, int channels = 1, string name = "samples", CancellationToken cancel = default)
    {
        lock (gate)
        {
            using var e = embedder.Embed(samples, sampleRate, channels, name, cancel);
            var hidden = (int)(e.Embedding ?? e.HiddenStates!).shape[^1];
            return new MertEmbedding(e.Layers, hidden, e.DurationSeconds, e.Chunks, e.ChunkEmbeddings?.data<float>().ToArray(), e.Embedding?.data<float>().ToArray(),
                                     e.HiddenStates is { } h ? (int)h.shape[1] : 0, e.HiddenStates?.data<float>().ToArray());
        }
    }

    public void Dispose() => mert.Dispose();
}
