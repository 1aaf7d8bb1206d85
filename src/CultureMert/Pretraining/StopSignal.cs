using CultureMert.Distributed;

namespace CultureMert.Pretraining;

/// <summary>
/// A request to stop a run (Ctrl-C, SIGUSR1: a cancelled token). One process stops at the next step boundary. In a
/// data-parallel run rank 0 alone decides: it latches the request after a step, where it also checkpoints, and
/// broadcasts it before the next, so that every rank stops after the same step and a stop always follows a checkpoint.
/// </summary>
internal sealed class StopSignal(ICommunicator? world, CancellationToken cancel)
{
    readonly bool lead = world is null || world.Rank == 0;
    bool latched = cancel.IsCancellationRequested;                             // rank 0's decision, taken where it checkpoints
    bool stopped;

    /// <summary>Whether to stop before the next step. With a world, a collective: every rank calls it and gets rank 0's answer.</summary>
    public bool Requested()
    {
        if (world is null) return cancel.IsCancellationRequested;
        Span<float> flag = [lead && latched ? 1 : 0];
        world.Broadcast(flag, root: 0);
        return stopped = flag[0] != 0;
    }

    /// <summary>Rank 0, after a step: whether a stop is requested (then it writes a checkpoint before stopping).</summary>
    public bool Latch() => world is null ? cancel.IsCancellationRequested : latched = cancel.IsCancellationRequested;

    /// <summary>Whether the run stopped on request.</summary>
    public bool Interrupted => world is null ? cancel.IsCancellationRequested : stopped;
}
