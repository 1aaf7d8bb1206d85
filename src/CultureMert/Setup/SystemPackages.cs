using System.Diagnostics;

namespace CultureMert.Setup;

/// <summary>
/// A feature that needs programs or libraries from the operating system, and the Debian/Ubuntu packages that hold them.
/// </summary>
/// <param name="Name">the name <c>culturemert setup</c> takes</param>
/// <param name="Purpose">what needs them, for messages</param>
/// <param name="Packages">packages of the machine's own release, installed without recommends</param>
/// <param name="IsPresent">whether the feature can run now</param>
public sealed record SystemFeature(string Name, string Purpose, string[] Packages, Func<bool> IsPresent)
{
    /// <summary>The command a person runs to install what is missing.</summary>
    public string InstallCommand => $"sudo apt-get install --no-install-recommends {string.Join(' ', Packages)}";
}

/// <summary>
/// The feature needs packages that are missing and could not be installed here (not root, or no apt). Not an
/// InvalidOperationException: it must stop the feature, not be taken for one bad item of a batch.
/// </summary>
public sealed class MissingSystemPackagesException(SystemFeature feature, string why)
    : Exception($"{feature.Purpose} needs {string.Join(", ", feature.Packages)}, {why}. Install with:\n    {feature.InstallCommand}")
{
    public SystemFeature Feature { get; } = feature;
}

/// <summary>
/// Installs a feature's system packages the first time the feature is used, never before (not for --help, not for
/// other features): the machine's own release only, through its own apt sources, without recommends, and nothing else
/// (no foreign sources, pins or upgrades). Without root or apt it says exactly what to run and stops that feature alone.
/// </summary>
public static class SystemPackages
{
    public static readonly SystemFeature Render = new("render", "Rendering MIDI to audio (corpus build, demo)",
        ["fluidsynth", "fluid-soundfont-gm"], () => OnPath("fluidsynth") && File.Exists(SoundFontFile));

    public static readonly SystemFeature Flac = new("flac", "Decoding FLAC (and other libsndfile formats)",
        ["libsndfile1"], () => HasLibrary("libsndfile.so.1"));

    public static readonly SystemFeature Ffmpeg = new("ffmpeg", "Decoding MP4/M4A (AAC, ALAC), WMA, WebM and CAF audio",
        ["ffmpeg"], () => OnPath("ffmpeg") && OnPath("ffprobe"));

    public static readonly SystemFeature Plots = new("plots", "Text in PNG plots", ["fonts-dejavu-core"],
        () => FindFontFile() is not null);

    public static readonly SystemFeature Mpi = new("mpi", "Data-parallel pre-training under mpirun",
        ["openmpi-bin"], () => OnPath("mpirun") && HasLibrary("libmpi.so.40"));

    /// <summary>The General MIDI SoundFont that Debian's fluid-soundfont-gm installs.</summary>
    public const string SoundFontFile = "/usr/share/sounds/sf2/FluidR3_GM.sf2";

    private static readonly string[] FontCandidates =
    [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    ];

    /// <summary>The first DejaVu Sans or Liberation Sans file in the usual folders; null when there is none.</summary>
    public static string? FindFontFile()
    {
        var file = FontCandidates.FirstOrDefault(File.Exists);
        if (file is null && Directory.Exists("/usr/share/fonts"))
            file = Directory.EnumerateFiles("/usr/share/fonts", "*.ttf", SearchOption.AllDirectories)
                .Where(f => Path.GetFileName(f) is "DejaVuSans.ttf" or "LiberationSans-Regular.ttf")
                .Order(StringComparer.Ordinal).FirstOrDefault();
        return file;
    }

    /// <summary>Headless Chromium, which the tests use to render the HTML reports; no command of the toolkit needs it.</summary>
    public static readonly SystemFeature Browser = new("browser", "Rendering HTML reports in the tests (headless Chromium)",
        ["chromium"], () => OnPath("chromium"));

    /// <summary>Every feature of the toolkit (<c>culturemert setup all</c>).</summary>
    public static IReadOnlyList<SystemFeature> All { get; } = [Render, Flac, Ffmpeg, Plots, Mpi];

    /// <summary>What <c>culturemert setup</c> knows: the toolkit's features and what only the tests need.</summary>
    public static IReadOnlyList<SystemFeature> Known { get; } = [.. All, Browser];

    private static readonly object gate = new();
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> ready = new();   // checked once, not per file

    /// <summary>Returns when the feature can run; installs its packages first if it cannot and this process may.</summary>
    /// <exception cref="MissingSystemPackagesException">they are missing and could not be installed</exception>
    public static void Require(SystemFeature feature)
    {
        if (ready.ContainsKey(feature.Name)) return;
        lock (gate)                                            // one apt-get at a time; a parallel caller may have installed it
        {
            if (ready.ContainsKey(feature.Name)) return;
            if (feature.IsPresent()) { ready[feature.Name] = true; return; }
            if (!OnPath("apt-get")) throw new MissingSystemPackagesException(feature, "which are missing (this system has no apt-get: install their equivalents)");
            if (!IsRoot())
                throw new MissingSystemPackagesException(feature, "which are missing (installing them needs root)");
            Console.Error.WriteLine($"[setup] installing {string.Join(' ', feature.Packages)} ({feature.Purpose.ToLowerInvariant()})");
            var (ok, log) = AptInstall(feature.Packages);
            if (!ok) (ok, log) = AptUpdate() ? AptInstall(feature.Packages) : (false, log);   // package lists never fetched or stale
            if (!ok || !feature.IsPresent())
                throw new MissingSystemPackagesException(feature, $"and apt-get could not install them:\n{Tail(log)}\n");
            ready[feature.Name] = true;
        }
    }

    private static (bool Ok, string Log) AptInstall(string[] packages) =>
        Run("apt-get", ["-y", "-q", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=300", "install", .. packages]);

    private static bool AptUpdate() => Run("apt-get", ["-q", "-o", "DPkg::Lock::Timeout=300", "update"]).Ok;

    private static (bool Ok, string Log) Run(string program, string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        using var p = Process.Start(start)!;
        p.StandardInput.Close();
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode == 0, stdout + stderr.Result);
    }

    private static bool IsRoot() => File.Exists("/proc/self/status") &&
        File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("Uid:")) is { } uid && uid.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1] == "0";

    private static string Tail(string log) => string.Join('\n', log.Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(8));

    /// <summary>A program's path from PATH (then /usr/sbin, /sbin, which a non-root PATH may lack); null when absent.</summary>
    public static string? Which(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Append("/usr/sbin").Append("/sbin")
            .Select(dir => Path.Combine(dir, program)).FirstOrDefault(File.Exists);

    /// <summary>Whether a program is on PATH.</summary>
    public static bool OnPath(string program) => Which(program) is not null;

    /// <summary>Whether the dynamic loader can find a shared library by its soname.</summary>
    public static bool HasLibrary(string soname)
    {
        if (System.Runtime.InteropServices.NativeLibrary.TryLoad(soname, out var handle))
        {
            System.Runtime.InteropServices.NativeLibrary.Free(handle);
            return true;
        }
        return false;
    }
}
