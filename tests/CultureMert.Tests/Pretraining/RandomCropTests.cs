using CultureMert.Pretraining;
using static TorchSharp.torch;

namespace CultureMert.Tests.Pretraining;

public class RandomCropTests
{
    [Theory]
    [InlineData(0, 0)]
    [InlineData(159, 0)]
    [InlineData(160, 0)]      // 0.5 → 0 (half to even, as Python's round)
    [InlineData(161, 1)]
    [InlineData(320, 1)]
    [InlineData(480, 2)]      // 1.5 → 2
    [InlineData(800, 2)]      // 2.5 → 2
    [InlineData(96000, 300)]  // 4 s
    [InlineData(24000, 75)]   // 1 s
    public void LabelOffsets(int start, int frame) => Assert.Equal(frame, RandomCrop.LabelOffset(start));

    [Fact]
    public void CropHoldsTheRightSamples()
    {
        using var wave = arange(0, 1000, ScalarType.Float32);
        var c = RandomCrop.CropAt(wave, 100, 640);
        Assert.Equal(2, c.LabelOffset);
        Assert.Equal(Enumerable.Range(640, 100).Select(i => (float)i).ToArray(), c.Audio.data<float>().ToArray());
    }

    [Fact]
    public void RandomCropsAreUniformAndConsistent()
    {
        using var wave = arange(0, 500, ScalarType.Float32);
        var rng = new Random(11);
        var starts = new HashSet<int>();
        for (var i = 0; i < 2000; i++)
        {
            var c = RandomCrop.Apply(wave, 490, rng);
            Assert.InRange(c.Start, 0, 10);
            Assert.Equal((float)c.Start, c.Audio[0].item<float>());
            Assert.Equal(490, c.Audio.shape[0]);
            Assert.Equal(0, c.PaddedSamples);
            starts.Add(c.Start);
        }
        Assert.Equal(11, starts.Count);   // all of 0..10 reached
    }

    [Fact]
    public void SeededCropsAreReproducible()
    {
        using var wave = randn(10000);
        Assert.Equal(RandomCrop.Apply(wave, 1000, new Random(4)).Start, RandomCrop.Apply(wave, 1000, new Random(4)).Start);
    }

    [Fact]
    public void ExactLengthGivesTheWholeInput()
    {
        using var wave = arange(0, 50, ScalarType.Float32);
        var c = RandomCrop.Apply(wave, 50, new Random(0));
        Assert.Equal(0, c.Start);
        Assert.Equal(wave.data<float>().ToArray(), c.Audio.data<float>().ToArray());
    }

    [Fact]
    public void ShortInputThrowsUnlessPadded()
    {
        using var wave = full(30, 2f);
        Assert.Throws<ArgumentException>(() => RandomCrop.Apply(wave, 50, new Random(0)));
        var c = RandomCrop.Apply(wave, 50, new Random(0), pad: true);
        Assert.Equal(0, c.Start);
        Assert.Equal(0, c.LabelOffset);
        Assert.Equal(20, c.PaddedSamples);
        var expected = Enumerable.Repeat(2f, 30).Concat(Enumerable.Repeat(0f, 20)).ToArray();
        Assert.Equal(expected, c.Audio.data<float>().ToArray());
    }

    [Fact]
    public void BadArgumentsThrow()
    {
        using var wave = zeros(100);
        Assert.Throws<ArgumentException>(() => RandomCrop.Apply(zeros(2, 100), 10, new Random(0)));
        Assert.Throws<ArgumentException>(() => RandomCrop.Apply(wave, 0, new Random(0)));
        Assert.Throws<ArgumentException>(() => RandomCrop.CropAt(wave, 10, 91));
        Assert.Throws<ArgumentOutOfRangeException>(() => RandomCrop.LabelOffset(-1));
    }
}
