using CultureMert.Checkpoints;
using CultureMert.Cli;
using static TorchSharp.torch;

namespace CultureMert.Tests.Merging;

/// <summary>Tiny random models from `culturemert init`, edited into hand-made merge cases.</summary>
static class MergeFixtures
{
    /// <summary>The hand-made tensor: 16 entries, small dyadic values so that every expected number is exact in float32.</summary>
    public const string T = "encoder.pos_conv_embed.conv.weight_g";

    public static string WeightsOf(string dir) => Path.Combine(dir, "model.safetensors");

    /// <summary>`culturemert init --preset tiny --seed <paramref name="seed"/>`.</summary>
    public static string Init(Fixtures.TempDir tmp, string name, int seed)
    {
        Assert.Equal(0, CliApp.Run(["init", "--preset", "tiny", "--seed", seed.ToString(), "--out", tmp[name]]));
        return tmp[name];
    }

    /// <summary>A copy of <paramref name="from"/> (configs and weights) with some tensors replaced.</summary>
    public static string Edit(Fixtures.TempDir tmp, string name, string from, IReadOnlyDictionary<string, Tensor> replace, Func<string, bool>? drop = null)
    {
        var dir = tmp[name];
        Directory.CreateDirectory(dir);
        foreach (var f in new[] { "config.json", "preprocessor_config.json" }) System.IO.File.Copy(Path.Combine(from, f), Path.Combine(dir, f), true);
        var state = SafeTensors.Load(WeightsOf(from));
        foreach (var (k, v) in replace) state[k] = v;
        SafeTensors.Save(WeightsOf(dir), state.Where(kv => drop is null || !drop(kv.Key)), new Dictionary<string, string> { ["format"] = "pt" });
        return dir;
    }

    /// <summary>Every tensor of a folder's model.safetensors as float64.</summary>
    public static Dictionary<string, Tensor> Load64(string dir) => SafeTensors.Load(WeightsOf(dir)).ToDictionary(kv => kv.Key, kv => kv.Value.to(ScalarType.Float64));

    public static double[] Values(Tensor t) => t.to(ScalarType.Float64).flatten().data<double>().ToArray();

    public static Tensor F32(params double[] values) => tensor(values.Select(v => (float)v).ToArray()).reshape(1, 1, values.Length);

    /// <summary>Runs the CLI and captures standard error.</summary>
    public static (int Code, string Error) Run(params string[] args)
    {
        var saved = Console.Error;
        var err = new StringWriter();
        Console.SetError(err);
        try { return (CliApp.Run(args), err.ToString()); }
        finally { Console.SetError(saved); }
    }

    /// <summary>Tensors byte for byte equal (same dtype and shape).</summary>
    public static void AssertSameTensors(string expectedDir, string actualDir) => Fixtures.AssertSameTensors(WeightsOf(expectedDir), WeightsOf(actualDir));
}
