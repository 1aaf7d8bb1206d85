using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CultureMert.Model;

/// <summary>
/// One block of the CNN feature encoder (HF: HubertGroupNormConvLayer / HubertLayerNormConvLayer / HubertNoLayerNormConvLayer):
/// conv → optional norm → activation. <c>feat_extract_norm = group</c> puts a per-channel GroupNorm on block 0 only (MERT-v1);
/// <c>layer</c> puts a LayerNorm over channels on every block (HuBERT-large style).
/// </summary>
public sealed class MertConvLayer : nn.Module<Tensor, Tensor>
{
    private readonly Conv1d conv;                    // feature_extractor.conv_layers.{i}.conv.*
    private readonly nn.Module<Tensor, Tensor>? layer_norm; // feature_extractor.conv_layers.{i}.layer_norm.* (GroupNorm or LayerNorm)
    private readonly bool channelLayerNorm;
    private readonly string activation;
    private readonly long stride;

    public MertConvLayer(MertConfig c, int i) : base(nameof(MertConvLayer))
    {
        var inDim = i == 0 ? 1 : c.ConvDim[i - 1];
        conv = nn.Conv1d(inDim, c.ConvDim[i], c.ConvKernel[i], stride: c.ConvStride[i], bias: c.ConvBias);
        if (c.FeatExtractNorm == "group" && i == 0)
            layer_norm = nn.GroupNorm(c.ConvDim[i], c.ConvDim[i], eps: 1e-5, affine: true); // HF hard-codes eps 1e-5 here
        else if (c.FeatExtractNorm == "layer")
        {
            layer_norm = nn.LayerNorm(c.ConvDim[i], eps: 1e-5, elementwise_affine: true);
            channelLayerNorm = true;
        }
        activation = c.FeatExtractActivation;
        stride = c.ConvStride[i];
        RegisterComponents();
    }

    /// <param name="x">(batch, in_channels, samples)</param> <returns>(batch, conv_dim[i], frames)</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();              // free this block's intermediates now, not at the caller's scope end
        // Each intermediate is dropped as soon as the next exists: block 0's are the largest tensors of the model
        // (batch × 512 × samples / 5 floats, about 200 MB at batch 4 × 5 s), so only two are alive at a time, not three.
        // (Under autograd the graph keeps what backward needs; disposing the handle frees nothing it uses.)
        var y = MixedPrecision.Conv1d(x, conv.weight!, conv.bias, stride);
        if (layer_norm is not null)
        {
            var normed = channelLayerNorm
                ? layer_norm.call(y.transpose(-2, -1)).transpose(-2, -1)   // LayerNorm over channels: (batch, frames, channels) and back
                : layer_norm.call(y);
            y.Dispose();
            y = normed;
        }
        return Activations.Apply(activation, y).MoveToOuterDisposeScope();
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

    /// <param name="inputValues">(batch, samples)</param> <returns>(batch, conv_dim[-1], frames)</returns>
    public override Tensor forward(Tensor inputValues)
    {
        using var scope = NewDisposeScope();
        var x = inputValues.unsqueeze(1);                 // (batch, 1, samples)
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
        return dropout.call(MixedPrecision.Linear(projection, x)).MoveToOuterDisposeScope();
    }
}
