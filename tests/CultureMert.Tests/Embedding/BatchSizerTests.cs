using CultureMert.Embedding;
using CultureMert.IO;

namespace CultureMert.Tests.Embedding;

/// <summary>The batch-size choice from reported batch times (given, not measured: no timing in tests).</summary>
public class BatchSizerTests
{
    /// <summary>Runs the trial with a time per chunk for each size (seconds), as the embedder reports batches.</summary>
    static BatchSizer Trial(BatchSizer sizer, Func<int, double> perChunk)
    {
        for (var guard = 0; sizer.Chosen is null && guard < 100; guard++)
        {
            var n = sizer.Next;
            sizer.Record(n, n * perChunk(n));
        }
        return sizer;
    }

    [Theory]
    [InlineData(1.0, 0.8, 0.7, 4)]      // batching pays: the fastest per chunk
    [InlineData(1.0, 0.8, 0.9, 2)]
    [InlineData(1.0, 1.1, 1.3, 1)]      // batching costs (as on a Zen 4): batch 1
    [InlineData(1.0, 0.99, 0.98, 1)]    // under 3 % better than batch 1: not worth the memory, batch 1
    public void Trial_KeepsTheFastestPerChunk_NeverSlowerThanOne(double one, double two, double four, int expected)
    {
        var times = new Dictionary<int, double> { [1] = one, [2] = two, [4] = four };
        Assert.Equal(expected, Trial(new BatchSizer(null, null, "m", "k"), n => times[n]).Chosen);
    }

    [Fact]
    public void Trial_WarmUpAndPartialBatches_AreNotCounted()
    {
        var sizer = new BatchSizer(null, null, "m", "k");
        Assert.Equal(1, sizer.Next);
        Assert.Equal(4, sizer.Largest);
        sizer.Record(1, 50.0);                          // the first call: kernel set-up; ignored, else batch 1 would look slow
        sizer.Record(3, 0.1);                           // a file's last batch of 3 while 1 was asked: ignored
        var sizes = new List<int>();
        while (sizer.Chosen is null)
        {
            sizes.Add(sizer.Next);
            sizer.Record(sizer.Next, sizer.Next == 1 ? 1.0 : sizer.Next * 0.9);
        }
        Assert.Equal(new[] { 1, 2, 4, 1, 2, 4 }, sizes);   // interleaved, so a machine's drift hits every size alike
        Assert.Equal(2, sizer.Chosen);                      // 0.9 s per chunk at 2 and 4: the smaller of equals
    }

    [Fact]
    public void Trial_UnfinishedByOneJob_GoesOnInTheNext()
    {
        using var dir = new Fixtures.TempDir();
        var times = new Dictionary<int, double> { [1] = 1.0, [2] = 1.2, [4] = 0.5 };
        var first = new BatchSizer(null, new TuningCache(dir["embed.json"]), "m", "k");
        first.Record(1, 9.0);                                                          // warm-up
        for (var i = 0; i < 4; i++) first.Record(first.Next, first.Next * times[first.Next]);   // 1, 2, 4, 1: the job ends
        Assert.Null(first.Chosen);
        var second = new BatchSizer(null, new TuningCache(dir["embed.json"]), "m", "k");
        second.Record(1, 9.0);                                                         // its own warm-up
        var sizes = new List<int>();
        while (second.Chosen is null) { sizes.Add(second.Next); second.Record(second.Next, second.Next * times[second.Next]); }
        Assert.Equal(new[] { 2, 4 }, sizes);                                           // the rest of the trial only
        Assert.Equal(4, second.Chosen);
    }

    [Fact]
    public void GivenSize_IsUsedAsIs_AndNothingIsCached()
    {
        using var dir = new Fixtures.TempDir();
        var cache = new TuningCache(dir["embed.json"]);
        var sizer = new BatchSizer(3, cache, "m", "k");
        Assert.Equal(3, sizer.Next);
        Assert.Equal(3, sizer.Largest);
        sizer.Record(3, 1.0);
        Assert.Equal(3, sizer.Chosen);
        Assert.False(File.Exists(dir["embed.json"]));
    }

    [Fact]
    public void Choice_IsCached_ForTheSameMachineAndKeyOnly()
    {
        using var dir = new Fixtures.TempDir();
        var cache = new TuningCache(dir["embed.json"]);
        Trial(new BatchSizer(null, cache, "m", "k"), n => n == 2 ? 0.5 : 1.0);
        Assert.Equal(2, new BatchSizer(null, new TuningCache(dir["embed.json"]), "m", "k").Chosen);
        Assert.Null(new BatchSizer(null, cache, "m", "other model").Chosen);
        Assert.Null(new BatchSizer(null, cache, "other machine", "k").Chosen);
        Assert.Equal(1, new BatchSizer(1, cache, "m", "k").Chosen);                  // --batch-size wins over the cache
    }
}
