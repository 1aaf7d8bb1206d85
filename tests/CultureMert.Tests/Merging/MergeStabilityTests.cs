using CultureMert.Merging;
using static CultureMert.Tests.Merging.MergeFixtures;

namespace CultureMert.Tests.Merging;

/// <summary>
/// Repeated merges against the one-shot merge, for task arithmetic where each has a closed form: re-merging k times
/// gives λ(1 + λ + … + λ^(k−1))·Στ_i, and the fold merge(merge(A, B), C) gives λ(λ(τ_A + τ_B) + τ_C), computed here from
/// the weight files with plain arrays.
/// </summary>
public class MergeStabilityTests
{
    [Fact]
    public void TaskArithmetic_RemergeAndOrderings_MatchClosedForms()
    {
        using var tmp = new Fixtures.TempDir();
        var (b, a, c, d) = (Init(tmp, "base", 0), Init(tmp, "a", 1), Init(tmp, "c", 2), Init(tmp, "d", 3));
        const double lambda = 0.3;
        var rows = MergeStability.Run(b, [a, c, d], new MergeOptions { Lambdas = [lambda] }, rounds: 4);

        for (var k = 1; k <= 4; k++)
        {
            var scale = lambda * (1 - Math.Pow(lambda, k)) / (1 - lambda);              // λ + λ² + … + λ^k
            var row = Assert.Single(rows, r => r.Scenario == "remerge" && r.Step == k);
            Assert.Equal(Math.Abs(scale - lambda) / lambda, row.RelativeDistance, 9);
            Assert.Equal(1, row.Cosine, 9);
            Assert.Equal(scale, row.EffectiveLambda, 9);
        }

        // The fold a > c > d by hand: every floating-point entry of every tensor, flattened.
        var (tb, ta, tc, td) = (Load64(b), Load64(a), Load64(c), Load64(d));
        double dist = 0, dot = 0, norm = 0, star = 0;
        foreach (var name in tb.Keys.Where(n => tb[n].is_floating_point()))
        {
            var (x0, xa, xc, xd) = (Values(tb[name]), Values(ta[name]), Values(tc[name]), Values(td[name]));
            for (var i = 0; i < x0.Length; i++)
            {
                var (ua, uc, ud) = (xa[i] - x0[i], xc[i] - x0[i], xd[i] - x0[i]);
                var fold = lambda * (lambda * (ua + uc) + ud);
                var oneShot = lambda * (ua + uc + ud);
                (dist, dot, norm, star) = (dist + (fold - oneShot) * (fold - oneShot), dot + fold * oneShot, norm + fold * fold, star + oneShot * oneShot);
            }
        }
        var folded = Assert.Single(rows, r => r.Scenario == "order" && r.Sequence == "a>c>d" && r.Step == 2);
        Assert.Equal(Math.Sqrt(dist / star), folded.RelativeDistance, 9);
        Assert.Equal(dot / Math.Sqrt(norm * star), folded.Cosine, 9);
        Assert.Equal(lambda * dot / star, folded.EffectiveLambda, 9);
        Assert.Equal(6 * 2, rows.Count(r => r.Scenario == "order"));                   // 3! orderings × 2 steps
    }

    [Fact]
    public void Cli_WritesCsvAndPlot_RefusesSlerp()
    {
        using var tmp = new Fixtures.TempDir();
        var (b, a, c) = (Init(tmp, "base", 0), Init(tmp, "a", 1), Init(tmp, "c", 2));
        var (code, err) = Run("merge", "stability", "--base", b, "--models", a, c, "--method", "ties", "--lambda", "0.5", "--rounds", "3", "--out", tmp["st"]);
        Assert.True(code == 0, err);
        var table = CultureMert.IO.Csv.Read(tmp["st/stability.csv"]);
        Assert.Equal(2 + 3, table.Rows.Count);                                         // 2 orderings × 1 step, 3 rounds
        Assert.True(new FileInfo(tmp["st/stability.png"]).Length > 1000);
        (code, err) = Run("merge", "stability", "--base", b, "--models", a, c, "--method", "slerp", "--out", tmp["st2"]);
        Assert.Equal(2, code);
        Assert.Contains("slerp", err);
    }
}
