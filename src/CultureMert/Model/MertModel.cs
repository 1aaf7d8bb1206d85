using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static CultureMert.Scalars;

namespace CultureMert.Model;

/// <summary>
/// MERT-v1 / CultureMERT acoustic encoder (HF: MERTModel, numerically HubertModel for the released configs).
/// Field names are the checkpoint's tensor names: <c>feature_extractor.*</c>, <c>feature_projection.*</c>,
/// <c>encoder.*</c>, <c>masked_spec_embed</c>.
/// </summary>
public sealed class MertModel : nn.Module<Tensor, Tensor>
{
    private readonly Parameter? masked_spec_embed;          // (hidden); fairseq's mask_emb, used by pre-training masking
    private readonly MertFeatureEncoder feature_extractor;
    private readonly MertFeatureProjection feature_projection;
    private readonly MertEncoder encoder;

    public MertConfig Config { get; }

    public MertModel(MertConfig config) : base(nameof(MertModel))
    {
        Config = config;
        // HF creates the mask vector only when SpecAugment masking is configured; released MERT configs have it.
        if (config.MaskTimeProb > 0) masked_spec_embed = new Parameter(empty(config.HiddenSize));
        feature_extractor = new MertFeatureEncoder(config);
        feature_projection = new MertFeatureProjection(config);
        encoder = new MertEncoder(config);
        RegisterComponents();
    }

    public int NumLayers => encoder.NumLayers;

    /// <summary>The mask embedding, when the model has one.</summary>
    public Tensor? MaskEmbedding => masked_spec_embed;

    /// <param name="inputValues">(batch, samples) at <see cref="MertConfig.SampleRate"/></param>
    /// <returns>CNN features, (batch, conv_dim[-1], frames)</returns>
    public Tensor ExtractFeatures(Tensor inputValues) => feature_extractor.call(inputValues);

    /// <summary>HF <c>hidden_states</c> 0..<paramref name="lastLayer"/> (default: all L + 1).</summary>
    /// <param name="inputValues">(batch, samples)</param>
    /// <returns>lastLayer + 1 tensors, each (batch, frames, hidden)</returns>
    public List<Tensor> HiddenStates(Tensor inputValues, int? lastLayer = null)
    {
        var last = lastLayer ?? encoder.NumLayers;
        if (last < 0 || last > encoder.NumLayers)
            throw new ArgumentOutOfRangeException(nameof(lastLayer), $"layer {last} does not exist (the model has 0..{encoder.NumLayers}).");
        Tensor projected;
        using (var scope = NewDisposeScope())
            projected = Project(feature_extractor.call(inputValues).transpose(1, 2)).MoveToOuterDisposeScope();
        return encoder.HiddenStates(projected, last);
    }

    /// <summary>The feature projection alone, for pre-training, which masks frames between it and the encoder.</summary>
    /// <param name="features">CNN features (batch, frames, conv_dim[-1])</param> <returns>(batch, frames, hidden)</returns>
    public Tensor Project(Tensor features) => feature_projection.call(features);

    /// <summary>The encoder alone: HF hidden states 0..<paramref name="lastLayer"/> of projected (possibly masked) frames.</summary>
    /// <param name="projected">(batch, frames, hidden)</param> <returns>each (batch, frames, hidden)</returns>
    public List<Tensor> Encode(Tensor projected, int? lastLayer = null) => encoder.HiddenStates(projected, lastLayer ?? encoder.NumLayers);

    /// <param name="inputValues">(batch, samples)</param> <returns>last_hidden_state, (batch, frames, hidden)</returns>
    public override Tensor forward(Tensor inputValues) => HiddenStates(inputValues)[^1];

    /// <summary>
    /// Hugging Face's initialisation (HubertPreTrainedModel._init_weights): Linear N(0, initializer_range) with zero bias,
    /// norms at weight 1 / bias 0, CNN convs Kaiming-normal; the positional conv keeps PyTorch's default Conv1d init folded
    /// into weight norm (g = ‖v‖) with zero bias; the mask embedding U(0, 1). Draws come from a CPU generator on any
    /// device, so a seed gives the same weights everywhere.
    /// </summary>
    public MertModel InitializeWeights(int seed)
    {
        using var noGrad = no_grad();
        using var gen = new Generator((ulong)seed);
        foreach (var (name, p) in named_parameters())
        {
            if (name == "masked_spec_embed") ComputeDevice.DrawOnHost(p, t => t.uniform_(0, 1, generator: gen));
            else if (name.EndsWith("pos_conv_embed.conv.weight_v"))
            {
                var fanIn = p.size(1) * p.size(2);
                var bound = 1.0 / Math.Sqrt(fanIn);               // kaiming_uniform(a=√5) bound
                ComputeDevice.DrawOnHost(p, t => t.uniform_(-bound, bound, generator: gen));
            }
            else if (name.EndsWith("pos_conv_embed.conv.weight_g")) { }   // set from v below
            else if (name.Contains("conv_layers") && name.EndsWith("conv.weight"))
                ComputeDevice.DrawOnHost(p, t => t.normal_(0, Math.Sqrt(2.0 / (p.size(1) * p.size(2))), generator: gen));
            else if (name.EndsWith(".weight") && p.dim() == 2) ComputeDevice.DrawOnHost(p, t => t.normal_(0, Config.InitializerRange, generator: gen));
            else if (name.EndsWith(".weight")) p.fill_(Of(1.0));       // LayerNorm / GroupNorm scale
            else if (name.EndsWith(".bias")) p.zero_();
        }
        var parameters = named_parameters().ToDictionary(kv => kv.name, kv => kv.parameter);
        var v = parameters["encoder.pos_conv_embed.conv.weight_v"];
        parameters["encoder.pos_conv_embed.conv.weight_g"].copy_(linalg.norm(v, dims: [0, 1], keepdim: true));
        return this;
    }
}
