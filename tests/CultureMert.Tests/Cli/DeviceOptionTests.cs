using CultureMert.Tests.Merging;
using static TorchSharp.torch;

namespace CultureMert.Tests.Cli;

/// <summary>
/// <c>--device</c> on every command that computes with tensors: parsed before any work, a device this build cannot use is
/// one <c>error:</c> line, exit code 2 and nothing written; <c>--device cpu</c> is the default, bit for bit.
/// </summary>
[Collection(ProcessWideMeasurements.Name)]
public class DeviceOptionTests
{
    static string TinyRecipe => Path.Combine(AppContext.BaseDirectory, "recipes", "tiny-two-stage.json");
    static string InputWav => Path.Combine(Fixtures.Dir("mert-tiny"), "input.wav");

    /// <summary>A CUDA device this build or machine cannot use: <c>cuda</c> without a usable GPU (every CPU-only build), else one past the last GPU.</summary>
    static string UnusableCuda => cuda.is_available() ? $"cuda:{cuda.device_count()}" : "cuda";

    /// <summary>Each command with tensor work, its required options filled with placeholders (the device is checked first).</summary>
    static string[] CommandLine(string command, string outDir) => command switch
    {
        "embed" => ["embed", "--model", Fixtures.Dir("mert-tiny"), "--out", outDir, InputWav],
        "init" => ["init", "--preset", "tiny", "--out", outDir],
        "demo" => ["demo", "--quick", "--out", outDir],
        "tokenize" => ["tokenize", "--teacher", "encodec:" + Fixtures.Dir("encodec-tiny"), "--out", outDir, InputWav],
        "teacher fit-kmeans" => ["teacher", "fit-kmeans", "--out", Path.Combine(outDir, "k.safetensors"), InputWav],
        "pretrain" => ["pretrain", "--recipe", TinyRecipe, "--out", outDir],
        "merge" => ["merge", "--base", Fixtures.Dir("mert-tiny"), "--models", Fixtures.Dir("mert-tiny"), "--method", "task-arithmetic", "--out", outDir],
        "merge analyze" => ["merge", "analyze", "--base", Fixtures.Dir("mert-tiny"), "--models", Fixtures.Dir("mert-tiny"), "--out", outDir],
        "probe" => ["probe", "--embeddings", outDir, "--manifest", Path.Combine(outDir, "m.csv"), "--out", outDir],
        "evaluate" => ["evaluate", "--models", "m=" + Fixtures.Dir("mert-tiny"), "--tasks", Path.Combine(outDir, "t.csv"), "--out", outDir],
        _ => throw new ArgumentException(command),
    };

    public static TheoryData<string> TensorCommands =>
        ["embed", "init", "demo", "tokenize", "teacher fit-kmeans", "pretrain", "merge", "merge analyze", "probe", "evaluate"];

    [Theory]
    [MemberData(nameof(TensorCommands))]
    public void Device_Junk_IsRefusedByEveryTensorCommandBeforeAnyWork(string command)
    {
        using var dir = new Fixtures.TempDir();
        var (code, err) = MergeFixtures.Run([.. CommandLine(command, dir["out"]), "--device", "tpu:0"]);
        Assert.Equal(2, code);
        Assert.Contains("error: device \"tpu:0\": expected cpu, cuda or cuda:N", err);
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.Path));
    }

    [Theory]
    [InlineData("embed")]
    [InlineData("pretrain")]
    [InlineData("merge")]
    public void Device_CudaThisBuildCannotUse_ExitsTwoWithHowToGetItAndWritesNothing(string command)
    {
        using var dir = new Fixtures.TempDir();
        var spec = UnusableCuda;
        var expected = Assert.Throws<ArgumentException>(() => ComputeDevice.Parse(spec)).Message;
        var (code, err) = MergeFixtures.Run([.. CommandLine(command, dir["out"]), "--device", spec]);
        Assert.Equal(2, code);
        Assert.Equal($"error: {expected}", err.Trim());
        if (!cuda.is_available()) Assert.Contains("TorchBackend", err);
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.Path));
    }

    /// <summary>Commands without tensor work have no --device: the parser rejects it.</summary>
    [Theory]
    [InlineData("corpus", "build", "--out", "x")]
    [InlineData("tokens", "stats", "--codes", "x", "--labels", "x", "--out", "x")]
    [InlineData("metrics", "--truth", "x", "--scores", "x")]
    [InlineData("dataset", "prepare", "folder", "--root", "x", "--out", "x")]
    [InlineData("index", "merge", "--out", "x")]
    public void Device_OnCommandsWithoutTensorWork_IsNotAnOption(params string[] command)
    {
        var (code, err) = MergeFixtures.Run([.. command, "--device", "cpu"]);
        Assert.Equal(2, code);
        Assert.Contains("unknown option '--device'", err);
    }

    [Fact]
    public void Embed_DeviceCpu_WritesTheDefaultOutputByteForByte()
    {
        using var dir = new Fixtures.TempDir();
        Assert.Equal(0, MergeFixtures.Run("embed", "--model", Fixtures.Dir("mert-tiny"), "--out", dir["default"], InputWav).Code);
        Assert.Equal(0, MergeFixtures.Run("embed", "--model", Fixtures.Dir("mert-tiny"), "--out", dir["cpu"], "--device", "CPU", InputWav).Code);
        var (a, b) = (File.ReadAllBytes(dir["default/input.safetensors"]), File.ReadAllBytes(dir["cpu/input.safetensors"]));
        Assert.True(a.Length > 1000, $"{a.Length} bytes");
        Assert.Equal(a, b);
    }

    [Fact]
    public void Init_DeviceCpu_WritesTheDefaultWeightsByteForByte()
    {
        using var dir = new Fixtures.TempDir();
        Assert.Equal(0, MergeFixtures.Run("init", "--preset", "tiny", "--seed", "3", "--out", dir["default"]).Code);
        Assert.Equal(0, MergeFixtures.Run("init", "--preset", "tiny", "--seed", "3", "--out", dir["cpu"], "--device", "cpu").Code);
        MergeFixtures.AssertSameTensors(dir["default"], dir["cpu"]);
    }
}
