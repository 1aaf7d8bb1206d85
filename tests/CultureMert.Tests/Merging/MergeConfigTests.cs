using CultureMert.Checkpoints;
using CultureMert.Merging;
using static CultureMert.Tests.Merging.MergeFixtures;
using static TorchSharp.torch;

namespace CultureMert.Tests.Merging;

/// <summary>
/// The new methods through the streaming merge (each output tensor as the method's function gives it for that tensor),
/// and <c>merge --config</c>: a YAML file with mergekit's field names gives what the same flags give, bad files are
/// refused naming the file, key and line.
/// </summary>
public class MergeConfigTests
{
    const string Matrix = "encoder.layers.0.attention.q_proj.weight", Vector = "encoder.layers.0.attention.q_proj.bias";

    [Theory]
    [InlineData("model-stock", "--lambda", "1")]
    [InlineData("breadcrumbs", "--lambda", "0.7")]
    [InlineData("della", "--lambda", "0.7")]
    [InlineData("tsv", "--lambda", "0.5")]
    [InlineData("iso-c", "--lambda", "1.5")]
    [InlineData("slerp", "--t", "0.3")]
    public void Cli_EachMethod_WritesItsFunctionOfEveryTensor(string method, string scaleOption, string scale)
    {
        using var tmp = new Fixtures.TempDir();
        var b = Init(tmp, "base", 1);
        string[] models = method == "slerp" ? [Init(tmp, "a", 2)] : [Init(tmp, "a", 2), Init(tmp, "c", 3)];
        var (code, err) = Run(["merge", "--method", method, "--base", b, "--models", .. models, scaleOption, scale, "--density", "0.5", "--out", tmp["out"]]);
        Assert.True(code == 0, err);
        var (baseT, ms, merged) = (Load64(b), models.Select(Load64).ToList(), Load64(tmp["out"]));
        var o = new MergeOptions { Method = MergeMethods.Parse(method), Density = 0.5 };
        var l = double.Parse(scale, System.Globalization.CultureInfo.InvariantCulture);
        foreach (var name in new[] { Matrix, Vector })
        {
            using var scope = NewDisposeScope();
            var deltas = TaskVectors.Deltas(baseT[name], ms.Select(m => m[name]).ToList());
            var expected = method == "slerp" ? Slerp.Interpolate(baseT[name], deltas[0], l)
                                             : TaskVectors.Apply(baseT[name], MergeJob.Combine(deltas, [1.0, 1.0], o, name), l);
            Assert.True(merged[name].allclose(expected.to(ScalarType.Float32).to(ScalarType.Float64), rtol: 0, atol: 1e-6), $"{method}: {name}");
        }
    }

    [Fact]
    public void Config_MergekitFields_GiveWhatTheFlagsGive()
    {
        using var tmp = new Fixtures.TempDir();
        var (b, a, c) = (Init(tmp, "base", 1), Init(tmp, "a", 2), Init(tmp, "c", 3));
        File.WriteAllText(tmp["ties.yml"], """
            merge_method: ties
            base_model: base
            models:
              - model: base            # mergekit lists the base too: left out
              - model: a
                parameters: { weight: 1.0, density: 0.4 }
              - model: c
                parameters:
                  weight: 0.5
                  density: 0.4
            parameters:
              lambda: 0.3
            """);
        var (code, err) = Run("merge", "--config", tmp["ties.yml"], "--out", tmp["from-config"]);
        Assert.True(code == 0, err);
        (code, err) = Run("merge", "--method", "ties", "--base", b, "--models", a, c, "--weights", "1,0.5", "--density", "0.4", "--lambda", "0.3", "--out", tmp["from-flags"]);
        Assert.True(code == 0, err);
        AssertSameTensors(tmp["from-flags"], tmp["from-config"]);

        File.WriteAllText(tmp["slerp.yml"], "merge_method: slerp\nbase_model: base\nmodels:\n  - model: base\n  - model: a\nparameters:\n  t: 0.3\n");
        Assert.Equal(0, Run("merge", "--config", tmp["slerp.yml"], "--t", "0.3,0.6", "--out", tmp["slerp"]).Code);   // --t sweeps on top of a config
        Assert.Equal(0, Run("merge", "--method", "slerp", "--base", b, "--models", a, "--t", "0.6", "--out", tmp["slerp-flags"]).Code);
        AssertSameTensors(tmp["slerp-flags"], tmp["slerp/t-0.6"]);
    }

    [Theory]
    [InlineData("merge_method: ties\nbase_model: base\nmodels:\n  - model: a\nparameters:\n  lamda: 0.3\n", "parameters.lamda (line 6): not a setting here; expected one of parameters.lambda")]
    [InlineData("merge_method: ties\nbase_model: base\nmodels:\n  - model: a\nparameters:\n  density: [0.2, 0.5]\n", "parameters.density (line 6): a list (mergekit's gradient over layers) is not supported")]
    [InlineData("merge_method: ties\nbase_model: base\nmodels:\n  - model: a\nparameters:\n  density: high\n", "parameters.density (line 6): expected a number, found \"high\"")]
    [InlineData("merge_method: linear\nbase_model: base\nmodels:\n  - model: a\n", "merge_method: linear is not one of task_arithmetic, ties")]
    [InlineData("base_model: base\nmodels:\n  - model: a\n", "merge_method is missing")]
    [InlineData("merge_method: ties\nbase_model: base\nmodels:\n  - model: a\ndtype: bfloat16\n", "dtype (line 5): a merge keeps the base's dtype")]
    [InlineData("merge_method: ties\nbase_model: base\nmodels: a\n", "models: expected a list of {model: FOLDER} entries, found \"a\"")]
    [InlineData("merge_method: ties\nbase_model: base\nmodels:\n  - model: a\n    parameters: { density: 0.2 }\n  - model: c\n    parameters: { density: 0.5 }\n", "density differs between models (0.2, 0.5)")]
    [InlineData("merge_method: model_stock\nbase_model: base\nmodels:\n  - model: a\n", "models: model-stock needs at least two models")]
    [InlineData("merge_method: ties\nbase_model: base\nmodels:\n  - model: a\n  bad: [\n", "not valid YAML at line")]
    public void Config_Bad_RefusedNamingFileKeyAndLine(string yaml, string expected)
    {
        using var tmp = new Fixtures.TempDir();
        File.WriteAllText(tmp["m.yml"], yaml);
        var e = Assert.Throws<InvalidDataException>(() => MergeConfig.Load(tmp["m.yml"]));
        Assert.StartsWith(tmp["m.yml"] + ": ", e.Message);
        Assert.Contains(expected, e.Message);
        var (code, err) = Run("merge", "--config", tmp["m.yml"], "--out", tmp["out"]);
        Assert.Equal(3, code);
        Assert.Contains(expected, err);
    }

    [Fact]
    public void Config_WithMethodFlags_IsInvalidUsage()
    {
        using var tmp = new Fixtures.TempDir();
        File.WriteAllText(tmp["m.yml"], "merge_method: ties\nbase_model: base\nmodels:\n  - model: a\n");
        var (code, err) = Run("merge", "--config", tmp["m.yml"], "--density", "0.3", "--out", tmp["out"]);
        Assert.Equal(2, code);
        Assert.Contains("--density also given; the configuration file holds those", err);
        (code, err) = Run("merge", "--method", "ties", "--base", tmp["b"], "--models", tmp["a"], "--t", "0.3", "--out", tmp["out"]);
        Assert.Equal(2, code);
        Assert.Contains("--t: only slerp takes it", err);
    }
}
