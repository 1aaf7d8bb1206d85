using TorchSharp;
using static TorchSharp.torch;

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
        foreach (var embed in quantizer.Codebooks) embed.copy_(0.5 * randn(embed.shape, generator: generator));
        return this;
    }

    /// <param name="waveform">(batch, channels, samples)</param> <returns>(batch, hidden_size, frames)</returns>
    public Tensor Embed(Tensor waveform) => encoder.call(waveform);

    /// <param name="waveform">(batch, channels, samples)</param> <returns>int64 (batch, n_q, frames)</returns>
    public override Tensor forward(Tensor waveform)
    {
        using var scope = NewDisposeScope();
        return quantizer.call(encoder.call(waveform)).MoveToOuterDisposeScope();
    }
}
