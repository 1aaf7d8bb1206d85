using TorchSharp;
using CultureMert.Pretraining;
using static TorchSharp.torch;

namespace CultureMert.Tests.Pretraining;

public class MaskedPredictionTests
{
    [Fact]
    public void CosineLogitsOfKnownAngles()
    {
        // p at 0° and 90°; embeddings at 0°, 60°, 180° (with different lengths, which cosine ignores)
        var p = tensor(new double[] { 2, 0, 0, 3 }, 2, 2);
        var s3 = Math.Sqrt(3);
        var e = tensor(new double[] { 1, 0, 0.5 * 4, 0.5 * s3 * 4, -5, 0 }, 3, 2);
        var got = MaskedPrediction.CosineLogits(p, e, 0.1).data<double>().ToArray();
        var want = new[] { 10.0, 5.0, -10.0, 0.0, s3 / 2 * 10, 0.0 };
        for (var i = 0; i < 6; i++) Assert.Equal(want[i], got[i], 9);
    }

    [Fact]
    public void LossIsCrossEntropyOfMaskedFramesOnly()
    {
        // hidden 2, one codebook of 2 classes, final_dim 2; final_proj = identity, E = [[1,0],[0,1]].
        var head = new MaskedPrediction(2, new[] { 2 }, finalDim: 2); head.to(ScalarType.Float64);
        using (no_grad())
        {
            var sd = head.state_dict();
            sd["final_proj.weight"].copy_(eye(2, dtype: ScalarType.Float64));
            sd["final_proj.bias"].zero_();
            sd["label_embs_concat"].copy_(eye(2, dtype: ScalarType.Float64));
        }
        // frame 0: x = (1,0) → logits (10, 0), target 0: CE = log(1 + e^-10)
        // frame 1: x = (1,1) → logits (10/√2, 10/√2), target 1: CE = log 2
        // frame 2: unmasked, deliberately "wrong" — must not count.
        var x = tensor(new double[] { 1, 0, 1, 1, 0, 1 }, 1, 3, 2);
        var mask = tensor(new[] { true, true, false }, 1, 3);
        var targets = tensor(new long[] { 0, 1, 0 }, 1, 3, 1);
        var (per, sum, accuracy) = head.call(x, mask, targets);
        var want = (Math.Log(1 + Math.Exp(-10)) + Math.Log(2)) / 2;
        // accuracy: frame 0 right (10 > 0); frame 1 a tie, which argmax resolves to class 0 ≠ target 1; frame 2 not counted
        Assert.Equal(0.5, accuracy[0].item<float>(), 6);
        Assert.Equal(new long[] { 1 }, per.shape);
        Assert.Equal(want, per[0].item<double>(), 12);
        Assert.Equal(want, sum.item<double>(), 12);
    }

    [Fact]
    public void CodebooksUseTheirOwnChunksAndEmbeddingBlocks()
    {
        // 2 codebooks with 2 and 3 classes, final_dim 1 → final_proj (2, hidden 2); cos of 1-D vectors is ±1.
        var head = new MaskedPrediction(2, new[] { 2, 3 }, finalDim: 1); head.to(ScalarType.Float64);
        using (no_grad())
        {
            var sd = head.state_dict();
            sd["final_proj.weight"].copy_(eye(2, dtype: ScalarType.Float64));   // chunk 0 = x0, chunk 1 = x1
            sd["final_proj.bias"].zero_();
            sd["label_embs_concat"].copy_(tensor(new double[] { 1, -1, -1, 1, -1 }, 5, 1));
        }
        var x = tensor(new double[] { 1, -1 }, 1, 1, 2);
        var mask = tensor(new[] { true }, 1, 1);
        var targets = tensor(new long[] { 0, 2 }, 1, 1, 2);
        var (per, sum, _) = head.call(x, mask, targets);
        // codebook 0: p = +1, E = (1, −1) → logits (10, −10), target 0 → log(1 + e^-20)
        // codebook 1: p = −1, E = (−1, 1, −1) → logits (10, −10, 10), target 2 → log(2 + e^-20)
        var w0 = Math.Log(1 + Math.Exp(-20));
        var w1 = Math.Log(2 + Math.Exp(-20));
        Assert.Equal(w0, per[0].item<double>(), 12);
        Assert.Equal(w1, per[1].item<double>(), 12);
        Assert.Equal(w0 + w1, sum.item<double>(), 12);
    }

    [Fact]
    public void FreshHeadHasTheSpecShapes()
    {
        var head = new MaskedPrediction(768, Enumerable.Repeat(1028, 8).ToArray());
        var sd = head.state_dict();
        Assert.Equal(new long[] { 512, 768 }, sd["final_proj.weight"].shape);
        Assert.Equal(new long[] { 8224, 64 }, sd["label_embs_concat"].shape);
        Assert.InRange(sd["label_embs_concat"].min().item<float>(), 0f, 1f);
    }
}
