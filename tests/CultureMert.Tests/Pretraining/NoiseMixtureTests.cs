using CultureMert.Pretraining;
using static TorchSharp.torch;

namespace CultureMert.Tests.Pretraining;

public class NoiseMixtureTests
{
    private const int L = 30000;
    private static readonly float[] Levels = { 1f, 10f, 100f };

    private static Tensor ConstantBatch(int b = 3, int l = L) =>
        stack(Enumerable.Range(0, b).Select(i => full(l, Levels[i], ScalarType.Float32)).ToArray());

    /// <summary>Value of pool sample j for target example i, computed by hand: pool = other examples in batch order.</summary>
    private static float PoolValue(int i, int j, int b = 3, int l = L)
    {
        var others = Enumerable.Range(0, b).Where(k => k != i).ToArray();
        return Levels[others[j / l]];
    }

    [Fact]
    public void OutputChangesOnlyInsideRecordedSegmentsByTheSourceValues()
    {
        for (var seed = 0; seed < 10; seed++)
        {
            using var clean = ConstantBatch();
            var (mixed, log) = NoiseMixture.Apply(clean, new Random(seed));
            for (var i = 0; i < 3; i++)
            {
                var expected = Enumerable.Repeat(Levels[i], L).ToArray();
                foreach (var s in log.Segments[i])
                    for (var o = 0; o < s.Length; o++) expected[s.InsertAt + o] += PoolValue(i, s.PoolStart + o);
                Assert.Equal(expected, mixed[i].data<float>().ToArray());
            }
        }
    }

    [Fact]
    public void SegmentsAreInRangeAndNeverFromTheExampleItself()
    {
        var counts = new HashSet<int>();
        int mixedExamples = 0, total = 0;
        var rng = new Random(42);
        for (var r = 0; r < 100; r++)
        {
            using var clean = ConstantBatch();
            var (_, log) = NoiseMixture.Apply(clean, rng);
            for (var i = 0; i < 3; i++)
            {
                total++;
                var segs = log.Segments[i];
                if (segs.Count == 0) continue;
                mixedExamples++;
                counts.Add(segs.Count);
                Assert.InRange(segs.Count, 1, 3);
                foreach (var s in segs)
                {
                    Assert.NotEqual(i, s.SourceExample);
                    Assert.InRange(s.Length, 12000, 24000);
                    Assert.InRange(s.PoolStart, 0, 2 * L - s.Length);
                    Assert.InRange(s.InsertAt, 0, L - s.Length);
                    Assert.Equal(PoolValue(i, s.PoolStart), Levels[s.SourceExample]);
                }
            }
        }
        Assert.Equal(new HashSet<int> { 1, 2, 3 }, counts);
        Assert.InRange(mixedExamples / (double)total, 0.4, 0.6);  // mixed with probability 0.5
    }

    [Fact]
    public void LengthsAreClampedToShortExamples()
    {
        // L = 5000 < 12000: every segment is clamped to 5000 = the whole example; pool = 2 × 5000.
        using var clean = ConstantBatch(3, 5000);
        var (mixed, log) = NoiseMixture.Apply(clean, new Random(5), mixtureProb: 0.0);
        for (var i = 0; i < 3; i++)
        {
            Assert.NotEmpty(log.Segments[i]);
            var expected = Enumerable.Repeat(Levels[i], 5000).ToArray();
            foreach (var s in log.Segments[i])
            {
                Assert.Equal(5000, s.Length);
                Assert.Equal(0, s.InsertAt);
                for (var o = 0; o < 5000; o++) expected[o] += PoolValue(i, s.PoolStart + o, 3, 5000);
            }
            Assert.Equal(expected, mixed[i].data<float>().ToArray());
        }
    }

    [Fact]
    public void CleanInputIsNotModified()
    {
        using var clean = ConstantBatch();
        NoiseMixture.Apply(clean, new Random(1), mixtureProb: 0.0);
        for (var i = 0; i < 3; i++) Assert.All(clean[i].data<float>().ToArray(), v => Assert.Equal(Levels[i], v));
    }

    [Fact]
    public void SeededRunsAreReproducible()
    {
        using var clean = randn(3, L);
        var (a, la) = NoiseMixture.Apply(clean, new Random(9), mixtureProb: 0.0);
        var (b, lb) = NoiseMixture.Apply(clean, new Random(9), mixtureProb: 0.0);
        Assert.True(a.equal(b).all().item<bool>());
        for (var i = 0; i < 3; i++) Assert.Equal(la.Segments[i], lb.Segments[i]);
    }

    [Fact]
    public void MixtureProbOneLeavesEverythingClean()
    {
        using var clean = ConstantBatch();
        var (mixed, log) = NoiseMixture.Apply(clean, new Random(3), mixtureProb: 1.0);
        Assert.All(log.Segments, s => Assert.Empty(s));
        Assert.True(mixed.equal(clean).all().item<bool>());
    }

    [Fact]
    public void BatchOfOneIsUnchanged()
    {
        using var clean = full(1, L, 7f);
        var (mixed, log) = NoiseMixture.Apply(clean, new Random(0), mixtureProb: 0.0);
        Assert.Single(log.Segments);
        Assert.Empty(log.Segments[0]);
        Assert.True(mixed.equal(clean).all().item<bool>());
    }

    [Theory]
    [InlineData(0, 0, 0, 1)]       // target 0: pool = [1, 2]
    [InlineData(29999, 0, 0, 1)]
    [InlineData(30000, 0, 0, 2)]
    [InlineData(0, 1, 0, 0)]       // target 1: pool = [0, 2]
    [InlineData(30000, 1, 0, 2)]
    [InlineData(59999, 2, 0, 1)]   // target 2: pool = [0, 1]
    public void PoolIndexMapsToTheRightExample(int j, int self, int _, int expected) =>
        Assert.Equal(expected, NoiseMixture.PoolToExample(j, self, L));

    [Fact]
    public void BadInputsThrow()
    {
        Assert.Throws<ArgumentException>(() => NoiseMixture.Apply(zeros(10), new Random(0)));
        Assert.Throws<ArgumentException>(() => NoiseMixture.Apply(zeros(2, 10, ScalarType.Float64), new Random(0)));
        Assert.Throws<ArgumentException>(() => NoiseMixture.Apply(zeros(2, 10), new Random(0), mixtureProb: 1.5));
        Assert.Throws<ArgumentException>(() => NoiseMixture.Apply(zeros(2, 10), new Random(0), minLength: 5, maxLength: 4));
    }
}
