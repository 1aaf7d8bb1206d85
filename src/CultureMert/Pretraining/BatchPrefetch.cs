using static TorchSharp.torch;

namespace CultureMert.Pretraining;

/// <summary>A micro-batch ready for the forward: crops with their targets, in-batch noise mixed in, the span mask.</summary>
/// <param name="Audio">(B, samples) the crops with noise mixed in (the batch's own audio when the recipe has no noise)</param>
/// <param name="Mask">bool (B, T) the frames to predict; padding never masked</param>
internal sealed record PreparedBatch(TrainingBatch Batch, Tensor Audio, Tensor Mask) : IDisposable
{
    public void Dispose()
    {
        if (!ReferenceEquals(Audio, Batch.Audio)) Audio.Dispose();
        Mask.Dispose();
        Batch.Dispose();
    }
}

/// <summary>
/// Prepares the next micro-batch on a worker thread while the model trains on this one (decoding, crops, teacher
/// targets, noise and mask), one ahead. Each micro-batch's draws come from its own generator seeded by (seed, step,
/// micro) and none touches libtorch's global generator, so a batch is the same whichever thread prepares it: results
/// are those of preparing each in turn, resume and data parallelism included. Only one micro-batch is ever being
/// prepared, so <see cref="PretrainData"/> is never drawn from by two threads at once.
/// </summary>
internal sealed class BatchPrefetch(Func<int, int, PreparedBatch> prepare) : IDisposable
{
    Task<PreparedBatch>? ahead;
    (int Step, int Micro) aheadOf;

    /// <summary>Micro-batch <paramref name="micro"/> of <paramref name="step"/> (prepared ahead if it was the one expected),
    /// and starts preparing <paramref name="next"/> (null: none, e.g. after the run's last step).</summary>
    /// <returns>the batch, which the caller disposes</returns>
    public PreparedBatch Take(int step, int micro, (int Step, int Micro)? next)
    {
        PreparedBatch batch;
        if (ahead is not null && aheadOf == (step, micro)) batch = ahead.GetAwaiter().GetResult();   // rethrows the worker's error
        else
        {
            Discard();
            batch = Detached(step, micro);
        }
        ahead = null;
        if (next is { } n)
        {
            aheadOf = n;
            ahead = Task.Factory.StartNew(() => Detached(n.Step, n.Micro), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        return batch;
    }

    /// <summary>Prepares a batch whose tensors belong to no dispose scope (a worker's scope is its own thread's), so the
    /// taker owns them; every temporary of the preparation dies in it.</summary>
    PreparedBatch Detached(int step, int micro)
    {
        using var scope = NewDisposeScope();
        var p = prepare(step, micro);
        foreach (var t in new[] { p.Audio, p.Mask, p.Batch.Audio, p.Batch.Codes, p.Batch.Cqt, p.Batch.Valid }) t.DetachFromDisposeScope();
        return p;
    }

    /// <summary>Waits for a batch prepared ahead that will not be used (the run stopped, or its plan changed) and frees it.</summary>
    void Discard()
    {
        if (ahead is null) return;
        try { ahead.GetAwaiter().GetResult().Dispose(); }
        catch (Exception) { }                                              // its error belongs to a batch nobody takes
        ahead = null;
    }

    public void Dispose() => Discard();
}
