using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static CultureMert.Scalars;

namespace CultureMert.Pretraining;

/// <summary>
/// HuBERT/MERT cosine-similarity token classifier on masked frames (fairseq MERTModel <c>final_proj</c>,
/// <c>label_embs_concat</c>, <c>compute_nce</c>; spec mert.md §4 step 6, §3 head table).
/// </summary>
/// <remarks>
/// fairseq scores [positive, all C embeddings] with the duplicate positive set to −inf and target 0; that equals softmax
/// cross-entropy over the C classes with target = label index, which is what we compute. Temperature fixed at 0.1.
/// </remarks>
public sealed class MaskedPrediction : nn.Module<Tensor, Tensor, Tensor, (Tensor PerCodebook, Tensor Sum, Tensor Accuracy)>
{
    private readonly Linear final_proj;                 // final_proj.*: (final_dim·n_codebooks, hidden)
    private readonly Parameter label_embs_concat;       // label_embs_concat: (Σ num_classes_i, final_dim)
    private readonly int[] numClasses;
    private readonly int finalDim;
    public double LogitTemp { get; }

    public MaskedPrediction(int hiddenSize, int[] numClasses, int finalDim = 64, double logitTemp = 0.1)
        : base(nameof(MaskedPrediction))
    {
        this.numClasses = (int[])numClasses.Clone();
        this.finalDim = finalDim;
        LogitTemp = logitTemp;
        final_proj = nn.Linear(hiddenSize, finalDim * numClasses.Length);   // PyTorch default init, as fairseq
        using (no_grad())
            label_embs_concat = new Parameter(empty(numClasses.Sum(), finalDim).uniform_(0, 1));   // fairseq uniform_(0, 1)
        RegisterComponents();
    }

    public int NumCodebooks => numClasses.Length;

    /// <summary>Cosine logits: cos(p_s, E_c) / temp. <paramref name="p"/> (S, D), <paramref name="embeddings"/> (C, D) → (S, C).</summary>
    public static Tensor CosineLogits(Tensor p, Tensor embeddings, double temp)
    {
        // torch.cosine_similarity: x·y / max(‖x‖·‖y‖, eps), eps = 1e-8; computed in fp32 or wider
        var dt = p.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var (pp, ee) = (p.to_type(dt), embeddings.to_type(dt));
        var dots = pp.matmul(ee.t());                                                      // (S, C)
        var norms = pp.norm(1, keepdim: true).matmul(ee.norm(1, keepdim: true).t());       // (S, C)
        return dots.div(norms.clamp_min(Of(1e-8))).div(Of(temp));                          // no Scalar temporary: see Scalars
    }

    /// <param name="x">final-layer output (batch, frames, hidden)</param>
    /// <param name="mask">bool (batch, frames), true = masked</param>
    /// <param name="targets">int64 (batch, frames, n_codebooks), class index per codebook</param>
    /// <returns>mean cross-entropy over masked frames per codebook (n_codebooks), their sum (scalar), and the fraction of
    /// masked frames whose highest logit is the target, per codebook (n_codebooks, no gradient)</returns>
    public override (Tensor PerCodebook, Tensor Sum, Tensor Accuracy) forward(Tensor x, Tensor mask, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var xm = x[mask];                                                      // (S, hidden), skip_nomask
        var tm = targets[mask];                                                // (S, n_codebooks)
        var p = final_proj.call(xm).split(finalDim, dim: 1);                   // n_codebooks × (S, final_dim)
        var e = label_embs_concat.split(numClasses.Select(c => (long)c).ToArray(), dim: 0);   // E_i (C_i, final_dim)
        var losses = new Tensor[numClasses.Length];
        var correct = new Tensor[numClasses.Length];
        for (var i = 0; i < numClasses.Length; i++)
        {
            var logits = CosineLogits(p[i], e[i], LogitTemp);                   // (S, C_i)
            losses[i] = nn.functional.cross_entropy(logits, tm[.., i]);        // mean over masked frames
            using (no_grad()) correct[i] = logits.argmax(1).eq(tm[.., i]).to_type(ScalarType.Float32).mean();
        }
        var per = stack(losses);                                               // (n_codebooks)
        return (per.MoveToOuterDisposeScope(), per.sum().MoveToOuterDisposeScope(), stack(correct).MoveToOuterDisposeScope());
    }
}
