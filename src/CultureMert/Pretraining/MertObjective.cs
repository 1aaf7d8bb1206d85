using CultureMert.Model;
using TorchSharp;
using static TorchSharp.torch;
using static CultureMert.Scalars;

namespace CultureMert.Pretraining;

/// <summary>The terms of one MERT pre-training loss (all scalars; per-codebook CE and masked accuracy are (n_codebooks)).</summary>
public sealed record ObjectiveTerms(Tensor Total, Tensor PerCodebook, Tensor FeaturePenalty, Tensor CqtMse, Tensor Accuracy) : IDisposable
{
    public void Dispose()
    {
        Total.Dispose();
        PerCodebook.Dispose();
        Accuracy.Dispose();
        FeaturePenalty.Dispose();
        CqtMse.Dispose();
    }
}

/// <summary>
/// MERT's pre-training loss (fairseq MERTModel forward + hubert criterion; spec mert.md §4 steps 3–9): CNN features with
/// their gradient scaled by 0.1 and penalised (mean of squares), projected, masked frames replaced by the mask
/// embedding, encoded; then per-codebook cosine-classifier cross-entropy and CQT reconstruction on the masked frames:
/// loss = Σ_i CE_i + 10 · features_pen + MSE_cqt (the per-masked-frame form of fairseq's sample-size-normalised sum).
/// In-batch noise mixing and LayerDrop/dropout belong to the training loop and the model's training mode.
/// </summary>
public sealed class MertObjective : nn.Module
{
    private readonly MaskedPrediction prediction;      // final_proj.*, label_embs_concat
    private readonly CqtReconstruction cqt_head;       // encoder_cqt_model.fc.*

    public const double FeatureGradMult = 0.1, FeaturePenaltyWeight = 10.0, CqtWeight = 1.0;

    public MertObjective(MertConfig config, int[] numClasses, int cqtBins = 336) : base(nameof(MertObjective))
    {
        prediction = new MaskedPrediction(config.HiddenSize, numClasses);
        cqt_head = new CqtReconstruction(config.HiddenSize, cqtBins);
        RegisterComponents();
    }

    /// <param name="model">the MERT encoder being trained</param>
    /// <param name="audio">(batch, samples) model input (after any noise mixing)</param>
    /// <param name="mask">bool (batch, T) frames to mask, T = the model's frame count for these samples</param>
    /// <param name="targets">int64 (batch, ≥ T, n_codebooks) token of each frame (clean audio)</param>
    /// <param name="cqt">(batch, ≥ T, bins) CQT magnitude of the clean audio</param>
    public ObjectiveTerms Loss(MertModel model, Tensor audio, Tensor mask, Tensor targets, Tensor cqt)
    {
        using var scope = NewDisposeScope();
        var features = FeaturePenalty.ScaleGradient(model.ExtractFeatures(audio), FeatureGradMult);   // (batch, conv_dim, T)
        var T = features.size(2);
        if (mask.size(1) != T) throw new ArgumentException($"mask has {mask.size(1)} frames, the model gives {T}.");
        if (targets.size(1) < T) throw new ArgumentException($"targets have {targets.size(1)} frames, fewer than the model's {T}.");
        var penalty = FeaturePenalty.Penalty(features);
        var x = model.Project(features.transpose(1, 2));                                            // (batch, T, hidden)
        var maskEmbedding = model.MaskEmbedding ?? throw new InvalidOperationException("the model has no mask embedding (masked_spec_embed).");
        x = where(mask.unsqueeze(-1), maskEmbedding.to_type(x.dtype), x);                             // masked frames → mask_emb
        var h = model.Encode(x)[^1];                                                                 // (batch, T, hidden)
        var (perCodebook, ce, accuracy) = prediction.call(h, mask, targets[.., ..(int)T]);
        var mse = cqt_head.call(h, mask, cqt);
        var total = ce.add(penalty.mul(Of(FeaturePenaltyWeight)), One).add(mse.mul(Of(CqtWeight)), One);   // no Scalar temporary: see Scalars
        return new ObjectiveTerms(total.MoveToOuterDisposeScope(), perCodebook.MoveToOuterDisposeScope(),
                                  penalty.MoveToOuterDisposeScope(), mse.MoveToOuterDisposeScope(), accuracy.MoveToOuterDisposeScope());
    }

    /// <summary>The heads' parameters under fairseq MERTModel's names (<c>final_proj.*</c>, <c>label_embs_concat</c>,
    /// <c>encoder_cqt_model.fc.*</c>), the names a heads file and the recipe's trainable globs use.</summary>
    public IEnumerable<(string Name, TorchSharp.Modules.Parameter Param)> NamedHeads() =>
        named_parameters().Select(kv => (HeadName(kv.name), kv.parameter));

    private static string HeadName(string name) =>
        name.StartsWith("prediction.") ? name["prediction.".Length..] :
        name.StartsWith("cqt_head.") ? "encoder_cqt_model." + name["cqt_head.".Length..] : name;
}
