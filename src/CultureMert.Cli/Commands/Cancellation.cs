namespace CultureMert.Cli.Commands;

/// <summary>
/// Ctrl-C in the long commands: while their work runs, the key press cancels a <see cref="CancellationToken"/> the work
/// checks at safe points (a finished file, step or cell), instead of ending the process with half-written outputs.
/// </summary>
static class Cancellation
{
    /// <summary>Runs <paramref name="body"/> with Ctrl-C cancelling its token; <paramref name="onCtrlC"/>, if given, is said on stderr at the key press.</summary>
    public static T Run<T>(Func<CancellationToken, T> body, string? onCtrlC = null)
    {
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;                                                      // keep the process: the work stops itself
            cancel.Cancel();
            if (onCtrlC is not null) Console.Error.WriteLine(onCtrlC);
        };
        Console.CancelKeyPress += onCancel;
        try { return body(cancel.Token); }
        finally { Console.CancelKeyPress -= onCancel; }
    }

    /// <summary>
    /// <see cref="Run{T}"/> for a command whose work stops by throwing <see cref="OperationCanceledException"/>: that ends
    /// in <see cref="ExitCodes.Interrupted"/>, after <paramref name="onStopped"/> (if given) on stderr.
    /// </summary>
    public static int RunCommand(Func<CancellationToken, int> body, string? onCtrlC = null, string? onStopped = null)
    {
        try { return Run(body, onCtrlC); }
        catch (OperationCanceledException)
        {
            if (onStopped is not null) Console.Error.WriteLine(onStopped);
            return ExitCodes.Interrupted;
        }
    }
}
