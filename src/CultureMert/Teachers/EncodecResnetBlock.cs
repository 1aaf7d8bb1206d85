using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static CultureMert.Scalars;

namespace CultureMert.Teachers;

/// <summary>
/// Residual unit of the SEANet encoder (HF: EncodecResnetBlock; encodec <c>SEANetResnetBlock</c>):
/// out = shortcut(x) + conv_k1(ELU(conv_k3(ELU(x)))), the inner convolution narrowing to dim / compress channels.
/// </summary>
public sealed class EncodecResnetBlock : nn.Module<Tensor, Tensor>, IEncodecStreamingLayer
{
    private readonly ModuleList<nn.Module<Tensor, Tensor>> block;   // encoder.layers.{i}.block.{1,3}.conv.* (0 and 2 are ELUs)
    private readonly EncodecConv1d shortcut;                         // encoder.layers.{i}.shortcut.conv.*

    public EncodecResnetBlock(EncodecConfig c, int dim, int dilation) : base(nameof(EncodecResnetBlock))
    {
        var hidden = dim / c.Compress;
        block = nn.ModuleList<nn.Module<Tensor, Tensor>>(
            new EncodecElu(),
            new EncodecConv1d(dim, hidden, c.ResidualKernelSize, dilation: dilation),
            new EncodecElu(),
            new EncodecConv1d(hidden, dim, 1));
        shortcut = new EncodecConv1d(dim, dim, 1);                   // use_conv_shortcut (true_skip = False in encodec)
        RegisterComponents();
    }

    public IEnumerable<EncodecConv1d> Convolutions => block.OfType<EncodecConv1d>().Append(shortcut);

    /// <param name="x">(batch, dim, frames)</param> <returns>(batch, dim, frames)</returns>
    public override Tensor forward(Tensor x) => Forward(x, null);

    /// <param name="x">(batch, dim, frames): the whole signal (state null) or its next chunk</param>
    /// <returns>(batch, dim, frames)</returns>
    public Tensor Forward(Tensor x, EncodecStreamState? state)
    {
        using var scope = NewDisposeScope();
        var y = x;
        foreach (var layer in block) y = EncodecEncoder.Call(layer, y, state);   // each conv keeps its own context
        return shortcut.Forward(x, state).add(y, One).MoveToOuterDisposeScope();
    }
}
