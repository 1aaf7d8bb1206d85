using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Model;

/// <summary>
/// The one conv1d of the project (MERT's CNN and positional conv, EnCodec's SEANet), by one of several exact algorithms
/// (<see cref="ConvAlgorithm"/>): libtorch's own convolution, or the same convolution as matrix products. Which one runs
/// a shape is measured once per machine (<see cref="ConvAutotuner"/>), except that shapes whose channel counts per group
/// are not multiples of 16 never run on libtorch's convolution (see the remarks).
/// </summary>
/// <remarks>
/// Why: on CPUs with AVX-512, libtorch hands float convolutions to oneDNN, whose AVX-512 kernels work on blocks of 16
/// channels and pad a channel count that is not a multiple of 16 up to one (24 → 32); its AVX2 kernels use blocks of 8.
/// With libtorch 2.10 (TorchSharp-cpu 0.107) on an AMD EPYC (Zen 4, AVX-512 BF16) exactly those padded widths gave wrong
/// and run-to-run different outputs, NaN included (conv_dim 24 and 40 wrong; 16, 32, 512 right; capping oneDNN at AVX2,
/// where 24 and 40 are whole blocks, made them right). That is a defect of the library, not of the call: the call is
/// <c>torch::conv1d</c> on contiguous float tensors, as in Python, and the same libtorch build through the same entry point
/// was exact at every width (8 … 512, batch 1 and 4, grouped and strided) on an Intel Xeon with AVX-512 (Sapphire
/// Rapids, also capped at AVX512_CORE_BF16), so it shows on some AVX-512 CPUs only; we could not run a Zen 4 here to
/// find the line in oneDNN. <c>ConvolutionsTests.Libtorch_PaddedWidths_AreRoutedAroundOneDnn</c> is the reproduction.
/// That rule depends on the shapes alone, never on the CPU. Among the algorithms a shape may use, the fastest is chosen by
/// measurement: they compute the same sums in different orders, so results differ by float rounding only (≈ 1e-7
/// relative), and the choice is cached so that a later process on the same machine computes exactly as the first.
/// </remarks>
public static class Convolutions
{
    /// <summary>oneDNN's AVX-512 channel block: widths that are multiples of it are never padded.</summary>
    public const long ChannelBlock = 16;

    private static int noticeShown;

    /// <summary>True when libtorch's convolution would pad channels (see the remarks); such shapes run as matrix products only.</summary>
    public static bool UsesIm2Col(long inChannels, long outChannels, long groups)
    {
        var (perGroupIn, perGroupOut) = (inChannels / groups, outChannels / groups);
        return (perGroupIn != 1 && perGroupIn % ChannelBlock != 0) || perGroupOut % ChannelBlock != 0;
    }

    /// <param name="x">(batch, in, samples)</param>
    /// <param name="weight">(out, in / groups, kernel)</param>
    /// <param name="bias">(out) or null</param>
    /// <returns>(batch, out, (samples + 2·padding − dilation·(kernel − 1) − 1) / stride + 1)</returns>
    /// <remarks>The algorithm is <see cref="ConvAutotuner"/>'s choice for this shape on this machine (fixed for the process).</remarks>
    public static Tensor Conv1d(Tensor x, Tensor weight, Tensor? bias, long stride = 1, long padding = 0, long dilation = 1, long groups = 1)
    {
        var algorithm = ConvAutotuner.Default.Choose(x, weight, stride, padding, dilation, groups);
        if (algorithm != ConvAlgorithm.Libtorch && UsesIm2Col(x.size(1), weight.size(0), groups) && Interlocked.Exchange(ref noticeShown, 1) == 0)
            Console.Error.WriteLine($"note: a convolution has {x.size(1) / groups} → {weight.size(0) / groups} channels per group, not multiples of " +
                                    $"{ChannelBlock}: such convolutions run as matrix products (slower; libtorch's AVX-512 kernels are wrong for them on some CPUs).");
        return Run(algorithm, x, weight, bias, stride, padding, dilation, groups);
    }

    /// <summary>The convolution by the given algorithm; every one is exact (they differ by float rounding only).</summary>
    public static Tensor Run(ConvAlgorithm algorithm, Tensor x, Tensor weight, Tensor? bias, long stride = 1, long padding = 0, long dilation = 1, long groups = 1) =>
        algorithm switch
        {
            ConvAlgorithm.Libtorch => nn.functional.conv1d(x, weight, bias, stride: stride, padding: padding, dilation: dilation, groups: groups),
            ConvAlgorithm.Im2Col => Im2Col(x, weight, bias, stride, padding, dilation, groups),
            ConvAlgorithm.Im2ColLeft => Im2ColLeft(x, weight, bias, stride, padding, dilation, groups),
            ConvAlgorithm.Taps => Taps(x, weight, bias, stride, padding, dilation, groups),
            _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, null),
        };

    /// <summary>The convolution as one batched matrix product over unfolded windows (exact; autograd flows through it).</summary>
    public static Tensor Im2Col(Tensor x, Tensor weight, Tensor? bias, long stride = 1, long padding = 0, long dilation = 1, long groups = 1)
    {
        using var scope = NewDisposeScope();
        var (batch, outChannels, perGroupIn, kernel) = (x.size(0), weight.size(0), weight.size(1), weight.size(2));
        if (padding > 0) x = nn.functional.pad(x, [padding, padding]);
        var windows = x.unfold(2, (kernel - 1) * dilation + 1, stride);                        // (batch, in, frames, span)
        if (dilation > 1) windows = windows[.., .., .., TensorIndex.Slice(null, null, dilation)]; // (batch, in, frames, kernel)
        var frames = windows.size(2);
        var columns = windows.reshape(batch, groups, perGroupIn, frames, kernel)
                             .permute(0, 1, 3, 2, 4).reshape(batch, groups, frames, perGroupIn * kernel);
        var w = weight.reshape(1, groups, outChannels / groups, perGroupIn * kernel).transpose(2, 3);
        var y = columns.matmul(w).permute(0, 1, 3, 2).reshape(batch, outChannels, frames);      // (batch, out, frames)
        if (bias is not null) y = y.add(bias.view(1, outChannels, 1), Scalars.One);
        return y.contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// im2col with the weights on the left: (out, in·kernel) × (in·kernel, frames) per batch and group, so the product
    /// comes out in (batch, out, frames) order and needs no transposing copy (exact; autograd flows through it).
    /// </summary>
    public static Tensor Im2ColLeft(Tensor x, Tensor weight, Tensor? bias, long stride = 1, long padding = 0, long dilation = 1, long groups = 1)
    {
        using var scope = NewDisposeScope();
        var (batch, outChannels, perGroupIn, kernel) = (x.size(0), weight.size(0), weight.size(1), weight.size(2));
        if (padding > 0) x = nn.functional.pad(x, [padding, padding]);
        var windows = x.unfold(2, (kernel - 1) * dilation + 1, stride);                        // (batch, in, frames, span)
        if (dilation > 1) windows = windows[.., .., .., TensorIndex.Slice(null, null, dilation)]; // (batch, in, frames, kernel)
        var frames = windows.size(2);
        var columns = windows.reshape(batch, groups, perGroupIn, frames, kernel)
                             .transpose(3, 4).reshape(batch, groups, perGroupIn * kernel, frames); // (batch, groups, in/G·kernel, frames)
        var w = weight.reshape(1, groups, outChannels / groups, perGroupIn * kernel);             // (1, groups, out/G, in/G·kernel)
        var y = w.matmul(columns).view(batch, outChannels, frames);                               // (batch, out, frames)
        if (bias is not null) y = y.add(bias.view(1, outChannels, 1), Scalars.One);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The convolution as a sum over kernel taps of channel-mixing products on strided views of the input, each
    /// (out/G, in/G) × (in/G, frames): no unfolded copy of the input, <c>kernel</c> products instead of one.
    /// </summary>
    public static Tensor Taps(Tensor x, Tensor weight, Tensor? bias, long stride = 1, long padding = 0, long dilation = 1, long groups = 1)
    {
        using var scope = NewDisposeScope();
        var (batch, outChannels, perGroupIn, kernel) = (x.size(0), weight.size(0), weight.size(1), weight.size(2));
        if (padding > 0) x = nn.functional.pad(x, [padding, padding]);
        var frames = (x.size(2) - dilation * (kernel - 1) - 1) / stride + 1;
        var xg = x.view(batch, groups, perGroupIn, x.size(2));                                    // (batch, groups, in/G, samples)
        var w = weight.view(groups, outChannels / groups, perGroupIn, kernel);                   // (groups, out/G, in/G, kernel)
        Tensor? y = null;
        for (var k = 0L; k < kernel; k++)
        {
            var tap = xg[.., .., .., TensorIndex.Slice(k * dilation, k * dilation + stride * (frames - 1) + 1, stride)]; // (batch, groups, in/G, frames)
            var product = w[.., .., .., k].matmul(tap);                                           // (batch, groups, out/G, frames)
            y = y is null ? product : y.add_(product, Scalars.One);
        }
        var result = y!.view(batch, outChannels, frames);                                         // (batch, out, frames)
        if (bias is not null) result = result.add(bias.view(1, outChannels, 1), Scalars.One);
        return result.MoveToOuterDisposeScope();
    }
}
