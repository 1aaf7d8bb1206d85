namespace CultureMert.Cli.Commands;

/// <summary>What every command's exit code means (README, "Exit codes"): one outcome per code, so a scheduler can act on
/// it — retry a fatal error, accept a run whose failed inputs are listed, never retry invalid usage.</summary>
static class ExitCodes
{
    /// <summary>Everything asked for is done.</summary>
    public const int Ok = 0;
    /// <summary>The run is done, but some inputs failed; they are listed on stderr and in the output's index.</summary>
    public const int InputsFailed = 1;
    /// <summary>Invalid usage: unknown or malformed options or arguments; nothing was done.</summary>
    public const int Usage = 2;
    /// <summary>Fatal: the work could not be done or finished — the model, teacher, recipe, an input the command needs
    /// whole, the output folder, or a system package is unusable (the message names it).</summary>
    public const int Fatal = 3;
    /// <summary>An internal error: a bug to report (sysexits EX_SOFTWARE).</summary>
    public const int Internal = 70;
    /// <summary>Stopped by Ctrl-C at a safe point (128 + SIGINT, as shells report it).</summary>
    public const int Interrupted = 130;
    /// <summary>Stopped by SIGTERM (a scheduler's time limit or eviction) at a safe point, as Ctrl-C stops (128 + SIGTERM).</summary>
    public const int Terminated = 143;
}
