using CultureMert.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Tests;

/// <summary>Paths to the golden data under tests/fixtures and helpers to compare against it.</summary>
public static class Fixtures
{
    public static string Dir(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", name);

    /// <summary>The repository: the folder above the test binaries that holds CultureMert.slnx.</summary>
    public static string RepoRoot { get; } = FindRoot();

    static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "CultureMert.slnx"))) return d.FullName;
        throw new DirectoryNotFoundException($"no CultureMert.slnx above {AppContext.BaseDirectory}");
    }

    public static Tensor Expected(string fixture, string tensor) => SafeTensors.LoadTensor(Path.Combine(Dir(fixture), "expected.safetensors"), tensor);

    /// <summary>Two safetensors files hold the same tensors byte for byte (same names, dtypes and shapes).</summary>
    public static void AssertSameTensors(string expectedFile, string actualFile)
    {
        var a = SafeTensors.Load(expectedFile);
        var b = SafeTensors.Load(actualFile);
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var (k, t) in a)
        {
            Assert.Equal(t.dtype, b[k].dtype);
            Assert.Equal(t.shape, b[k].shape);
            Assert.True(t.bytes.SequenceEqual(b[k].bytes), $"{actualFile}: {k} differs from {expectedFile}");
        }
    }

    public static double MaxAbsDiff(Tensor a, Tensor b)
    {
        Assert.Equal(b.shape, a.shape);
        return (a.to(ScalarType.Float64) - b.to(ScalarType.Float64)).abs().max().item<double>();
    }

    /// <summary>A fresh temporary folder, deleted by the caller's using.</summary>
    public sealed class TempDir : IDisposable
    {
        public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "cm-test-" + Guid.NewGuid().ToString("N")[..10]);
        public TempDir() => Directory.CreateDirectory(Path);
        public string this[string relative] => System.IO.Path.Combine(Path, relative);
        public void Dispose() { try { Directory.Delete(Path, true); } catch (IOException) { } }
    }
}

/// <summary>
/// Tests that measure process-wide state run alone: memory figures (parallel tests would allocate into them) and
/// captured console output (parallel tests would write into it).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessWideMeasurements
{
    public const string Name = "process-wide measurements";
}
