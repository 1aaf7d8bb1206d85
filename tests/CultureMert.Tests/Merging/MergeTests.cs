using System.Text.Json.Nodes;
using CultureMert.Checkpoints;
using CultureMert.Merging;
using TorchSharp;
using static CultureMert.Tests.Merging.MergeFixtures;
using static TorchSharp.torch;

namespace CultureMert.Tests.Merging;

/// <summary>
/// Every method checked against numbers computed here with plain arithmetic: hand-made deltas on the 16-entry tensor
/// <see cref="MergeFixtures.T"/> (sign conflicts, an exact trimming threshold) and an independent reference over whole models.
/// </summary>
public class MergeTests
{
    // Base values of T: 0, 0.25, …, 3.75.
    static readonly double[] B = Enumerable.Range(0, 16).Select(i => i * 0.25).ToArray();
    // Three task vectors on T (density 0.25 keeps 4 of 16 per model):
    //  d1 keeps 4, -3, 2, 1 and drops 0.9375 (the exact threshold: 5th largest, just below the 4th);
    //  d2 keeps -2, -1, 3, 4 and drops -0.5;  d3 keeps all four of its non-zeros.
    static readonly double[] D1 = [4, -3, 2, 1, 0.9375, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    static readonly double[] D2 = [-2, -1, 3, -0.5, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    static readonly double[] D3 = [-4, 2, -1, 0, 0, 0, 0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    // TIES by hand: position 0: trimmed 4, -2, -4 sum to -2 → sign −, mean of -2, -4 = -3; position 1: -3, -1, 2 → −, mean -2;
    // position 2: 2, 3, -1 → +, 2.5; position 3: 1 (d2's -0.5 trimmed) → 1; position 4: d1's 0.9375 trimmed → 0; 5: 4; 6: 0.5.
    static readonly double[] TiesByHand = [-3, -2, 2.5, 1, 0, 4, 0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    sealed class Case : IDisposable
    {
        public readonly Fixtures.TempDir Tmp = new();
        public string Base = "";
        public string[] Models = [];
        public void Dispose() => Tmp.Dispose();
    }

    /// <summary>Base = init seed 0 with T = B; model i = init seed i+1 (random everywhere) with T = B + D_i.</summary>
    static Case HandMade(int models = 3)
    {
        var c = new Case();
        var seed0 = Init(c.Tmp, "seed0", 0);
        c.Base = Edit(c.Tmp, "base", seed0, new Dictionary<string, Tensor> { [T] = F32(B) });
        var deltas = new[] { D1, D2, D3 };
        c.Models = Enumerable.Range(0, models).Select(i =>
        {
            var raw = Init(c.Tmp, $"raw{i}", i + 1);
            return Edit(c.Tmp, $"m{i + 1}", raw, new Dictionary<string, Tensor> { [T] = F32(B.Zip(deltas[i], (b, d) => b + d).ToArray()) });
        }).ToArray();
        return c;
    }

    static string[] Merge(Case c, string method, string outName, params string[] extra) =>
        ["merge", "--base", c.Base, "--models", .. c.Models, "--method", method, "--out", c.Tmp[outName], .. extra];

    static double[] TOf(string dir) => Values(SafeTensors.Load(WeightsOf(dir))[T]);

    [Fact]
    public void TaskArithmetic_HandMade_IsBasePlusLambdaTimesSum()
    {
        using var c = HandMade();
        Assert.Equal(0, Run(Merge(c, "task-arithmetic", "out", "--lambda", "0.5")).Code);
        var expected = Enumerable.Range(0, 16).Select(j => B[j] + 0.5 * (D1[j] + D2[j] + D3[j])).ToArray();
        Assert.Equal(expected, TOf(c.Tmp["out"]));
        // Every other tensor: θ_base + λ Σ (θ_i − θ_base), summed here in plain float64.
        var b = Load64(c.Base);
        var ms = c.Models.Select(Load64).ToList();
        var merged = Load64(c.Tmp["out"]);
        foreach (var (k, bt) in b)
        {
            var sum = zeros_like(bt);
            foreach (var m in ms) sum += m[k] - bt;
            Assert.True(Fixtures.MaxAbsDiff(merged[k], (bt + 0.5 * sum).to(ScalarType.Float32)) < 1e-6, k);
        }
    }

    [Fact]
    public void TaskArithmetic_Weights_ReplaceLambda()
    {
        using var c = HandMade();
        Assert.Equal(0, Run(Merge(c, "task-arithmetic", "out", "--weights", "0.5,0.25,-1")).Code);
        var expected = Enumerable.Range(0, 16).Select(j => B[j] + 0.5 * D1[j] + 0.25 * D2[j] - D3[j]).ToArray();
        Assert.Equal(expected, TOf(c.Tmp["out"]));
        var json = JsonNode.Parse(System.IO.File.ReadAllText(Path.Combine(c.Tmp["out"], "merge.json")))!;
        Assert.Equal(1.0, json["lambda"]!.GetValue<double>());
        Assert.Equal([0.5, 0.25, -1.0], json["weights"]!.AsArray().Select(x => x!.GetValue<double>()));
    }

    [Fact]
    public void Ties_HandMade_TrimsAtExactThresholdElectsSignAndAveragesAgreeing()
    {
        using var c = HandMade();
        Assert.Equal(0, Run(Merge(c, "ties", "out", "--lambda", "0.5", "--density", "0.25")).Code);
        Assert.Equal(B.Zip(TiesByHand, (b, t) => b + 0.5 * t).ToArray(), TOf(c.Tmp["out"]));
    }

    /// <summary>TIES over a whole flattened tensor in plain doubles: top-k by magnitude, sum sign (+ on 0), mean of agreeing.</summary>
    static double[] ReferenceTies(double[][] deltas, double density)
    {
        var n = deltas[0].Length;
        var k = (int)Math.Floor(density * n + 1e-9);
        var trimmed = deltas.Select(d =>
        {
            var keep = d.Select((v, i) => (Math.Abs(v), i)).OrderByDescending(x => x.Item1).Take(k).Select(x => x.i).ToHashSet();
            return d.Select((v, i) => keep.Contains(i) ? v : 0).ToArray();
        }).ToArray();
        return Enumerable.Range(0, n).Select(j =>
        {
            var sign = trimmed.Sum(t => t[j]) >= 0 ? 1 : -1;
            var agree = trimmed.Select(t => t[j]).Where(v => Math.Sign(v) == sign).ToList();
            return agree.Count == 0 ? 0 : agree.Average();
        }).ToArray();
    }

    [Fact]
    public void Ties_WholeModel_MatchesPlainReference()
    {
        using var c = HandMade();
        Assert.Equal(0, Run(Merge(c, "ties", "out", "--lambda", "0.3", "--density", "0.2")).Code);
        var b = Load64(c.Base);
        var ms = c.Models.Select(Load64).ToList();
        var merged = Load64(c.Tmp["out"]);
        foreach (var (k, bt) in b)
        {
            var bv = Values(bt);
            var tau = ReferenceTies(ms.Select(m => Values(m[k]).Zip(bv, (x, y) => x - y).ToArray()).ToArray(), 0.2);
            var expected = bv.Zip(tau, (x, t) => (double)(float)(x + 0.3 * t)).ToArray();
            var actual = Values(merged[k]);
            for (var j = 0; j < expected.Length; j++) Assert.True(Math.Abs(expected[j] - actual[j]) < 1e-6, $"{k}[{j}]: {actual[j]} vs {expected[j]}");
        }
    }

    [Theory]
    [InlineData("task-arithmetic")]
    [InlineData("ties")]
    [InlineData("dare-linear")]
    [InlineData("dare-ties")]
    public void Merge_LambdaZero_ReturnsBase(string method)
    {
        using var c = HandMade();
        Assert.Equal(0, Run(Merge(c, method, "out", "--lambda", "0", "--density", "0.5")).Code);
        AssertSameTensors(c.Base, c.Tmp["out"]);
    }

    [Theory]
    [InlineData("task-arithmetic", "0.2")]
    [InlineData("ties", "1")]
    [InlineData("dare-linear", "1")]
    [InlineData("dare-ties", "1")]
    public void Merge_OneModelLambdaOne_ReturnsThatModel(string method, string density)
    {
        using var c = HandMade(models: 1);
        Assert.Equal(0, Run(Merge(c, method, "out", "--lambda", "1", "--density", density)).Code);
        AssertSameTensors(c.Models[0], c.Tmp["out"]);
    }

    [Fact]
    public void Dare_DensityOne_IsTaskArithmeticAndTies()
    {
        using var c = HandMade();
        Assert.Equal(0, Run(Merge(c, "task-arithmetic", "ta")).Code);
        Assert.Equal(0, Run(Merge(c, "dare-linear", "dl", "--density", "1", "--seed", "7")).Code);
        Assert.Equal(0, Run(Merge(c, "ties", "ti", "--density", "1")).Code);
        Assert.Equal(0, Run(Merge(c, "dare-ties", "dt", "--density", "1", "--seed", "7")).Code);
        AssertSameTensors(c.Tmp["ta"], c.Tmp["dl"]);
        AssertSameTensors(c.Tmp["ti"], c.Tmp["dt"]);
    }

    [Fact]
    public void Dare_SameSeed_Reproducible_DifferentSeed_Differs()
    {
        using var c = HandMade();
        Assert.Equal(0, Run(Merge(c, "dare-ties", "a", "--density", "0.3", "--seed", "5")).Code);
        Assert.Equal(0, Run(Merge(c, "dare-ties", "b", "--density", "0.3", "--seed", "5")).Code);
        Assert.Equal(0, Run(Merge(c, "dare-ties", "c", "--density", "0.3", "--seed", "6")).Code);
        AssertSameTensors(c.Tmp["a"], c.Tmp["b"]);
        Assert.NotEqual(System.IO.File.ReadAllBytes(WeightsOf(c.Tmp["a"])), System.IO.File.ReadAllBytes(WeightsOf(c.Tmp["c"])));
    }

    [Fact]
    public void Dare_Survivors_ScaledExactlyByInverseDensity_MaskFromSeedContract()
    {
        using var c = HandMade(models: 1);
        Assert.Equal(0, Run(Merge(c, "dare-linear", "out", "--lambda", "1", "--density", "0.5", "--seed", "11")).Code);
        var b = Load64(c.Base);
        var m = Load64(c.Models[0]);
        var merged = Load64(c.Tmp["out"]);
        long kept = 0, total = 0;
        foreach (var (k, bt) in b)
        {
            // The documented contract (model i: the i-th draw): rand(shape, float64, Generator(SeedFor(seed, name))) < density.
            using var g = new Generator(Dare.SeedFor(11, k));
            var keep = Values(rand(bt.shape, ScalarType.Float64, generator: g).lt(0.5).to(ScalarType.Float64));
            var (bv, mv, ov) = (Values(bt), Values(m[k]), Values(merged[k]));
            for (var j = 0; j < bv.Length; j++)
            {
                var expected = (double)(float)(bv[j] + keep[j] * (mv[j] - bv[j]) / 0.5);
                Assert.True(expected == ov[j], $"{k}[{j}]: {ov[j]}, expected {expected} (kept: {keep[j]})");
            }
            kept += (long)keep.Sum();
            total += bv.Length;
        }
        Assert.InRange((double)kept / total, 0.48, 0.52);
        // On the hand-made tensor, each entry is either the base or base + 2·delta.
        var t = TOf(c.Tmp["out"]);
        for (var j = 0; j < 16; j++) Assert.True(t[j] == B[j] || t[j] == B[j] + 2 * D1[j], $"T[{j}] = {t[j]}");
    }

    [Fact]
    public void Dare_SeedFor_DependsOnSeedAndNameOnly()
    {
        Assert.Equal(Dare.SeedFor(3, "a.weight"), Dare.SeedFor(3, "a.weight"));
        Assert.NotEqual(Dare.SeedFor(3, "a.weight"), Dare.SeedFor(4, "a.weight"));
        Assert.NotEqual(Dare.SeedFor(3, "a.weight"), Dare.SeedFor(3, "b.weight"));
    }

    [Fact]
    public void Merge_LambdaList_WritesOneFolderPerValue_EachEqualToSingleRun()
    {
        using var c = HandMade();
        Assert.Equal(0, Run(Merge(c, "ties", "sweep", "--lambda", "0.1,0.2,0.5", "--density", "0.25")).Code);
        Assert.Equal(0, Run(Merge(c, "ties", "single", "--lambda", "0.5", "--density", "0.25")).Code);
        foreach (var l in new[] { "0.1", "0.2", "0.5" })
        {
            var dir = Path.Combine(c.Tmp["sweep"], $"lambda-{l}");
            using var loaded = MertCheckpoint.Load(dir);                      // a loadable HF folder
            Assert.Equal(2, loaded.Model.NumLayers);
            var json = JsonNode.Parse(System.IO.File.ReadAllText(Path.Combine(dir, "merge.json")))!;
            Assert.Equal(double.Parse(l, System.Globalization.CultureInfo.InvariantCulture), json["lambda"]!.GetValue<double>());
        }
        AssertSameTensors(c.Tmp["single"], Path.Combine(c.Tmp["sweep"], "lambda-0.5"));
    }

    [Fact]
    public void Merge_Output_HasBaseConfigAndMergeJsonWithHashes()
    {
        using var c = HandMade(models: 2);
        Assert.Equal(0, Run(Merge(c, "dare-ties", "out", "--density", "0.4", "--seed", "3")).Code);
        var outDir = c.Tmp["out"];
        Assert.Equal(System.IO.File.ReadAllText(Path.Combine(c.Base, "config.json")), System.IO.File.ReadAllText(Path.Combine(outDir, "config.json")));
        Assert.Equal("pt", SafeTensors.ReadHeader(WeightsOf(outDir)).Metadata["format"]);
        var json = JsonNode.Parse(System.IO.File.ReadAllText(Path.Combine(outDir, "merge.json")))!;
        Assert.Equal("dare-ties", json["method"]!.GetValue<string>());
        Assert.Equal(0.2, json["lambda"]!.GetValue<double>());
        Assert.Equal(0.4, json["density"]!.GetValue<double>());
        Assert.Equal(3, json["seed"]!.GetValue<long>());
        Assert.Equal(MertCheckpoint.HashFiles([WeightsOf(c.Base)]), json["base"]!["sha256_16"]!.GetValue<string>());
        Assert.Equal(c.Models.Select(m => MertCheckpoint.HashFiles([WeightsOf(m)])), json["models"]!.AsArray().Select(x => x!["sha256_16"]!.GetValue<string>()));
        Assert.Equal(51, json["tensors"]!.GetValue<int>());
        Assert.Equal(System.IO.Directory.GetFiles(outDir).Select(Path.GetFileName).Order(),
                     new[] { "README.md", "config.json", "merge.json", "model.safetensors", "preprocessor_config.json" });
    }

    [Fact]
    public void Merge_NonFloatTensor_CopiedFromBase()
    {
        using var c = HandMade(models: 2);
        var steps = new[] { 7L, 8L, 9L };
        var dirs = new[] { c.Base }.Concat(c.Models).Select((d, i) =>
            Edit(c.Tmp, $"int{i}", d, new Dictionary<string, Tensor> { ["extra.step"] = tensor(new[] { steps[i] }) })).ToArray();
        var result = MergeJob.Run(dirs[0], dirs[1..], new MergeOptions { Method = MergeMethod.TaskArithmetic, Lambdas = [1] }, c.Tmp["out"]);
        Assert.Equal(1, result.CopiedTensors);
        Assert.Equal(7L, SafeTensors.LoadTensor(WeightsOf(c.Tmp["out"]), "extra.step").item<long>());
    }

    [Fact]
    public void Merge_MismatchedShapesMissingAndDtype_OneErrorListingAll_NothingWritten()
    {
        using var c = HandMade(models: 2);
        var bad1 = Edit(c.Tmp, "bad1", c.Models[0], new Dictionary<string, Tensor> { ["encoder.layer_norm.bias"] = zeros(63) });
        var bad2 = Edit(c.Tmp, "bad2", c.Models[1], new Dictionary<string, Tensor> { ["encoder.layer_norm.weight"] = ones(64, ScalarType.Float64) },
                        drop: n => n == "masked_spec_embed");
        var (code, err) = Run("merge", "--base", c.Base, "--models", bad1, bad2, "--method", "ties", "--out", c.Tmp["out"]);
        Assert.Equal(3, code);
        Assert.Contains("bad1/model.safetensors: encoder.layer_norm.bias has shape [63], the base has [64]", err);
        Assert.Contains("bad2/model.safetensors: missing tensor masked_spec_embed [64]", err);
        Assert.Contains("bad2/model.safetensors: encoder.layer_norm.weight has dtype F64, the base has F32", err);
        Assert.Contains("3 problems", err);
        Assert.False(System.IO.File.Exists(WeightsOf(c.Tmp["out"])));
    }

    [Theory]
    [InlineData("--weights", "1,2")]
    [InlineData("--density", "0")]
    [InlineData("--density", "1.5")]
    [InlineData("--lambda", "0.1,abc")]
    [InlineData("--lambda", "0.1,0.1")]
    public void Merge_BadOptions_ExitTwoWithClearMessage(string option, string value)
    {
        using var c = HandMade();
        var (code, err) = Run(Merge(c, "ties", "out", option, value));
        Assert.Equal(2, code);
        Assert.Contains(option, err);
        Assert.False(Directory.Exists(c.Tmp["out"]));
    }

    [Fact]
    public void Merge_UnknownMethod_RejectedByParser()
    {
        using var c = HandMade(models: 1);
        var (code, err) = Run("merge", "--base", c.Base, "--models", c.Models[0], "--method", "average", "--out", c.Tmp["out"]);
        Assert.NotEqual(0, code);
        Assert.Contains("average", err);
        Assert.False(Directory.Exists(c.Tmp["out"]));
    }

    [Fact]
    public void Merge_MissingModelFolder_ClearError()
    {
        using var c = HandMade(models: 1);
        var (code, err) = Run("merge", "--base", c.Base, "--models", c.Tmp["nope"], "--method", "ties", "--out", c.Tmp["out"]);
        Assert.Equal(3, code);
        Assert.Contains("nope: model folder not found", err);
    }

    [Fact]
    public void Ties_Trim_KeepsExactlyTopK()
    {
        using var d = tensor(new double[] { 1, -10, 3, 0.5, -2, 9, 0.25, 4, -8, 7 }).reshape(1, 10);
        using var t = Ties.Trim(d, 0.2);
        Assert.Equal(new double[] { 0, -10, 0, 0, 0, 9, 0, 0, 0, 0 }, Values(t));
        Assert.Equal(3, Ties.KeepCount(10, 0.3));                            // 0.3·10 = 2.9999… in binary
    }
}
