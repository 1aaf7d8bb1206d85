using CultureMert.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Tests.Model;

/// <summary>
/// Pre-training differentiates through the CNN: its forward and gradients (weights, norms, biases, input) against the
/// plain functional composition HF's modules describe (conv1d, group_norm / layer_norm over channels, GELU) on the same
/// weights, in float64 so that only a wrong wiring (layouts, which norm on which block, biases) could differ.
/// </summary>
public class MertFeatureEncoderGradientTests
{
    [Theory]
    [InlineData("mert-tiny")]             // GroupNorm on block 0, no conv bias
    [InlineData("mert-tiny-layernorm")]   // LayerNorm on every block, conv biases
    public void FeatureEncoder_ForwardAndGradients_MatchConv1dReference(string fixture)
    {
        using var loaded = MertCheckpoint.Load(Fixtures.Dir(fixture));
        var model = loaded.Model.to(ScalarType.Float64);
        var c = model.Config;
        var p = model.named_parameters().ToDictionary(kv => kv.name, kv => (Tensor)kv.parameter);
        var audio = randn(new long[] { 2, 7001 }, ScalarType.Float64, generator: new Generator(11)).requires_grad_();

        Tensor Reference(Tensor x)                                            // (B, samples) → (B, C, frames)
        {
            var h = x.unsqueeze(1);
            for (var i = 0; i < c.ConvDim.Length; i++)
            {
                var pre = $"feature_extractor.conv_layers.{i}.";
                h = nn.functional.conv1d(h, p[pre + "conv.weight"], p.GetValueOrDefault(pre + "conv.bias"), stride: c.ConvStride[i]);
                if (c.FeatExtractNorm == "group" && i == 0)
                    h = nn.functional.group_norm(h, c.ConvDim[0], p[pre + "layer_norm.weight"], p[pre + "layer_norm.bias"], 1e-5);
                else if (c.FeatExtractNorm == "layer")
                    h = nn.functional.layer_norm(h.transpose(1, 2), [c.ConvDim[i]], p[pre + "layer_norm.weight"], p[pre + "layer_norm.bias"], 1e-5).transpose(1, 2);
                h = nn.functional.gelu(h);
            }
            return h;
        }

        var probe = randn(model.ExtractFeatures(audio).shape, ScalarType.Float64, generator: new Generator(12));   // a random linear loss
        (Tensor Features, Dictionary<string, Tensor> Grads) Run(Func<Tensor, Tensor> cnn)
        {
            foreach (var t in p.Values.Append(audio)) t.grad = null;
            var features = cnn(audio);
            (features * probe).sum().backward();
            return (features.detach().clone(), p.Where(kv => kv.Key.StartsWith("feature_extractor.")).ToDictionary(kv => kv.Key, kv => kv.Value.grad!.clone())
                .Append(new KeyValuePair<string, Tensor>("input", audio.grad!.clone())).ToDictionary());
        }
        var ours = Run(model.ExtractFeatures);
        var reference = Run(Reference);
        Assert.Equal(reference.Features.shape, ours.Features.shape);
        Assert.True(Fixtures.MaxAbsDiff(ours.Features, reference.Features) < 1e-10);
        Assert.Equal(reference.Grads.Keys.Order(), ours.Grads.Keys.Order());
        foreach (var (name, g) in reference.Grads)
        {
            var scale = Math.Max(1e-3, g.abs().max().item<double>());
            Assert.True(Fixtures.MaxAbsDiff(ours.Grads[name], g) < 1e-10 * scale, $"{fixture}: gradient of {name} differs by {Fixtures.MaxAbsDiff(ours.Grads[name], g):e2}");
        }
    }
}
