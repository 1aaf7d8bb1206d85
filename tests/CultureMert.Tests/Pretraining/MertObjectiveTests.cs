using CultureMert.Model;
using CultureMert.Pretraining;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Tests.Pretraining;

/// <summary>The whole MERT loss on a tiny model: its composition recomputed by hand, and a finite-difference gradient check.</summary>
public class MertObjectiveTests
{
    static (MertModel Model, MertObjective Objective, Tensor Audio, Tensor Mask, Tensor Targets, Tensor Cqt) Setup(ScalarType dtype)
    {
        var model = new MertModel(MertConfig.Preset("tiny")).InitializeWeights(0);
        var objective = new MertObjective(model.Config, [5, 7], cqtBins: 12);
        model.to(dtype).eval();                                               // eval: no dropout, so the loss is a function
        objective.to(dtype);
        var g = new Generator(3);
        var audio = (rand(2, 8000, generator: g) - 0.5).to(dtype);           // T = floor((8000 − 400)/320) + 1 = 24
        var mask = SpanMasking.ComputeMaskIndices(2, 24, new Random(1));
        var targets = stack([randint(0, 5, [2, 25], generator: g), randint(0, 7, [2, 25], generator: g)], dim: -1);   // (2, 25, 2)
        var cqt = rand(2, 26, 12, generator: g).to(dtype);
        return (model, objective, audio, mask, targets, cqt);
    }

    [Fact]
    public void Loss_Composition_MatchesHandRecomputation()
    {
        var (model, objective, audio, mask, targets, cqt) = Setup(ScalarType.Float64);
        using var terms = objective.Loss(model, audio, mask, targets, cqt);
        using var _ = no_grad();
        var p = objective.named_parameters().ToDictionary(kv => kv.name, kv => kv.parameter);
        var features = model.ExtractFeatures(audio);                          // (2, 32, 24)
        var penalty = features.pow(2).mean();
        var x = model.Project(features.transpose(1, 2));
        x = where(mask.unsqueeze(-1), model.MaskEmbedding!.to_type(x.dtype), x);
        var h = model.Encode(x)[^1][mask];                                    // (S, 64) masked frames only
        // Cosine classifier by hand: per codebook, cos(W_i h, E_c) / 0.1, then −log softmax at the target.
        var proj = h.matmul(p["prediction.final_proj.weight"].t()) + p["prediction.final_proj.bias"];   // (S, 128)
        var emb = p["prediction.label_embs_concat"];                                                  // (12, 64)
        var ce = 0.0;
        var classes = new[] { 5, 7 };
        for (int i = 0, row = 0; i < 2; row += classes[i], i++)
        {
            var pi = proj[.., (64 * i)..(64 * (i + 1))];
            var ei = emb[row..(row + classes[i])];
            var cos = pi.matmul(ei.t()) / (pi.norm(1, keepdim: true) * ei.norm(1).unsqueeze(0));
            var logp = (cos / 0.1).log_softmax(1);
            var t = targets[.., ..24, i][mask];
            ce += -logp.gather(1, t.unsqueeze(1)).mean().item<double>();
        }
        var pred = h.matmul(p["cqt_head.fc.weight"].t()) + p["cqt_head.fc.bias"];
        var mse = (pred - cqt[.., ..24][mask]).pow(2).mean().item<double>();
        Assert.Equal(penalty.item<double>(), terms.FeaturePenalty.item<double>(), 10);
        Assert.Equal(mse, terms.CqtMse.item<double>(), 10);
        Assert.Equal(ce, terms.PerCodebook.sum().item<double>(), 10);
        Assert.Equal(ce + 10 * penalty.item<double>() + mse, terms.Total.item<double>(), 10);
    }

    [Theory]
    [InlineData("encoder.layers.1.feed_forward.output_dense.bias", 3, 1.0)]           // transformer: the true gradient
    [InlineData("feature_projection.projection.weight", 17, 1.0)]
    [InlineData("masked_spec_embed", 5, 1.0)]
    [InlineData("feature_extractor.conv_layers.6.conv.weight", 11, 0.1)]              // CNN: scaled by feature_grad_mult
    [InlineData("feature_extractor.conv_layers.0.layer_norm.weight", 2, 0.1)]
    public void Loss_Gradient_MatchesFiniteDifferences(string parameter, int element, double expectedRatio)
    {
        var (model, objective, audio, mask, targets, cqt) = Setup(ScalarType.Float64);
        var param = model.named_parameters().Single(kv => kv.name == parameter).parameter;
        using (var terms = objective.Loss(model, audio, mask, targets, cqt)) terms.Total.backward();
        var analytic = param.grad!.flatten()[element].item<double>();
        double LossAt(double delta)
        {
            using var _ = no_grad();
            var flat = param.view(-1);
            var old = flat[element].item<double>();
            flat[element] = old + delta;
            using var terms = objective.Loss(model, audio, mask, targets, cqt);
            var value = terms.Total.item<double>();
            flat[element] = old;
            return value;
        }
        const double h = 1e-6;
        var numeric = (LossAt(h) - LossAt(-h)) / (2 * h);                     // central difference, float64
        Assert.True(Math.Abs(numeric) > 1e-8, $"{parameter}[{element}]: the loss does not depend on it (d = {numeric:e2})");
        Assert.Equal(expectedRatio, analytic / numeric, 4);
    }
}
