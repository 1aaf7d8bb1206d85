using CultureMert.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CultureMert.Teachers;

/// <summary>
/// Conv1d whose weight is weight-normalised per output channel (PyTorch <c>weight_norm(conv)</c>, default dim 0):
/// W[o,i,k] = g[o] · v[o,i,k] / ‖v[o,:,:]‖₂. g and v are the parameters, as in the checkpoint (encodec <c>NormConv1d</c>).
/// </summary>
public sealed class EncodecNormConv : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight_g;   // (out, 1, 1)
    private readonly Parameter weight_v;   // (out, in, kernel)
    private readonly Parameter bias;       // (out)
    private readonly long stride, dilation;

    public EncodecNormConv(long inChannels, long outChannels, long kernel, long stride, long dilation) : base(nameof(EncodecNormConv))
    {
        weight_v = new Parameter(empty(outChannels, inChannels, kernel));
        weight_g = new Parameter(ones(outChannels, 1, 1));
        bias = new Parameter(zeros(outChannels));
        (this.stride, this.dilation) = (stride, dilation);
        RegisterComponents();
    }

    /// <summary>The effective convolution weight, (out, in, kernel).</summary>
    public Tensor Weight() => weight_v * (weight_g / linalg.norm(weight_v, dims: [1, 2], keepdim: true));

    /// <summary>
    /// Random weights as PyTorch initialises a fresh <c>weight_norm(nn.Conv1d)</c>: v ~ U(±1/√(in·k)) (kaiming-uniform
    /// a=√5), g = ‖v‖ so that W = v, bias ~ U(±1/√(in·k)).
    /// </summary>
    public void InitializeRandom(Generator generator)
    {
        using var _ = no_grad();
        var bound = 1.0 / Math.Sqrt(weight_v.shape[1] * weight_v.shape[2]);
        ComputeDevice.DrawOnHost(weight_v, t => t.uniform_(-bound, bound, generator));
        ComputeDevice.DrawOnHost(bias, t => t.uniform_(-bound, bound, generator));
        weight_g.copy_(linalg.norm(weight_v, dims: [1, 2], keepdim: true));
    }

    /// <param name="x">(batch, in, samples) already padded</param> <returns>(batch, out, frames)</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return Convolutions.Conv1d(x, Weight(), bias, stride: stride, dilation: dilation).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// A causal weight-normed convolution with encodec's padding (HF: EncodecConv1d; encodec <c>SConv1d</c>): the input is
/// reflect-padded left by k_eff − stride and right by just enough for the last window to be full, so that the output has
/// ceil(samples / stride) frames. Can also run chunk by chunk (<see cref="Forward"/> with a state): then the left padding
/// of every chunk after the first is the previous chunk's last k_eff − stride input samples, which is what the one-pass
/// convolution's windows see there.
/// </summary>
public sealed class EncodecConv1d : nn.Module<Tensor, Tensor>, IEncodecStreamingLayer
{
    private readonly EncodecNormConv conv;   // encoder.layers.{i}.conv.{weight_g, weight_v, bias}
    private readonly long kernelEff, stride;

    public EncodecConv1d(long inChannels, long outChannels, long kernel, long stride = 1, long dilation = 1) : base(nameof(EncodecConv1d))
    {
        conv = new EncodecNormConv(inChannels, outChannels, kernel, stride, dilation);
        (kernelEff, this.stride) = ((kernel - 1) * dilation + 1, stride);
        RegisterComponents();
    }

    public void InitializeRandom(Generator generator) => conv.InitializeRandom(generator);

    /// <summary>Input samples per output frame.</summary>
    public long Stride => stride;

    /// <summary>Left padding, k_eff − stride: the samples before a frame's own stride that its window also reads.</summary>
    public long PaddingTotal => kernelEff - stride;

    /// <summary>Left and right padding for <paramref name="length"/> samples (encodec <c>get_extra_padding_for_conv1d</c>).</summary>
    /// <remarks>The right padding depends only on length mod stride, so a signal's last chunk (starting on a frame
    /// boundary) needs the same right padding as the whole signal.</remarks>
    public (long Left, long Right) Padding(long length)
    {
        var paddingTotal = PaddingTotal;
        // n_frames = (length − k_eff + padding_total) / stride + 1, rounded up: integer ceil of a possibly negative numerator.
        var numerator = length - kernelEff + paddingTotal;
        var nFrames = (long)Math.Ceiling(numerator / (double)stride) + 1;
        var idealLength = (nFrames - 1) * stride + (kernelEff - paddingTotal);
        return (paddingTotal, idealLength - length);
    }

    /// <param name="x">(batch, in, samples)</param> <returns>(batch, out, ceil(samples / stride))</returns>
    public override Tensor forward(Tensor x) => Forward(x, null);

    /// <param name="x">(batch, in, samples): the whole signal (state null) or its next chunk, whose start is a multiple
    /// of the stride and whose length is one too unless it is the last</param>
    /// <returns>(batch, out, ceil(samples / stride))</returns>
    public Tensor Forward(Tensor x, EncodecStreamState? state)
    {
        using var scope = NewDisposeScope();
        var (left, right) = Padding(x.shape[^1]);
        Tensor padded;                                                   // (batch, in, left + samples + right)
        if (state is null || (state.IsFirst && state.IsLast)) padded = ReflectPad(x, left, right);   // the whole signal
        else
        {
            if (state.IsFirst && x.shape[^1] <= left)   // its reflection would need samples of the next chunk
                throw new ArgumentException($"The first chunk is too short for this layer: {x.shape[^1]} samples, left padding {left}.", nameof(x));
            if (!state.IsLast && right != 0)
                throw new ArgumentException($"A chunk other than the last must be a multiple of the stride {stride}; got {x.shape[^1]} samples.", nameof(x));
            // Left: the true start's reflection on the first chunk, else the previous chunk's tail (same samples the
            // one-pass windows read there). Right: only the true end is padded; the reflection reads the last samples,
            // which the context always holds (left + samples > right since k_eff ≥ 2·stride − 1 in the encoder).
            var withLeft = state.Recall(this) is [var tail] ? cat([tail, x], -1) : ReflectPad(x, left, 0);
            if (left > 0) state.Keep(this, withLeft[.., .., ^(int)left..]);
            padded = right > 0 ? ReflectPad(withLeft, 0, right) : withLeft;
        }
        return conv.call(padded).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Reflect padding that also works on inputs no longer than the padding (encodec <c>pad1d</c>): such an input is first
    /// zero-extended on the right by max_pad − length + 1, reflected, and the extension cut off again.
    /// </summary>
    /// <param name="x">(batch, channels, length)</param> <returns>(batch, channels, left + length + right)</returns>
    public static Tensor ReflectPad(Tensor x, long left, long right)
    {
        if (left == 0 && right == 0) return x.alias();
        var length = x.shape[^1];
        var maxPad = Math.Max(left, right);
        var extra = length <= maxPad ? maxPad - length + 1 : 0;
        if (extra > 0) x = nn.functional.pad(x, [0, extra]);                       // zeros on the right
        var padded = nn.functional.pad(x, [left, right], PaddingModes.Reflect);
        return extra > 0 ? padded[.., .., ..^(int)extra] : padded;                 // (batch, channels, left + length + right)
    }
}
