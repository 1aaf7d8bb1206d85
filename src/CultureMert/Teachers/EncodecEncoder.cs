using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CultureMert.Teachers;

/// <summary>
/// The SEANet encoder of EnCodec (HF: EncodecEncoder; encodec <c>SEANetEncoder</c>), a flat list whose indices are the
/// checkpoint's <c>encoder.layers.{i}</c>: conv k7 → per ratio (2, 4, 5, 8): residual block(s), ELU, strided conv
/// doubling the channels → LSTM with skip → ELU → conv k7 to hidden_size. For the 24 kHz model: 0 conv, 1/4/7/10 residual
/// blocks, 3/6/9/12 strided convs, 13 LSTM, 15 final conv.
/// </summary>
public sealed class EncodecEncoder : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<nn.Module<Tensor, Tensor>> layers;   // encoder.layers.*

    public EncodecEncoder(EncodecConfig c) : base(nameof(EncodecEncoder))
    {
        var list = new List<nn.Module<Tensor, Tensor>> { new EncodecConv1d(c.AudioChannels, c.NumFilters, c.KernelSize) };
        var scale = 1;
        foreach (var ratio in c.UpsamplingRatios.Reverse())
        {
            var dim = scale * c.NumFilters;
            for (var j = 0; j < c.NumResidualLayers; j++)
                list.Add(new EncodecResnetBlock(c, dim, (int)Math.Pow(c.DilationGrowthRate, j)));
            list.Add(nn.ELU());
            list.Add(new EncodecConv1d(dim, 2 * dim, 2 * ratio, stride: ratio));
            scale *= 2;
        }
        list.Add(new EncodecLstm(scale * c.NumFilters, c.NumLstmLayers));
        list.Add(nn.ELU());
        list.Add(new EncodecConv1d(scale * c.NumFilters, c.HiddenSize, c.LastKernelSize));
        layers = nn.ModuleList(list.ToArray());
        RegisterComponents();
    }

    /// <summary>Random weights as a freshly constructed PyTorch model has them (for benchmarks; no pre-trained meaning).</summary>
    public void InitializeRandom(Generator generator)
    {
        foreach (var layer in layers)
            switch (layer)
            {
                case EncodecConv1d conv: conv.InitializeRandom(generator); break;
                case EncodecResnetBlock res: foreach (var conv in res.Convolutions) conv.InitializeRandom(generator); break;
                case EncodecLstm lstm: lstm.InitializeRandom(generator); break;
            }
    }

    /// <param name="waveform">(batch, channels, samples)</param> <returns>(batch, hidden_size, ceil(samples / hop))</returns>
    public override Tensor forward(Tensor waveform)
    {
        using var scope = NewDisposeScope();
        var x = waveform;
        foreach (var layer in layers)
        {
            var next = layer.call(x);
            if (!ReferenceEquals(x, waveform)) x.Dispose();   // full-rate activations are the memory peak: drop each once used
            x = next;
        }
        return x.MoveToOuterDisposeScope();
    }
}
