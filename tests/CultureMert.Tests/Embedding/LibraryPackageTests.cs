using System.Diagnostics;
using System.Globalization;
using CultureMert.Embedding;

namespace CultureMert.Tests.Embedding;

/// <summary>`dotnet pack` of the library, and docs/library's sample built from a copy against that package alone and run.
/// Alone: it edits NuGet's global packages folder and its builds load both cores.</summary>
[Collection(ProcessWideMeasurements.Name)]
public class LibraryPackageTests
{
    static (int Code, string Output) Dotnet(string workDir, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = workDir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var p = Process.Start(start)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout + stderr.Result);
    }

    /// <summary>Removes this package's version from NuGet's global packages folder (it holds nothing else of ours).</summary>
    static void ForgetCachedPackage()
    {
        var global = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p ? p
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var cached = Path.Combine(global, "culturemert", "0.1.0");
        if (Directory.Exists(cached)) Directory.Delete(cached, recursive: true);
    }

    [Fact]
    public void Pack_SampleBuildsAgainstThePackageAndPrintsWhatTheLibraryComputes()
    {
        using var tmp = new Fixtures.TempDir();
        var repo = Fixtures.RepoRoot;
        // --no-build: the library the tests were built with (building it again here would race with other tests)
        var (code, output) = Dotnet(repo, "pack", Path.Combine(repo, "src", "CultureMert"), "-c", "Release", "--no-build", "-o", tmp["feed"]);
        Assert.True(code == 0, output);
        Assert.True(File.Exists(tmp["feed/CultureMert.0.1.0.nupkg"]), output);

        Directory.CreateDirectory(tmp["sample"]);
        foreach (var f in new[] { "Program.cs", "Sample.csproj" }) File.Copy(Path.Combine(repo, "docs", "library", f), Path.Combine(tmp["sample"], f));
        Assert.True(File.ReadAllLines(tmp["sample/Program.cs"]).Length <= 20, "the sample stays a 20-line program");
        ForgetCachedPackage();                                                 // else restore takes an earlier run's copy of 0.1.0
        try
        {
            (code, output) = Dotnet(tmp["sample"], "build", "-c", "Release", "--source", tmp["feed"]);   // the package alone (its dependencies: the local NuGet cache)
            Assert.True(code == 0, output);
        }
        finally { ForgetCachedPackage(); }
        (code, output) = Dotnet(tmp["sample"], Path.Combine(tmp["sample"], "bin", "Release", "net10.0", "Sample.dll"), Fixtures.Dir("mert-tiny"));
        Assert.True(code == 0, output);

        // What the sample printed is what the library computes in this process on the same samples.
        const int rate = 44100, channels = 2;
        var samples = new float[rate * 10 * channels];
        for (var i = 0; i < samples.Length; i++) samples[i] = 0.3f * MathF.Sin(2 * MathF.PI * 440 * (i / channels) / rate);
        using var mert = MertEmbedder.Load(Fixtures.Dir("mert-tiny"), new EmbedOptions { ChunkSeconds = 5 });
        var e = mert.Embed(samples, rate, channels);
        var last = e.Layers[^1];
        Assert.Contains($"{e.ChunkCount} chunks, layers {string.Join(",", e.Layers)}, {e.Hidden} values each", output);
        Assert.Contains($"layer {last}, first values: {string.Join(", ", e.Layer(last)[..4].Select(v => v.ToString("0.0000", CultureInfo.InvariantCulture)))}", output);
    }
}
