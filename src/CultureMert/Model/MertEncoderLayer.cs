using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static CultureMert.Scalars;

namespace CultureMert.Model;

/// <summary>Post-LN transformer block of MERT-v1-95M (HF: HubertEncoderLayer).</summary>
public sealed class MertEncoderLayer : nn.Module<Tensor, Tensor>
{
    private readonly MertAttention attention;                  // encoder.layers.{i}.attention.*
    private readonly Dropout dropout;
    private readonly LayerNorm layer_norm, final_layer_norm;  // encoder.layers.{i}.layer_norm.*, .final_layer_norm.*
    private readonly MertFeedForward feed_forward;             // encoder.layers.{i}.feed_forward.*

    public MertEncoderLayer(MertConfig c) : base(nameof(MertEncoderLayer))
    {
        (attention, feed_forward, dropout) = (new MertAttention(c), new MertFeedForward(c), nn.Dropout(c.HiddenDropout));
        layer_norm = nn.LayerNorm(c.HiddenSize, eps: c.LayerNormEps);
        final_layer_norm = nn.LayerNorm(c.HiddenSize, eps: c.LayerNormEps);
        RegisterComponents();
    }

    /// <param name="x">(batch, frames, hidden)</param> <returns>(batch, frames, hidden)</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        x = layer_norm.call(x.add(dropout.call(attention.call(x)), One));   // post-LN: norm after the residual
        return final_layer_norm.call(x.add(feed_forward.call(x), One)).MoveToOuterDisposeScope();
    }
}

/// <summary>Pre-LN transformer block of MERT-v1-330M (HF: HubertEncoderLayerStableLayerNorm).</summary>
public sealed class MertEncoderLayerStableLayerNorm : nn.Module<Tensor, Tensor>
{
    private readonly MertAttention attention;
    private readonly Dropout dropout;
    private readonly LayerNorm layer_norm, final_layer_norm;
    private readonly MertFeedForward feed_forward;

    public MertEncoderLayerStableLayerNorm(MertConfig c) : base(nameof(MertEncoderLayerStableLayerNorm))
    {
        (attention, feed_forward, dropout) = (new MertAttention(c), new MertFeedForward(c), nn.Dropout(c.HiddenDropout));
        layer_norm = nn.LayerNorm(c.HiddenSize, eps: c.LayerNormEps);
        final_layer_norm = nn.LayerNorm(c.HiddenSize, eps: c.LayerNormEps);
        RegisterComponents();
    }

    /// <param name="x">(batch, frames, hidden)</param> <returns>(batch, frames, hidden)</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        x = x.add(dropout.call(attention.call(layer_norm.call(x))), One);  // pre-LN: norm inside the residual branch
        return x.add(feed_forward.call(final_layer_norm.call(x)), One).MoveToOuterDisposeScope();
    }
}
