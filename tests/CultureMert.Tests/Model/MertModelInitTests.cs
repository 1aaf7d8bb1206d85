using CultureMert.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Tests.Model;

/// <summary>
/// <see cref="MertModel.InitializeWeights"/> against Hugging Face's HubertPreTrainedModel._init_weights: Linear
/// N(0, initializer_range) with zero bias, LayerNorm/GroupNorm weight 1 bias 0, CNN convs Kaiming-normal
/// (std √(2 / fan_in)), the weight-normed pos-conv keeping PyTorch's Conv1d default v with g = ‖v‖ over dims (0, 1)
/// and zero bias, masked_spec_embed U(0, 1).
/// </summary>
public class MertModelInitTests
{
    /// <summary>Tiny preset, plus conv biases and LayerNorm on every conv block so those inits are exercised too.</summary>
    static MertModel NewModel(bool layerNormCnn) => new(MertConfig.Preset("tiny") with
    {
        ConvBias = layerNormCnn, FeatExtractNorm = layerNormCnn ? "layer" : "group",
    });

    static readonly string[] LinearSuffixes =
    [
        "attention.q_proj.weight", "attention.k_proj.weight", "attention.v_proj.weight", "attention.out_proj.weight",
        "feed_forward.intermediate_dense.weight", "feed_forward.output_dense.weight", "feature_projection.projection.weight",
    ];

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void InitializeWeights_TinyModel_HasHuggingFaceStatistics(bool layerNormCnn)
    {
        using var model = NewModel(layerNormCnn).InitializeWeights(7);
        var p = model.named_parameters().ToDictionary(kv => kv.name, kv => kv.parameter);
        var range = model.Config.InitializerRange;

        // Linear: N(0, 0.02) — at least 2048 samples per matrix, so the sample std is within ~2% of 0.02.
        var linears = p.Keys.Where(k => LinearSuffixes.Any(k.EndsWith)).ToList();
        Assert.Equal(6 * model.Config.NumHiddenLayers + 1, linears.Count);
        foreach (var k in linears)
        {
            Assert.InRange(p[k].std().item<float>(), 0.9 * range, 1.1 * range);
            Assert.InRange(Math.Abs(p[k].mean().item<float>()), 0, 0.1 * range);
        }

        // every bias is zero (Linear, conv, norms, pos-conv)
        var biases = p.Keys.Where(k => k.EndsWith(".bias")).ToList();
        Assert.Contains("encoder.pos_conv_embed.conv.bias", biases);
        if (layerNormCnn) Assert.Contains("feature_extractor.conv_layers.3.conv.bias", biases);
        foreach (var k in biases) Assert.Equal(0f, p[k].abs().max().item<float>());

        // norm scales are exactly 1
        var norms = p.Keys.Where(k => k.EndsWith("layer_norm.weight")).ToList();
        Assert.Equal(2 * model.Config.NumHiddenLayers + 2 + (layerNormCnn ? 7 : 1), norms.Count);
        foreach (var k in norms) Assert.True(p[k].eq(1f).all().item<bool>(), $"{k} is not all ones");

        // CNN convs 1..6 (≥ 2048 samples each): Kaiming normal, std √(2 / (in · kernel))
        for (var i = 1; i < 7; i++)
        {
            var w = p[$"feature_extractor.conv_layers.{i}.conv.weight"];
            var std = Math.Sqrt(2.0 / (w.size(1) * w.size(2)));
            Assert.InRange(w.std().item<float>(), 0.9 * std, 1.1 * std);
        }

        // masked_spec_embed ~ U[0, 1)
        var mask = p["masked_spec_embed"];
        Assert.True(mask.ge(0f).all().item<bool>() && mask.lt(1f).all().item<bool>());
        Assert.InRange(mask.mean().item<float>(), 0.3, 0.7);

        // pos-conv: v ~ U(±1/√fan_in) (PyTorch's kaiming_uniform(a=√5)), g = ‖v‖ over (out, in) per kernel tap
        var v = p["encoder.pos_conv_embed.conv.weight_v"];
        var g = p["encoder.pos_conv_embed.conv.weight_g"];
        var bound = 1.0 / Math.Sqrt(v.size(1) * v.size(2));
        Assert.InRange(v.abs().max().item<float>(), 0.9 * bound, bound);
        Assert.Equal(new long[] { 1, 1, v.size(2) }, g.shape);
        var norm = v.pow(2).sum([0, 1], keepdim: true).sqrt();                        // computed here, not with linalg.norm
        Assert.InRange((g - norm).abs().max().item<float>(), 0, 1e-5 * norm.max().item<float>());
    }

    [Fact]
    public void InitializeWeights_SameSeed_GivesIdenticalWeightsAndOtherSeedDiffers()
    {
        // a and b are constructed from different global-RNG states (PyTorch-default init), so equality after
        // InitializeWeights(1) also shows that every parameter is overwritten from the seeded generator alone.
        using var a = NewModel(false).InitializeWeights(1);
        using var b = NewModel(false).InitializeWeights(1);
        using var c = NewModel(false).InitializeWeights(2);
        var pa = a.state_dict();
        var pb = b.state_dict();
        var pc = c.state_dict();
        foreach (var (k, v) in pa) Assert.True(v.equal(pb[k]).all().item<bool>(), $"{k} differs between two runs with seed 1");
        // every randomly initialised tensor must change with the seed (the constant ones cannot)
        foreach (var k in new[] { "masked_spec_embed", "encoder.pos_conv_embed.conv.weight_v", "encoder.layers.1.attention.q_proj.weight",
                                  "feature_extractor.conv_layers.0.conv.weight", "feature_projection.projection.weight" })
            Assert.False(pa[k].equal(pc[k]).all().item<bool>(), $"{k} is the same for seeds 1 and 2");
    }
}
