using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CultureMert.Model;

/// <summary>
/// Grouped Conv1d whose weight is weight-normalised over the kernel axis (PyTorch <c>weight_norm(conv, dim=2)</c>):
/// W[o,i,k] = g[k] · v[o,i,k] / ‖v[:,:,k]‖₂. TorchSharp has no weight_norm, so g and v are the parameters, as in the
/// checkpoint, and W is recomputed each forward so that training updates g and v exactly as PyTorch does.
/// </summary>
public sealed class WeightNormConv1d : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight_g;   // (1, 1, kernel)
    private readonly Parameter weight_v;   // (out, in / groups, kernel)
    private readonly Parameter bias;       // (out)
    private readonly long padding, groups;

    public WeightNormConv1d(long channels, long kernel, long groups) : base(nameof(WeightNormConv1d))
    {
        weight_v = new Parameter(empty(channels, channels / groups, kernel));
        weight_g = new Parameter(ones(1, 1, kernel));
        bias = new Parameter(zeros(channels));
        (padding, this.groups) = (kernel / 2, groups);
        RegisterComponents();
    }

    /// <summary>The effective convolution weight, (out, in / groups, kernel).</summary>
    public Tensor Weight() => weight_v * (weight_g / linalg.norm(weight_v, dims: [0, 1], keepdim: true));

    /// <param name="x">(batch, channels, frames)</param> <returns>(batch, channels, frames + 2·(kernel/2) − kernel + 1)</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return MixedPrecision.Conv1d(x, Weight(), bias, padding: padding, groups: groups).MoveToOuterDisposeScope();
    }
}

/// <summary>Relative position information from a wide grouped convolution (HF: HubertPositionalConvEmbedding).</summary>
public sealed class MertPositionalConvEmbedding : nn.Module<Tensor, Tensor>
{
    private readonly WeightNormConv1d conv;  // encoder.pos_conv_embed.conv.{weight_g, weight_v, bias}
    private readonly bool removeLast;        // HubertSamePadLayer: an even kernel yields one frame too many
    private readonly string activation;      // HF uses feat_extract_activation here

    public MertPositionalConvEmbedding(MertConfig c) : base(nameof(MertPositionalConvEmbedding))
    {
        conv = new WeightNormConv1d(c.HiddenSize, c.NumConvPosEmbeddings, c.NumConvPosEmbeddingGroups);
        removeLast = c.NumConvPosEmbeddings % 2 == 0;
        activation = c.FeatExtractActivation;
        RegisterComponents();
    }

    /// <param name="x">(batch, frames, hidden)</param> <returns>(batch, frames, hidden)</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = conv.call(x.transpose(1, 2));             // (batch, hidden, frames [+1])
        if (removeLast) y = y[.., .., ..^1];
        return Activations.Apply(activation, y).transpose(1, 2).MoveToOuterDisposeScope(); // (batch, frames, hidden)
    }
}
