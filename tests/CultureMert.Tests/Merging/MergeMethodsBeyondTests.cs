using System.Text.Json.Nodes;
using CultureMert.Merging;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Tests.Merging;

/// <summary>
/// SLERP, Model Stock, Breadcrumbs, DELLA, TSV-Merge and Iso-C against an independent numpy implementation of each
/// paper's equations (tests/fixtures/merging/merge_golden.py): a 12×9 matrix and a 7-vector, three related task
/// vectors, weights 1, 0.5, 2; DELLA with the script's random draws.
/// </summary>
public class MergeMethodsBeyondTests
{
    static readonly JsonNode Golden = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.Dir("merging"), "merge-methods.json")))!;
    static readonly double[] Weights = [1, 0.5, 2];

    static Tensor T(JsonNode? node) => node is JsonArray { Count: > 0 } a && a[0] is JsonArray
        ? stack(a.Select(T).ToArray())
        : tensor(node!.AsArray().Select(x => x!.GetValue<double>()).ToArray(), ScalarType.Float64);

    static Tensor Deltas(string key) => T(Golden[key]);                              // (3, ...)

    static void AssertClose(JsonNode? expected, Tensor actual, double tolerance = 1e-10)
    {
        using var e = T(expected);
        Assert.Equal(e.shape, actual.shape);
        var err = (e - actual).abs().max().item<double>() / Math.Max(1e-300, e.abs().max().item<double>());
        Assert.True(err < tolerance, $"relative error {err:e2}");
    }

    [Theory]
    [InlineData(0.3)]
    [InlineData(0.7)]
    public void Slerp_MatchesNumpy(double t)
    {
        using var scope = NewDisposeScope();
        AssertClose(Golden["slerp"]![t.ToString(System.Globalization.CultureInfo.InvariantCulture)]!["matrix"], Slerp.Interpolate(T(Golden["base"]), Deltas("taus")[0], t));
        AssertClose(Golden["slerp"]![t.ToString(System.Globalization.CultureInfo.InvariantCulture)]!["vector"], Slerp.Interpolate(T(Golden["vbase"]), Deltas("vtaus")[0], t));
    }

    [Fact]
    public void Slerp_EndsAreTheBaseAndTheModel_ParallelIsLinear()
    {
        using var scope = NewDisposeScope();
        var (b, d) = (T(Golden["base"]), Deltas("taus")[0]);
        Assert.True(Slerp.Interpolate(b, d, 0).allclose(b, rtol: 0, atol: 1e-12));
        Assert.True(Slerp.Interpolate(b, d, 1).allclose(b + d, rtol: 0, atol: 1e-12));
        Assert.True(Slerp.Interpolate(b, b * 0.5, 0.4).allclose(b * 1.2, rtol: 0, atol: 1e-12));   // same direction: lerp of norms
    }

    [Fact]
    public void ModelStock_MatchesNumpy()
    {
        using var scope = NewDisposeScope();
        AssertClose(Golden["model_stock"]!["matrix"], ModelStock.Combine(Deltas("taus")));
        AssertClose(Golden["model_stock"]!["vector"], ModelStock.Combine(Deltas("vtaus")));
    }

    [Fact]
    public void Breadcrumbs_MatchesNumpy()
    {
        using var scope = NewDisposeScope();
        var g = Golden["breadcrumbs"]!;
        var (density, gamma) = (g["density"]!.GetValue<double>(), g["gamma"]!.GetValue<double>());
        AssertClose(g["matrix"], Breadcrumbs.Combine(Deltas("taus"), Weights, density, gamma));
        AssertClose(g["vector"], Breadcrumbs.Combine(Deltas("vtaus"), Weights, density, gamma));
    }

    [Fact]
    public void Della_MagPruneAndMerge_MatchNumpy_GivenTheSameDraws()
    {
        using var scope = NewDisposeScope();
        var g = Golden["della"]!;
        var (density, epsilon) = (g["density"]!.GetValue<double>(), g["epsilon"]!.GetValue<double>());
        var (u, vu) = (T(g["uniforms"]), T(g["vuniforms"]));
        var pruned = Della.MagPrune(Deltas("taus"), density, epsilon, i => u[i]);
        AssertClose(g["pruned"], pruned);
        AssertClose(g["matrix"], Ties.Merge(pruned, Weights));
        AssertClose(g["vector"], Ties.Merge(Della.MagPrune(Deltas("vtaus"), density, epsilon, i => vu[i]), Weights));
    }

    [Fact]
    public void Della_KeepsAboutDensityOfTheEntries_LargerOnesMoreOften()
    {
        using var scope = NewDisposeScope();
        var d = randn(new long[] { 1, 200, 500 }, ScalarType.Float64, generator: new Generator(5));
        var kept = Della.Combine(d, [1], 0.3, 0.2, seed: 1, "w").ne(0).to(ScalarType.Float64);
        Assert.InRange(kept.mean().item<double>(), 0.29, 0.31);
        var big = d[0].abs().gt(1.5);                                                 // top ≈ 13% by magnitude: keep ≈ 0.38
        Assert.InRange(kept.masked_select(big).mean().item<double>(), 0.35, 0.41);
    }

    [Fact]
    public void Tsv_MatchesNumpy_VectorsFallBackToTaskArithmetic()
    {
        using var scope = NewDisposeScope();
        AssertClose(Golden["tsv"]!["matrix"], TaskSingularVectors.Combine(Deltas("taus"), Weights), 1e-9);
        Assert.True(TaskSingularVectors.Combine(Deltas("vtaus"), Weights).allclose(TaskArithmetic.Combine(Deltas("vtaus"), Weights), rtol: 0, atol: 0));
    }

    [Fact]
    public void IsoC_MatchesNumpy_FlatSpectrum_VectorsFallBackToTaskArithmetic()
    {
        using var scope = NewDisposeScope();
        var merged = IsotropicMerge.Combine(Deltas("taus"), Weights);
        AssertClose(Golden["iso_c"]!["matrix"], merged, 1e-9);
        var s = linalg.svdvals(merged);
        Assert.True((s.max() - s.min()).item<double>() < 1e-9 * s.max().item<double>());   // every direction equally scaled
        Assert.True(IsotropicMerge.Combine(Deltas("vtaus"), Weights).allclose(TaskArithmetic.Combine(Deltas("vtaus"), Weights), rtol: 0, atol: 0));
    }
}
