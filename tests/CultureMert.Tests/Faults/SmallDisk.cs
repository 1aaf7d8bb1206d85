using System.Diagnostics;

namespace CultureMert.Tests.Faults;

/// <summary>
/// A small file system of its own (a tmpfs of a given size), to fill up for real: mounting needs root (or CAP_SYS_ADMIN),
/// so where it cannot be had, <see cref="SkipReason"/> says why and the tests that need one are skipped.
/// </summary>
sealed class SmallDisk : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "cm-disk-" + Guid.NewGuid().ToString("N")[..10]);
    public string? SkipReason { get; }
    bool mounted;

    public SmallDisk(string size)
    {
        Directory.CreateDirectory(Path);
        if (Environment.UserName != "root")
            SkipReason = $"a full disk is simulated with a {size} tmpfs, which only root can mount (running as {Environment.UserName})";
        else if (Mount(["-t", "tmpfs", "-o", $"size={size}", "tmpfs", Path]) is { } error)
            SkipReason = $"cannot mount a {size} tmpfs (a container without CAP_SYS_ADMIN?): {error}";
        else mounted = true;
    }

    public string this[string relative] => System.IO.Path.Combine(Path, relative);

    /// <summary>Makes room, as a user would who freed space after the error: the same files, a larger file system.</summary>
    public void Grow(string size) => Assert.Null(Mount(["-o", $"remount,size={size}", Path]));

    static string? Mount(string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo("mount", args) { RedirectStandardError = true })!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return p.ExitCode == 0 ? null : err.Trim();
    }

    public void Dispose()
    {
        if (mounted)
            using (var p = Process.Start("umount", ["-l", Path])) p.WaitForExit();
        try { Directory.Delete(Path, true); } catch (IOException) { }
    }
}
