using System.Text.Json.Nodes;
using CultureMert.Evaluation;

namespace CultureMert.Tests.Evaluation;

/// <summary>t intervals and TOST equivalence against SciPy (fixtures/statistics/statistics_golden.py).</summary>
public class StatisticsTests
{
    static JsonObject Golden() => JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.Dir("statistics"), "scipy-tost.json")))!.AsObject();

    [Fact]
    public void TQuantiles_MatchScipy_ForEveryDegreeOfFreedom()
    {
        foreach (var (dof, q) in Golden()["quantiles"]!.AsObject())
        {
            Assert.Equal(q!["t975"]!.GetValue<double>(), Summary.TQuantile975(int.Parse(dof)), 1e-7);     // Math.NET inverts the CDF to ~1e-8
            Assert.Equal(q["t95"]!.GetValue<double>(), Summary.TQuantile(0.95, int.Parse(dof)), 1e-7);
        }
    }

    [Fact]
    public void Tost_MatchesScipy_IntervalsPValueAndVerdict()
    {
        var cases = Golden()["cases"]!.AsArray();
        Assert.Contains(cases, c => c!["equivalent"]!.GetValue<bool>());
        Assert.Contains(cases, c => !c!["equivalent"]!.GetValue<bool>());
        foreach (var c in cases)
        {
            var x = c!["x"]!.AsArray().Select(v => v!.GetValue<double>()).ToArray();
            var e = Equivalence.Test(x, c["margin"]!.GetValue<double>());
            Assert.Equal(c["mean"]!.GetValue<double>(), e.Diff.Mean, 12);
            Assert.Equal(c["std"]!.GetValue<double>(), e.Diff.Std, 12);
            Assert.Equal(c["ci95_half_width"]!.GetValue<double>(), e.Diff.HalfWidth, 1e-7);
            Assert.Equal(c["ci90_low"]!.GetValue<double>(), e.Low90, 1e-7);
            Assert.Equal(c["ci90_high"]!.GetValue<double>(), e.High90, 1e-7);
            var p = c["tost_p"]!.GetValue<double>();
            Assert.True(Math.Abs(p - e.TostP) <= 1e-6 * p + 1e-12, $"TOST p {e.TostP} vs SciPy {p}");
            Assert.Equal(c["equivalent"]!.GetValue<bool>(), e.Verdict == Comparison.Equivalent);
        }
    }

    [Fact]
    public void Verdict_SeparatesDifferenceEquivalenceAndInconclusive()
    {
        Assert.Equal(Comparison.Higher, Equivalence.Test([2.5, 3.1, 1.9], 1.0).Verdict);          // 95 % CI above 0, not within ±1
        Assert.Equal(Comparison.Lower, Equivalence.Test([-2.5, -3.1, -1.9], 1.0).Verdict);
        Assert.Equal(Comparison.Inconclusive, Equivalence.Test([-0.5, 0.7, 2.9, -2.2], 1.0).Verdict);   // contains 0, too wide for ±1
        Assert.Equal(Comparison.Equivalent, Equivalence.Test([0.2, -0.3, 0.1, 0.4, -0.1], 1.0).Verdict);
        Assert.Equal(Comparison.NotMeasured, Equivalence.Test([0.1], 1.0).Verdict);
        Assert.Throws<ArgumentOutOfRangeException>(() => Equivalence.Test([0.1, 0.2], 0));
    }
}
