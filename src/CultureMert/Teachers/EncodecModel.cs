using CultureMert.Model;
using TorchSharp;
using static TorchSharp.torch;
using static CultureMert.Scalars;

namespace CultureMert.Teachers;

/// <summary>
/// EnCodec's tokenising half (HF: EncodecModel without its decoder): SEANet encoder then residual VQ. Field names are the
/// checkpoint's prefixes, <c>encoder.*</c> and <c>quantizer.*</c>; <c>decoder.*</c> is not built.
/// </summary>
public sealed class EncodecModel : nn.Module<Tensor, Tensor>
{
    private readonly EncodecEncoder encoder;                   // encoder.layers.*
    private readonly EncodecResidualVectorQuantizer quantizer; // quantizer.layers.{0..n_q-1}.codebook.embed

    public EncodecConfig Config { get; }

    public EncodecModel(EncodecConfig config, int numQuantizers) : base(nameof(EncodecModel))
    {
        Config = config;
        encoder = new EncodecEncoder(config);
        quantizer = new EncodecResidualVectorQuantizer(config, numQuantizers);
        RegisterComponents();
    }

    public int NumQuantizers => quantizer.NumQuantizers;

    /// <summary>Random real-shaped weights (PyTorch's default init; codebooks ~ N(0, 0.5²)), for benchmarks and tests.</summary>
    public EncodecModel InitializeRandom(int seed)
    {
        using var generator = new Generator((ulong)seed);
        encoder.InitializeRandom(generator);
        using var _ = no_grad();
        foreach (var embed in quantizer.Codebooks) embed.copy_(randn(embed.shape, generator: generator).mul(Of(0.5)));   // drawn on the CPU, copied to the codebook's device
        return this;
    }

    /// <param name="waveform">(batch, channels, samples)</param> <returns>(batch, hidden_size, frames)</returns>
    public Tensor Embed(Tensor waveform) => encoder.call(waveform);

    /// <param name="waveform">(batch, channels, samples)</param> <returns>int64 (batch, n_q, frames)</returns>
    public override Tensor forward(Tensor waveform)
    {
        using var scope = NewDisposeScope();
        return quantizer.call(Finite.Require(encoder.call(waveform), "EnCodec's encoder outputs")).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <see cref="Embed(Tensor)"/> in chunks of <paramref name="chunkSamples"/>, with memory bounded by the chunk instead of
    /// the signal; equal to one pass (up to float summation order).
    /// </summary>
    /// <param name="waveform">(batch, channels, samples)</param> <returns>(batch, hidden_size, frames)</returns>
    public Tensor Embed(Tensor waveform, long chunkSamples) => Chunked(waveform, chunkSamples, quantize: false);

    /// <summary><see cref="forward"/> in chunks of <paramref name="chunkSamples"/> (the RVQ works frame by frame).</summary>
    /// <param name="waveform">(batch, channels, samples)</param> <returns>int64 (batch, n_q, frames)</returns>
    public Tensor Encode(Tensor waveform, long chunkSamples) => Chunked(waveform, chunkSamples, quantize: true);

    /// <summary>
    /// Runs the encoder (and the RVQ) on consecutive chunks that carry the causal context along (see
    /// <see cref="EncodecStreamState"/>), writing each chunk's frames into one output. The first chunk is at least
    /// <see cref="EncodecEncoder.MinFirstChunk"/> long so that it holds the samples the start's reflection reads; a signal
    /// no longer than that first chunk takes the one-pass path (which also handles inputs shorter than the padding).
    /// </summary>
    /// <param name="waveform">(batch, channels, samples)</param>
    /// <returns>(batch, hidden_size, frames) float, or (batch, n_q, frames) int64 if <paramref name="quantize"/></returns>
    Tensor Chunked(Tensor waveform, long chunkSamples, bool quantize)
    {
        var hop = Config.HopLength;
        if (chunkSamples <= 0 || chunkSamples % hop != 0)
            throw new ArgumentOutOfRangeException(nameof(chunkSamples), chunkSamples, $"Chunks must be a positive multiple of the hop ({hop} samples).");
        var length = waveform.shape[^1];
        var first = Math.Max(chunkSamples, encoder.MinFirstChunk(hop));
        if (length <= first) return quantize ? forward(waveform) : Embed(waveform);

        using var scope = NewDisposeScope();
        using var state = new EncodecStreamState();
        // Allocated once, before the chunks, and filled in place: results kept per chunk would sit between the chunks'
        // large activations in the allocator's heap and keep it from reusing or returning that memory (peak RSS would
        // again grow with the file).
        var output = empty([waveform.shape[0], quantize ? NumQuantizers : Config.HiddenSize, Config.FrameCount(length)],
                           quantize ? ScalarType.Int64 : ScalarType.Float32, waveform.device);   // (batch, n_q or hidden, frames)
        for (long start = 0, end; start < length; start = end)
        {
            end = Math.Min(length, start + (start == 0 ? first : chunkSamples));
            state.BeginChunk(isLast: end == length);
            using (var chunkScope = NewDisposeScope())
            {
                var emb = encoder.Forward(waveform.narrow(-1, start, end - start), state);   // (batch, hidden, chunk frames)
                var result = quantize ? quantizer.call(Finite.Require(emb, "EnCodec's encoder outputs")) : emb;
                output.narrow(-1, start / hop, result.shape[^1]).copy_(result);
            }
            state.EndChunk();
            // The chunk's activations are freed: return their pages so that the next chunk's do not grow a fragmented heap.
            // Only for chunks of a second or more: smaller ones leave little behind, and the trim's heap walk would dominate.
            if (end - start >= Config.SamplingRate) NativeHeap.Trim();
        }
        return output.MoveToOuterDisposeScope();
    }
}
