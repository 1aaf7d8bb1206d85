namespace CultureMert.Cli.Commands;

/// <summary>What every command's exit code means (README, "Exit codes").</summary>
static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>Bad data: some file or input failed (the others were processed).</summary>
    public const int Failed = 1;
    /// <summary>Invalid options.</summary>
    public const int Usage = 2;
    /// <summary>A system package the feature needs is missing and could not be installed (sysexits EX_UNAVAILABLE).</summary>
    public const int MissingSystemPackages = 69;
    /// <summary>An internal error: a bug to report (sysexits EX_SOFTWARE).</summary>
    public const int Internal = 70;
    /// <summary>Stopped by Ctrl-C at a safe point (128 + SIGINT, as shells report it).</summary>
    public const int Interrupted = 130;
}
