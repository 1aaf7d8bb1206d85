using CultureMert.Pretraining;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Tests.Pretraining;

public class CqtAndPenaltyTests
{
    [Fact]
    public void CqtMseUsesMaskedFramesAndTruncatesTarget()
    {
        // hidden 2, 2 bins, fc = identity; 3 frames, frames 0 and 2 masked; target has 4 frames (last one dropped).
        var head = new CqtReconstruction(2, bins: 2);
        head.to(ScalarType.Float64);
        using (no_grad())
        {
            var sd = head.state_dict();
            sd["fc.weight"].copy_(eye(2, dtype: ScalarType.Float64));
            sd["fc.bias"].zero_();
        }
        var x = tensor(new double[] { 1, 2, 100, 100, 3, 4 }, 1, 3, 2);
        var mask = tensor(new[] { true, false, true }, 1, 3);
        var cqt = tensor(new double[] { 0, 2, 0, 0, 5, 4, 9, 9 }, 1, 4, 2);
        // errors: frame 0 (1, 0), frame 2 (−2, 0) → (1 + 0 + 4 + 0) / 4
        Assert.Equal(1.25, head.call(x, mask, cqt).item<double>(), 12);
    }

    [Fact]
    public void FreshCqtHeadHasSpecShape()
    {
        var sd = new CqtReconstruction(768).state_dict();
        Assert.Equal(new long[] { 336, 768 }, sd["fc.weight"].shape);
    }

    [Fact]
    public void PenaltyIsMeanOfSquares()
    {
        var f = tensor(new double[] { 1, -2, 3, 0, 0.5, -1 }, 1, 2, 3);
        // (1 + 4 + 9 + 0 + 0.25 + 1) / 6
        Assert.Equal(15.25 / 6, FeaturePenalty.Penalty(f).item<double>(), 12);
    }

    [Fact]
    public void ScaleGradientKeepsValueAndScalesGradient()
    {
        var x = tensor(new double[] { 1.5, -2, 3 }, requires_grad: true);
        var y = FeaturePenalty.ScaleGradient(x, 0.1);
        Assert.Equal(new[] { 1.5, -2, 3 }, y.data<double>().ToArray());
        (y * y).sum().backward();                 // d/dx of Σy² = 2y, scaled by 0.1
        var g = x.grad!.data<double>().ToArray();
        var want = new[] { 0.3, -0.4, 0.6 };
        for (var i = 0; i < 3; i++) Assert.Equal(want[i], g[i], 12);
    }
}
