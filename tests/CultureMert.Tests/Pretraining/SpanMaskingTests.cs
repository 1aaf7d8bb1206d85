using CultureMert.Pretraining;

namespace CultureMert.Tests.Pretraining;

public class SpanMaskingTests
{
    private static bool[] Row(TorchSharp.torch.Tensor m, int b) => m[b].data<bool>().ToArray();

    [Fact]
    public void EveryRowHasTheSameMaskedCount()
    {
        var m = SpanMasking.ComputeMaskIndices(6, 374, new Random(1));
        Assert.Equal(new long[] { 6, 374 }, m.shape);
        var counts = Enumerable.Range(0, 6).Select(b => Row(m, b).Count(x => x)).ToArray();
        Assert.All(counts, c => Assert.Equal(counts[0], c));
    }

    [Fact]
    public void MeanMaskedFractionIsAboutFiftyFivePercent()
    {
        // Expected ≈ 1 − (1 − 5/369)^(59.84) ≈ 0.56 before subsampling; subsampling to the row minimum lowers it a little.
        var rng = new Random(7);
        double total = 0; var draws = 200;
        for (var i = 0; i < draws; i++)
            total += SpanMasking.ComputeMaskIndices(4, 374, rng).to_type(TorchSharp.torch.ScalarType.Float64).mean().item<double>();
        var mean = total / draws;
        Assert.InRange(mean, 0.5, 0.6);
    }

    [Fact]
    public void RowsBeforeSubsamplingAreRunsOfAtLeastFive()
    {
        var rng = new Random(3);
        for (var i = 0; i < 100; i++)
        {
            var idx = SpanMasking.RowIndices(374, rng);
            var run = 1;
            for (var k = 1; k <= idx.Length; k++)
            {
                if (k < idx.Length && idx[k] == idx[k - 1] + 1) { run++; continue; }
                Assert.True(run >= 5, $"run of {run} ending at {idx[k - 1]}");
                run = 1;
            }
            Assert.True(idx.Max() < 374);
        }
    }

    [Fact]
    public void SpanCountFollowsTheFormula()
    {
        // T = 374: int(59.84 + u) ∈ {59, 60}, so the masked count before subsampling is at most 60·5 and at least 5 + 4·... (≥ one full span).
        var rng = new Random(11);
        for (var i = 0; i < 50; i++)
        {
            var n = SpanMasking.RowIndices(374, rng).Length;
            Assert.InRange(n, 5, 300);
        }
        // T = 10: int(1.6 + u) ∈ {1, 2} → 2 spans (min_masks); 10 − 5 = 5 > 2 so starts ∈ [0, 5): whole spans within 0..9.
        for (var i = 0; i < 50; i++)
        {
            var idx = SpanMasking.RowIndices(10, rng);
            Assert.InRange(idx.Length, 5, 10);
            Assert.True(idx.Min() >= 0 && idx.Max() <= 8);
        }
    }

    [Fact]
    public void SeededDrawsAreReproducible()
    {
        var a = SpanMasking.ComputeMaskIndices(3, 100, new Random(42));
        var b = SpanMasking.ComputeMaskIndices(3, 100, new Random(42));
        Assert.True(a.equal(b).all().item<bool>());
        var c = SpanMasking.ComputeMaskIndices(3, 100, new Random(43));
        Assert.False(a.equal(c).all().item<bool>());
    }

    [Fact]
    public void FramesShorterThanASpanFollowFairseq()
    {
        // T = 3: num_spans = max(2, int(0.48 + u)) = 2; 3 − 5 ≤ 2 → min_len = 3 − 2 − 1 = 0 → starts from [0, 3),
        // spans clipped at T. Two distinct starts in {0,1,2}: the smallest start ≤ 1, so frames min..2 are all masked.
        var rng = new Random(5);
        for (var i = 0; i < 50; i++)
        {
            var idx = SpanMasking.RowIndices(3, rng);
            Assert.True(idx.SequenceEqual(new[] { 0, 1, 2 }) || idx.SequenceEqual(new[] { 1, 2 }));
        }
        var m = SpanMasking.ComputeMaskIndices(2, 3, rng);
        Assert.Equal(new long[] { 2, 3 }, m.shape);
        // T = 6: int(0.96 + u) ≤ 1 → 2 spans; 6 − 5 = 1 ≤ 2 → starts from [0, 3): masked = min start .. 5.
        for (var i = 0; i < 50; i++)
        {
            var idx = SpanMasking.RowIndices(6, rng);
            Assert.Equal(5, idx.Max());
            Assert.Equal(6 - idx.Min(), idx.Length);
        }
    }
}
