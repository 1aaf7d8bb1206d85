using System.Runtime.InteropServices;

namespace CultureMert.Cli.Commands;

/// <summary>
/// Ctrl-C and SIGTERM in the long commands: while their work runs, either signal cancels a <see cref="CancellationToken"/>
/// the work checks at safe points (a finished file, step or cell), instead of ending the process with half-written
/// outputs. SIGTERM is what schedulers send (Slurm at a time limit, Kubernetes at eviction), so it stops as Ctrl-C does
/// (the index is written, <c>pretrain</c> checkpoints) and exits 143 instead of 130.
/// </summary>
static class Cancellation
{
    static volatile bool terminated;

    /// <summary>The exit code of a stopped run: 143 after SIGTERM, 130 after Ctrl-C (128 + the signal, as shells report).</summary>
    public static int StoppedCode => terminated ? ExitCodes.Terminated : ExitCodes.Interrupted;

    /// <summary>Runs <paramref name="body"/> with Ctrl-C and SIGTERM cancelling its token; <paramref name="onCtrlC"/>, if
    /// given, is said on stderr when the signal arrives.</summary>
    public static T Run<T>(Func<CancellationToken, T> body, string? onCtrlC = null)
    {
        using var cancel = new CancellationTokenSource();
        void Stop(PosixSignalContext c)
        {
            c.Cancel = true;                                                      // keep the process: the work stops itself
            if (c.Signal == PosixSignal.SIGTERM) terminated = true;
            cancel.Cancel();
            if (onCtrlC is not null) Console.Error.WriteLine(onCtrlC);
        }
        using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        return body(cancel.Token);
    }

    /// <summary>
    /// <see cref="Run{T}"/> for a command whose work stops by throwing <see cref="OperationCanceledException"/>: that ends
    /// in <see cref="StoppedCode"/>, after <paramref name="onStopped"/> (if given) on stderr.
    /// </summary>
    public static int RunCommand(Func<CancellationToken, int> body, string? onCtrlC = null, string? onStopped = null)
    {
        try { return Run(body, onCtrlC); }
        catch (OperationCanceledException)
        {
            if (onStopped is not null) Console.Error.WriteLine(onStopped);
            return StoppedCode;
        }
    }
}
