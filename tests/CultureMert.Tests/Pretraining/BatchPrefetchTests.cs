using CultureMert.Pretraining;
using static TorchSharp.torch;

namespace CultureMert.Tests.Pretraining;

/// <summary>The prefetch worker: the batch taken is the one asked for, prepared ahead when expected and on the spot
/// otherwise; a worker's error reaches the taker of that batch; a batch nobody takes is freed.</summary>
public class BatchPrefetchTests
{
    /// <summary>A batch whose audio holds (step, micro), so that a test can tell which one it got.</summary>
    static PreparedBatch Fake(int step, int micro, List<(int, int, int)> log)
    {
        lock (log) log.Add((step, micro, Environment.CurrentManagedThreadId));
        var audio = tensor(new float[] { step, micro }).unsqueeze(0);                      // (1, 2)
        var batch = new TrainingBatch(audio, zeros(1, 1, 1, ScalarType.Int64), zeros(1, 1, 1), ones(1, 1, ScalarType.Bool),
                                      new Dictionary<string, double>(), []);
        return new PreparedBatch(batch, audio, ones(1, 1, ScalarType.Bool));
    }

    static (int, int) Read(PreparedBatch b) => ((int)b.Audio[0, 0].item<float>(), (int)b.Audio[0, 1].item<float>());

    [Fact]
    public void Take_ReturnsTheBatchAskedFor_PreparedAheadOnAnotherThread()
    {
        var log = new List<(int Step, int Micro, int Thread)>();
        using var prefetch = new BatchPrefetch((s, m) => Fake(s, m, log));
        (int, int)[] order = [(0, 0), (0, 1), (1, 0), (1, 1)];
        for (var i = 0; i < order.Length; i++)
        {
            using var b = prefetch.Take(order[i].Item1, order[i].Item2, i + 1 < order.Length ? order[i + 1] : null);
            Assert.Equal(order[i], Read(b));
            Assert.False(b.Audio.IsInvalid);                                                   // not freed by the worker's scope
        }
        Assert.Equal(order, log.Select(l => (l.Step, l.Micro)));                              // each prepared once, in order
        Assert.All(log.Skip(1), l => Assert.NotEqual(Environment.CurrentManagedThreadId, l.Thread));
    }

    [Fact]
    public void Take_OfAnUnexpectedBatch_DiscardsTheOneAheadAndPreparesTheOneAskedFor()
    {
        var log = new List<(int Step, int Micro, int Thread)>();
        using var prefetch = new BatchPrefetch((s, m) => Fake(s, m, log));
        using (prefetch.Take(0, 0, (1, 0))) { }
        using var b = prefetch.Take(5, 0, null);                                              // e.g. a resume elsewhere
        Assert.Equal((5, 0), Read(b));
        Assert.Equal([(0, 0), (1, 0), (5, 0)], log.Select(l => (l.Step, l.Micro)));
    }

    [Fact]
    public void WorkersError_ReachesTheTakerOfThatBatch()
    {
        var log = new List<(int, int, int)>();
        using var prefetch = new BatchPrefetch((s, m) => s == 1 ? throw new InvalidDataException("bad.wav: cut short") : Fake(s, m, log));
        using (prefetch.Take(0, 0, (1, 0))) { }
        var e = Assert.Throws<InvalidDataException>(() => prefetch.Take(1, 0, null));
        Assert.Contains("bad.wav", e.Message);
    }
}
