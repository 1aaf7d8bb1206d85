using System.Diagnostics;
using System.Text;

namespace CultureMert.Tests.Setup;

/// <summary>
/// The built native libraries load against a libstdc++ that lacks GLIBCXX_3.4.32 (Debian 12's own, 3.4.30): the CLI,
/// started with only that libstdc++ on LD_LIBRARY_PATH, writes a model and embeds a file, and the loader's own trace
/// shows that this libstdc++ is the one it used.
/// </summary>
public class NativeLibraryLoadTests
{
    /// <summary>A libstdc++.so.6 without GLIBCXX_3.4.32: ./test.sh's download of the release's own, or the system's.</summary>
    static string StockLibstdcxx()
    {
        string[] candidates =
        [
            Path.Combine(Environment.GetEnvironmentVariable("CULTUREMERT_STOCK_LIBSTDCXX") ?? "/nonexistent", "libstdc++.so.6"),
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6",
        ];
        return candidates.Where(File.Exists).FirstOrDefault(p => !Contains(File.ReadAllBytes(p), "GLIBCXX_3.4.32"))
            ?? throw new InvalidOperationException("no libstdc++.so.6 without GLIBCXX_3.4.32 found: ./test.sh downloads Debian 12's " +
                                                   "(apt-get download libstdc++6) when the system's is newer; set CULTUREMERT_STOCK_LIBSTDCXX to its folder.");
    }

    static bool Contains(byte[] haystack, string needle) => haystack.AsSpan().IndexOf(Encoding.ASCII.GetBytes(needle)) >= 0;

    [Fact]
    public void Cli_WithLibstdcxxLackingGlibcxx3432_InitsAndEmbeds()
    {
        using var dir = new Fixtures.TempDir();
        var lib = Directory.CreateDirectory(dir["lib"]).FullName;
        File.Copy(StockLibstdcxx(), Path.Combine(lib, "libstdc++.so.6"));
        var (code, output) = Cli(lib, "init", "--preset", "tiny", "--seed", "0", "--out", dir["model"]);
        Assert.True(code == 0, $"init failed ({code}):\n{output[^Math.Min(4000, output.Length)..]}");
        Assert.True(File.Exists(dir["model/model.safetensors"]));
        Assert.Contains($"calling init: {lib}/libstdc++.so.6", output);         // the loader used our copy, not another
        (code, output) = Cli(lib, "embed", "--model", dir["model"], "--out", dir["emb"], Path.Combine(Fixtures.Dir("mert-tiny"), "input.wav"));
        Assert.True(code == 0, $"embed failed ({code}):\n{output[^Math.Min(4000, output.Length)..]}");
        Assert.True(File.Exists(dir["emb/input.safetensors"]));
    }

    static (int Code, string Output) Cli(string libDir, params string[] args)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "CultureMert.Cli.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["LD_LIBRARY_PATH"] = libDir;
        start.Environment["LD_DEBUG"] = "libs";
        using var p = Process.Start(start)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout + stderr.Result);
    }
}
