using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CultureMert.Model;

/// <summary>
/// One block of the CNN feature encoder (HF: HubertGroupNormConvLayer / HubertLayerNormConvLayer / HubertNoLayerNormConvLayer):
/// conv → optional norm → activation. <c>feat_extract_norm = group</c> puts a per-channel GroupNorm on block 0 only (MERT-v1);
/// <c>layer</c> puts a LayerNorm over channels on every block (HuBERT-large style).
/// </summary>
/// <remarks>
/// Runs channels-last, (batch, frames, channels), with the convolution as matrix products. A strided conv is
/// y[t] = Σ_j W[:, :, j] · x[s·t + j]; in a channels-last tensor the s input frames s·t … s·t + s − 1 are s·C_in
/// consecutive floats, so each group of s taps is one GEMM over a strided view of x, with no im2col copy (MERT's
/// kernel 3 / stride 2 blocks: one GEMM over frame pairs, one over every second frame). That runs at the machine's
/// GEMM rate, about 15 % above libtorch's conv1d at these shapes, and the transformer's (batch, frames, hidden) layout
/// needs no transpose afterwards. Block 0 reads one channel: its windows are gathered (a copy twice the waveform's
/// size) into one GEMM.
/// </remarks>
public sealed class MertConvLayer : nn.Module<Tensor, Tensor>
{
    private readonly Conv1d conv;                    // feature_extractor.conv_layers.{i}.conv.* (weight: (out, in, kernel))
    private readonly nn.Module<Tensor, Tensor>? layer_norm; // feature_extractor.conv_layers.{i}.layer_norm.* (GroupNorm or LayerNorm)
    private readonly string activation;
    private readonly int kernel, stride;

    public MertConvLayer(MertConfig c, int i) : base(nameof(MertConvLayer))
    {
        var inDim = i == 0 ? 1 : c.ConvDim[i - 1];
        (kernel, stride) = (c.ConvKernel[i], c.ConvStride[i]);
        conv = nn.Conv1d(inDim, c.ConvDim[i], kernel, stride: stride, bias: c.ConvBias);
        if (c.FeatExtractNorm == "group" && i == 0)
            layer_norm = nn.GroupNorm(c.ConvDim[i], c.ConvDim[i], eps: 1e-5, affine: true); // HF hard-codes eps 1e-5 here
        else if (c.FeatExtractNorm == "layer")
            layer_norm = nn.LayerNorm(c.ConvDim[i], eps: 1e-5, elementwise_affine: true);
        activation = c.FeatExtractActivation;
        RegisterComponents();
    }

    /// <param name="x">(batch, samples, in_channels), contiguous</param> <returns>(batch, frames, conv_dim[i])</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();              // free this block's intermediates now, not at the caller's scope end
        x = Convolve(x);
        if (layer_norm is GroupNorm groupNorm) x = ChannelNorm(x, groupNorm);
        else if (layer_norm is not null) x = layer_norm.call(x);           // LayerNorm over channels: the last dimension
        return Activations.Apply(activation, x).MoveToOuterDisposeScope();
    }

    /// <param name="x">(batch, samples, in_channels)</param> <returns>(batch, frames, out_channels)</returns>
    Tensor Convolve(Tensor x)
    {
        var (B, T, C) = (x.size(0), x.size(1), x.size(2));
        var frames = (T - kernel) / stride + 1;
        var w = conv.weight!.permute(0, 2, 1);           // (out, kernel, in): taps in the order they lie in memory
        Tensor y;
        if (C == 1)
            y = nn.functional.linear(x.squeeze(-1).unfold(1, kernel, stride), w.reshape(w.size(0), kernel));   // windows: (B, frames, kernel)
        else
        {
            y = null!;
            for (var first = 0; first < kernel; first += stride)
            {
                var taps = Math.Min(stride, kernel - first);
                // Frames s·t + first … s·t + first + taps − 1 for every t: taps·C floats at offset (s·t + first)·C.
                var window = taps == 1
                    ? x[.., TensorIndex.Slice(first, first + stride * (frames - 1) + 1, stride)]                        // (B, frames, C)
                    : x.view(B, T * C)[.., TensorIndex.Slice(first * C, (first + stride * frames) * C)].view(B, frames, stride * C)[.., .., ..(int)(taps * C)];
                var part = nn.functional.linear(window, w[.., first..(first + taps)].reshape(w.size(0), taps * C));   // (B, frames, out)
                y = first == 0 ? part : y.add_(part);
            }
        }
        return conv.bias is { } b ? y.add_(b) : y;
    }

    /// <summary>GroupNorm with one channel per group (MERT's block 0) on channels-last input: each channel normalised
    /// over time, then scaled and shifted, folded into one multiply-add.</summary>
    /// <param name="x">(batch, frames, channels)</param> <returns>(batch, frames, channels)</returns>
    static Tensor ChannelNorm(Tensor x, GroupNorm norm)
    {
        using var eps = 1e-5.ToScalar();                  // HF hard-codes eps 1e-5 here; Scalars held (TorchSharp 0.107)
        using var one = 1.0.ToScalar();
        var (variance, mean) = var_mean(x, [1], unbiased: false, keepdim: true);                  // each (batch, 1, channels)
        var scale = norm.weight! * (variance + eps).rsqrt();
        return addcmul(norm.bias! - mean * scale, x, scale, one);                                  // x·scale + (bias − mean·scale)
    }
}

/// <summary>The CNN that turns a 24 kHz waveform into 75 Hz frames (HF: HubertFeatureEncoder).</summary>
public sealed class MertFeatureEncoder : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<MertConvLayer> conv_layers; // feature_extractor.conv_layers.*

    public MertFeatureEncoder(MertConfig c) : base(nameof(MertFeatureEncoder))
    {
        conv_layers = nn.ModuleList(Enumerable.Range(0, c.ConvDim.Length).Select(i => new MertConvLayer(c, i)).ToArray());
        RegisterComponents();
    }

    /// <param name="inputValues">(batch, samples)</param> <returns>(batch, frames, conv_dim[-1]), channels-last</returns>
    public override Tensor forward(Tensor inputValues)
    {
        using var scope = NewDisposeScope();
        var x = inputValues.unsqueeze(-1);                // (batch, samples, 1)
        foreach (var layer in conv_layers)
        {
            var next = layer.call(x);
            x.Dispose();                                  // the largest activations of the model: drop each as soon as it is used
            x = next;
        }
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>LayerNorm → Linear → Dropout from CNN channels to the transformer width (HF: MERTFeatureProjection).</summary>
public sealed class MertFeatureProjection : nn.Module<Tensor, Tensor>
{
    private readonly LayerNorm? layer_norm;          // feature_projection.layer_norm.*
    private readonly Linear projection;              // feature_projection.projection.*
    private readonly Dropout dropout;

    public MertFeatureProjection(MertConfig c) : base(nameof(MertFeatureProjection))
    {
        if (c.FeatProjLayerNorm) layer_norm = nn.LayerNorm(c.ConvDim[^1], eps: c.LayerNormEps);
        projection = nn.Linear(c.ConvDim[^1], c.HiddenSize);
        dropout = nn.Dropout(c.FeatProjDropout);
        RegisterComponents();
    }

    /// <param name="features">(batch, frames, conv_dim[-1])</param> <returns>(batch, frames, hidden)</returns>
    public override Tensor forward(Tensor features)
    {
        using var scope = NewDisposeScope();
        var x = layer_norm is null ? features : layer_norm.call(features);
        return dropout.call(projection.call(x)).MoveToOuterDisposeScope();
    }
}
