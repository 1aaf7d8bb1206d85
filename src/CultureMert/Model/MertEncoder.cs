using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static CultureMert.Scalars;

namespace CultureMert.Model;

/// <summary>
/// Positional conv + transformer stack (HF: HubertEncoder for post-LN, HubertEncoderStableLayerNorm for pre-LN).
/// Hidden states follow HF's <c>output_hidden_states</c> exactly:
/// post-LN: [0] = Dropout(LayerNorm(x + pos_conv(x))), [i] = output of layer i;
/// pre-LN:  [0] = Dropout(x + pos_conv(x)), [i] = output of layer i for i &lt; L, [L] = LayerNorm(output of layer L).
/// </summary>
public sealed class MertEncoder : nn.Module<Tensor, Tensor>
{
    private readonly MertPositionalConvEmbedding pos_conv_embed;   // encoder.pos_conv_embed.*
    private readonly LayerNorm layer_norm;                         // encoder.layer_norm.*
    private readonly Dropout dropout;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> layers; // encoder.layers.{i}.*
    private readonly bool preLN;
    private readonly double layerDrop;

    public MertEncoder(MertConfig c) : base(nameof(MertEncoder))
    {
        pos_conv_embed = new MertPositionalConvEmbedding(c);
        layer_norm = nn.LayerNorm(c.HiddenSize, eps: c.LayerNormEps);
        dropout = nn.Dropout(c.HiddenDropout);
        preLN = c.DoStableLayerNorm;
        layers = nn.ModuleList(Enumerable.Range(0, c.NumHiddenLayers).Select(_ => preLN
            ? (nn.Module<Tensor, Tensor>)new MertEncoderLayerStableLayerNorm(c)
            : new MertEncoderLayer(c)).ToArray());
        layerDrop = c.LayerDrop;
        RegisterComponents();
    }

    public int NumLayers => layers.Count;

    /// <summary>Hidden states 0..<paramref name="lastLayer"/> (inclusive); layers past it are not run.</summary>
    /// <param name="x">(batch, frames, hidden) projected CNN features</param>
    /// <returns>lastLayer + 1 tensors, each (batch, frames, hidden)</returns>
    public List<Tensor> HiddenStates(Tensor x, int lastLayer)
    {
        using (var scope = NewDisposeScope())
        {
            x = x.add(pos_conv_embed.call(x), One);
            if (!preLN) x = layer_norm.call(x);
            x = dropout.call(x).MoveToOuterDisposeScope();
        }
        var states = new List<Tensor>(lastLayer + 1) { x };
        for (var i = 0; i < lastLayer; i++)
        {
            // LayerDrop (training only): skip the whole layer with probability `layerdrop`; HF still records the state.
            if (!(training && layerDrop > 0 && rand(1).item<float>() < layerDrop)) x = layers[i].call(x);
            states.Add(preLN && i == layers.Count - 1 ? layer_norm.call(x) : x);
        }
        return states;
    }

    /// <param name="x">(batch, frames, hidden)</param> <returns>last hidden state, (batch, frames, hidden)</returns>
    public override Tensor forward(Tensor x) => HiddenStates(x, layers.Count)[^1];
}
