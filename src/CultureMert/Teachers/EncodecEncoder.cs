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
public sealed class EncodecEncoder : nn.Module<Tensor, Tensor>, IEncodecStreamingLayer
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
            list.Add(new EncodecElu());
            list.Add(new EncodecConv1d(dim, 2 * dim, 2 * ratio, stride: ratio));
            scale *= 2;
        }
        list.Add(new EncodecLstm(scale * c.NumFilters, c.NumLstmLayers));
        list.Add(new EncodecElu());
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

    /// <summary>
    /// The shortest first chunk (a multiple of the hop) that chunked encoding may use: every padded convolution must get
    /// more input samples than its left padding, so that the reflection of the true start lies within the first chunk
    /// (2240 samples, 7 frames, for the 24 kHz model: the last k7 convolution at 75 Hz).
    /// </summary>
    public long MinFirstChunk(long hop)
    {
        long perSample = 1, needed = 1;   // perSample: signal samples per input sample of the current layer
        foreach (var layer in layers)
        {
            var convs = layer switch
            {
                EncodecConv1d conv => [conv],
                EncodecResnetBlock res => res.Convolutions,
                _ => Enumerable.Empty<EncodecConv1d>(),
            };
            foreach (var conv in convs) needed = Math.Max(needed, (conv.PaddingTotal + 1) * perSample);
            if (layer is EncodecConv1d strided) perSample *= strided.Stride;
        }
        return (needed + hop - 1) / hop * hop;
    }

    /// <param name="waveform">(batch, channels, samples)</param> <returns>(batch, hidden_size, ceil(samples / hop))</returns>
    public override Tensor forward(Tensor waveform) => Forward(waveform, null);

    /// <param name="waveform">(batch, channels, samples): the whole signal (state null) or its next chunk, starting at a
    /// multiple of the hop and, unless it is the last, a multiple of the hop long</param>
    /// <returns>(batch, hidden_size, ceil(samples / hop))</returns>
    public Tensor Forward(Tensor waveform, EncodecStreamState? state)
    {
        using var scope = NewDisposeScope();
        var x = waveform;
        foreach (var layer in layers)
        {
            var next = Call(layer, x, state);
            if (!ReferenceEquals(x, waveform)) x.Dispose();   // full-rate activations are the memory peak: drop each once used
            x = next;
        }
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>One layer on the whole signal or a chunk; ELU is pointwise and needs no context.</summary>
    internal static Tensor Call(nn.Module<Tensor, Tensor> layer, Tensor x, EncodecStreamState? state) =>
        layer is IEncodecStreamingLayer streaming ? streaming.Forward(x, state) : layer.call(x);
}
