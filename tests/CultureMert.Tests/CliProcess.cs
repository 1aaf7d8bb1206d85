using System.Diagnostics;

namespace CultureMert.Tests;

/// <summary>The real <c>culturemert</c> program in a process of its own: exit codes, signals and kill -9 as a user meets them.</summary>
static class CliProcess
{
    /// <summary>Runs the CLI to its end (3 minutes at most); <paramref name="whileRunning"/> may signal or kill it.</summary>
    /// <param name="path">the child's PATH, when not this process's (dotnet is then started by its full path)</param>
    public static (int Code, string Output) Run(string[] args, Action<Process>? whileRunning = null, string? path = null)
    {
        // env --default-signal: SIGINT as a shell user's process has it, even when something in the test process left it
        // ignored (an ignored signal stays ignored across exec, and the signal test then saw embed run to its end).
        var dotnet = path is null ? "dotnet" : CultureMert.Setup.SystemPackages.Which("dotnet")!;
        var start = new ProcessStartInfo("env", ["--default-signal=INT", dotnet, typeof(CultureMert.Cli.CliApp).Assembly.Location, .. args])
            { RedirectStandardError = true, RedirectStandardOutput = true };
        if (path is not null) start.Environment["PATH"] = path;
        using var p = Process.Start(start)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEndAsync();
        whileRunning?.Invoke(p);
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(3)), "culturemert did not exit");
        return (p.ExitCode, err.Result + output.Result);
    }

    /// <summary>Waits (2 minutes at most) until <paramref name="ready"/> holds or the process ends; whether it still runs.</summary>
    public static bool WaitUntil(Process p, Func<bool> ready)
    {
        var clock = Stopwatch.StartNew();
        while (!p.HasExited && clock.Elapsed < TimeSpan.FromMinutes(2) && !ready()) Thread.Sleep(10);
        return !p.HasExited;
    }

    /// <summary>Sends a signal ("INT", "TERM", "KILL") as a shell user would.</summary>
    public static void Signal(Process p, string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", p.Id.ToString()]);
        kill.WaitForExit();
    }

    /// <summary>Files in <paramref name="dir"/> (recursively) matching <paramref name="pattern"/>, or none when it does not exist yet.</summary>
    public static int Count(string dir, string pattern) =>
        Directory.Exists(dir) ? Directory.EnumerateFiles(dir, pattern, SearchOption.AllDirectories).Count() : 0;

    /// <summary>Temporaries (files and folders) left anywhere under <paramref name="dir"/>.</summary>
    public static List<string> Temporaries(string dir) =>
        [.. Directory.EnumerateFileSystemEntries(dir, ".cmtmp.*", SearchOption.AllDirectories)];
}
