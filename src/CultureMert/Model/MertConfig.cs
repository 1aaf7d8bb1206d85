using System.Text.Json;
using System.Text.Json.Nodes;
using CultureMert.IO;

namespace CultureMert.Model;

/// <summary>
/// The architecture of a MERT-v1 / HuBERT model as its Hugging Face <c>config.json</c> states it. Property names are the
/// JSON keys in PascalCase; defaults are those of <c>m-a-p/MERT-v1-95M</c>. Keys that change the forward pass and that we
/// do not implement are rejected by <see cref="Load"/> with the key named, never ignored.
/// </summary>
public sealed record MertConfig
{
    /// <summary>model_type: <c>mert_model</c> needs MERT's remote code in the folder; <c>hubert</c> loads in plain transformers.</summary>
    public string ModelType { get; init; } = "mert_model";                  // model_type
    public int HiddenSize { get; init; } = 768;                             // hidden_size
    public int NumHiddenLayers { get; init; } = 12;                         // num_hidden_layers
    public int NumAttentionHeads { get; init; } = 12;                       // num_attention_heads
    public int IntermediateSize { get; init; } = 3072;                      // intermediate_size
    public string HiddenAct { get; init; } = "gelu";                        // hidden_act
    public int[] ConvDim { get; init; } = [512, 512, 512, 512, 512, 512, 512];
    public int[] ConvKernel { get; init; } = [10, 3, 3, 3, 3, 2, 2];
    public int[] ConvStride { get; init; } = [5, 2, 2, 2, 2, 2, 2];
    public bool ConvBias { get; init; }                                     // conv_bias
    public string FeatExtractNorm { get; init; } = "group";                 // feat_extract_norm: group | layer
    public string FeatExtractActivation { get; init; } = "gelu";            // feat_extract_activation
    public bool FeatProjLayerNorm { get; init; } = true;                    // feat_proj_layer_norm
    public int NumConvPosEmbeddings { get; init; } = 128;                   // num_conv_pos_embeddings (pos-conv kernel)
    public int NumConvPosEmbeddingGroups { get; init; } = 16;               // num_conv_pos_embedding_groups
    public bool DoStableLayerNorm { get; init; }                            // do_stable_layer_norm: false = post-LN (95M), true = pre-LN (330M)
    public double LayerNormEps { get; init; } = 1e-5;                       // layer_norm_eps
    public double HiddenDropout { get; init; } = 0.1;                       // hidden_dropout
    public double AttentionDropout { get; init; } = 0.1;                    // attention_dropout
    public double ActivationDropout { get; init; }                          // activation_dropout
    public double FeatProjDropout { get; init; } = 0.1;                     // feat_proj_dropout
    public double LayerDrop { get; init; } = 0.05;                          // layerdrop
    public double MaskTimeProb { get; init; } = 0.05;                       // mask_time_prob (> 0 ⇒ masked_spec_embed exists)
    public double InitializerRange { get; init; } = 0.02;                   // initializer_range
    public double AttentionRelax { get; init; } = -1.0;                     // attention_relax: a softmax max-shift, no change to the maths
    public int SampleRate { get; init; } = 24000;                           // sample_rate

    /// <summary>The original JSON, kept so that a saved model writes back every key it was loaded with.</summary>
    public JsonObject? Source { get; init; }

    public int HeadDim => HiddenSize / NumAttentionHeads;
    public int TotalStride => ConvStride.Aggregate(1, (a, s) => a * s);

    /// <summary>Frames the CNN produces for <paramref name="samples"/> input samples (0 when too short).</summary>
    public long FrameCount(long samples)
    {
        for (var i = 0; i < ConvKernel.Length; i++)
        {
            if (samples < ConvKernel[i]) return 0;
            samples = (samples - ConvKernel[i]) / ConvStride[i] + 1;
        }
        return samples;
    }

    /// <summary>The smallest input, in samples, that yields one frame (400 for MERT-v1).</summary>
    public int ReceptiveField
    {
        get
        {
            var receptive = 1;
            for (var i = ConvKernel.Length - 1; i >= 0; i--) receptive = (receptive - 1) * ConvStride[i] + ConvKernel[i];
            return receptive;
        }
    }

    public MertConfig Validate(string source)
    {
        if (ConvKernel.Length != ConvDim.Length || ConvStride.Length != ConvDim.Length)
            throw new InvalidDataException(
                $"{source}: conv_dim/conv_kernel/conv_stride lengths differ: {ConvDim.Length}/{ConvKernel.Length}/{ConvStride.Length}.");
        if (ConvDim.Length == 0 || ConvDim.Concat(ConvKernel).Concat(ConvStride).Any(v => v <= 0))
            throw new InvalidDataException($"{source}: conv_dim/conv_kernel/conv_stride must be non-empty lists of positive numbers.");
        if (NumConvPosEmbeddings <= 0 || NumConvPosEmbeddingGroups <= 0)
            throw new InvalidDataException($"{source}: num_conv_pos_embeddings ({NumConvPosEmbeddings}) and num_conv_pos_embedding_groups ({NumConvPosEmbeddingGroups}) must be positive.");
        if (SampleRate <= 0) throw new InvalidDataException($"{source}: sample_rate {SampleRate} must be positive.");
        if (!(LayerNormEps > 0)) throw new InvalidDataException($"{source}: layer_norm_eps {LayerNormEps} must be positive.");
        if (HiddenSize <= 0 || NumAttentionHeads <= 0 || HiddenSize % NumAttentionHeads != 0)
            throw new InvalidDataException($"{source}: hidden_size {HiddenSize} is not a multiple of num_attention_heads {NumAttentionHeads}.");
        if (HiddenSize % NumConvPosEmbeddingGroups != 0)
            throw new InvalidDataException($"{source}: hidden_size {HiddenSize} is not a multiple of num_conv_pos_embedding_groups {NumConvPosEmbeddingGroups}.");
        if (FeatExtractNorm is not ("group" or "layer"))
            throw new NotSupportedException($"{source}: feat_extract_norm \"{FeatExtractNorm}\" is not implemented (supported: group, layer).");
        foreach (var (key, act) in new[] { ("hidden_act", HiddenAct), ("feat_extract_activation", FeatExtractActivation) })
            if (!Activations.IsSupported(act))
                throw new NotSupportedException($"{source}: {key} \"{act}\" is not implemented (supported: {string.Join(", ", Activations.Supported)}).");
        if (NumHiddenLayers < 0 || IntermediateSize <= 0) throw new InvalidDataException($"{source}: num_hidden_layers/intermediate_size must be positive.");
        // Refused before any allocation: a typo such as hidden_size 1048576 would otherwise ask for terabytes.
        foreach (var (key, value, max) in new[] { ("hidden_size", HiddenSize, 16384), ("intermediate_size", IntermediateSize, 65536),
                                                  ("num_hidden_layers", NumHiddenLayers, 256), ("num_attention_heads", NumAttentionHeads, 256),
                                                  ("num_conv_pos_embeddings", NumConvPosEmbeddings, 4096), ("conv_dim", ConvDim.Max(), 16384) })
            if (value > max) throw new InvalidDataException($"{source}: {key} {value} is implausible (at most {max}; the largest MERT has 1024 hidden units in 24 layers).");
        return this;
    }

    static readonly string[] KnownModelTypes = ["mert_model", "music_hubert", "hubert"];

    /// <summary>Reads and validates a Hugging Face <c>config.json</c>.</summary>
    public static MertConfig Load(string path) => FromJson(ConfigJson.Read(path), path);

    public static MertConfig FromJson(JsonObject json, string source)
    {
        T Get<T>(string key, T fallback) => ConfigJson.Get(json, key, fallback, source);
        // An architecture size given as null is an error, not the default: transformers would refuse it too.
        int Size(string key, int fallback) => json.TryGetPropertyValue(key, out var v) && v is null
            ? throw new InvalidDataException($"{source}: key \"{key}\" is null; expected a positive integer.") : Get(key, fallback);
        var d = new MertConfig();
        var modelType = Get("model_type", d.ModelType);
        if (!KnownModelTypes.Contains(modelType))
            throw new NotSupportedException($"{source}: model_type \"{modelType}\" is not a MERT/HuBERT model (supported: {string.Join(", ", KnownModelTypes)}).");
        // Keys that would change the maths of the forward pass and that this implementation does not (yet) follow.
        if (Get("feature_extractor_cqt", false))
            throw new NotSupportedException($"{source}: feature_extractor_cqt = true (CQT features concatenated to the CNN output) is not implemented.");
        if (Get("deepnorm", false))
            throw new NotSupportedException($"{source}: deepnorm = true (DeepNet residual scaling) is not implemented.");
        if (Get("conv_pos_batch_norm", false))
            throw new NotSupportedException($"{source}: conv_pos_batch_norm = true (BatchNorm positional conv) is not implemented.");
        var cfg = new MertConfig
        {
            ModelType = modelType,
            HiddenSize = Size("hidden_size", d.HiddenSize),
            NumHiddenLayers = Size("num_hidden_layers", d.NumHiddenLayers),
            NumAttentionHeads = Size("num_attention_heads", d.NumAttentionHeads),
            IntermediateSize = Size("intermediate_size", d.IntermediateSize),
            HiddenAct = Get("hidden_act", d.HiddenAct),
            ConvDim = Get("conv_dim", d.ConvDim),
            ConvKernel = Get("conv_kernel", d.ConvKernel),
            ConvStride = Get("conv_stride", d.ConvStride),
            ConvBias = Get("conv_bias", d.ConvBias),
            FeatExtractNorm = Get("feat_extract_norm", d.FeatExtractNorm),
            FeatExtractActivation = Get("feat_extract_activation", d.FeatExtractActivation),
            FeatProjLayerNorm = Get("feat_proj_layer_norm", d.FeatProjLayerNorm),
            NumConvPosEmbeddings = Get("num_conv_pos_embeddings", d.NumConvPosEmbeddings),
            NumConvPosEmbeddingGroups = Get("num_conv_pos_embedding_groups", d.NumConvPosEmbeddingGroups),
            DoStableLayerNorm = Get("do_stable_layer_norm", d.DoStableLayerNorm),
            LayerNormEps = Get("layer_norm_eps", d.LayerNormEps),
            HiddenDropout = Get("hidden_dropout", Get("hidden_dropout_prob", d.HiddenDropout)),
            AttentionDropout = Get("attention_dropout", d.AttentionDropout),
            ActivationDropout = Get("activation_dropout", d.ActivationDropout),
            FeatProjDropout = Get("feat_proj_dropout", d.FeatProjDropout),
            LayerDrop = Get("layerdrop", d.LayerDrop),
            MaskTimeProb = Get("mask_time_prob", d.MaskTimeProb),
            InitializerRange = Get("initializer_range", d.InitializerRange),
            AttentionRelax = Get("attention_relax", d.AttentionRelax),
            SampleRate = Get("sample_rate", d.SampleRate),
            Source = json,
        };
        var nFeat = Get("num_feat_extract_layers", cfg.ConvDim.Length);
        if (nFeat != cfg.ConvDim.Length)
            throw new InvalidDataException($"{source}: num_feat_extract_layers = {nFeat} but conv_dim has {cfg.ConvDim.Length} entries.");
        return cfg.Validate(source);
    }

    /// <summary>The <c>config.json</c> that Hugging Face <c>transformers</c> reads back: the loaded keys, with ours on top.</summary>
    public JsonObject ToJson()
    {
        var json = Source?.DeepClone().AsObject() ?? new JsonObject();
        json["architectures"] ??= new JsonArray(ModelType == "hubert" ? "HubertModel" : "MERTModel");
        json["model_type"] = ModelType;
        json["hidden_size"] = HiddenSize;
        json["num_hidden_layers"] = NumHiddenLayers;
        json["num_attention_heads"] = NumAttentionHeads;
        json["intermediate_size"] = IntermediateSize;
        json["hidden_act"] = HiddenAct;
        json["conv_dim"] = new JsonArray(ConvDim.Select(v => (JsonNode)v).ToArray());
        json["conv_kernel"] = new JsonArray(ConvKernel.Select(v => (JsonNode)v).ToArray());
        json["conv_stride"] = new JsonArray(ConvStride.Select(v => (JsonNode)v).ToArray());
        json["num_feat_extract_layers"] = ConvDim.Length;
        json["conv_bias"] = ConvBias;
        json["feat_extract_norm"] = FeatExtractNorm;
        json["feat_extract_activation"] = FeatExtractActivation;
        json["feat_proj_layer_norm"] = FeatProjLayerNorm;
        json["num_conv_pos_embeddings"] = NumConvPosEmbeddings;
        json["num_conv_pos_embedding_groups"] = NumConvPosEmbeddingGroups;
        json["do_stable_layer_norm"] = DoStableLayerNorm;
        json["layer_norm_eps"] = LayerNormEps;
        json["hidden_dropout"] = HiddenDropout;
        json["attention_dropout"] = AttentionDropout;
        json["activation_dropout"] = ActivationDropout;
        json["feat_proj_dropout"] = FeatProjDropout;
        json["layerdrop"] = LayerDrop;
        json["mask_time_prob"] = MaskTimeProb;
        json["initializer_range"] = InitializerRange;
        json["attention_relax"] = AttentionRelax;
        json["feature_extractor_cqt"] ??= false;
        json["feature_extractor_cqt_bins"] ??= 336;
        json["deepnorm"] ??= false;
        json["sample_rate"] = SampleRate;
        json["torch_dtype"] = "float32";
        return json;
    }

    /// <summary>Preset architectures for <c>culturemert init</c>.</summary>
    /// <remarks>
    /// Presets are written as <c>model_type: hubert</c> (architectures HubertModel), which plain <c>transformers</c>
    /// loads with <c>AutoModel.from_pretrained</c>; for the released configs MERTModel computes exactly HubertModel.
    /// </remarks>
    public static MertConfig Preset(string name) => name switch
    {
        "mert-95m" => new MertConfig { ModelType = "hubert" },
        // MERT-v1-330M (repo scripts/hf_config/mert_large.json): pre-LN, 24 × 1024, no dropout.
        "mert-330m" => new MertConfig
        {
            ModelType = "hubert",
            HiddenSize = 1024, NumHiddenLayers = 24, NumAttentionHeads = 16, IntermediateSize = 4096, DoStableLayerNorm = true,
            HiddenDropout = 0, AttentionDropout = 0, FeatProjDropout = 0, LayerDrop = 0, MaskTimeProb = 0.075, AttentionRelax = 32.0,
        },
        // Between the two: big enough to learn real structure, small enough to pre-train on a CPU in hours (demo --full).
        "small" => new MertConfig
        {
            ModelType = "hubert",
            HiddenSize = 256, NumHiddenLayers = 4, NumAttentionHeads = 4, IntermediateSize = 1024,
            ConvDim = [128, 128, 128, 128, 128, 128, 128], NumConvPosEmbeddings = 64, NumConvPosEmbeddingGroups = 16,
        },
        // A model small enough to train and test in seconds, same family as the 95M.
        "tiny" => new MertConfig
        {
            ModelType = "hubert",
            HiddenSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4, IntermediateSize = 128,
            ConvDim = [32, 32, 32, 32, 32, 32, 32], NumConvPosEmbeddings = 16, NumConvPosEmbeddingGroups = 4,
        },
        _ => throw new ArgumentException($"unknown preset \"{name}\" (known: mert-95m, mert-330m, small, tiny)."),
    };
}
