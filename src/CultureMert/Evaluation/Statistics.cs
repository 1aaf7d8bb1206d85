using MathNet.Numerics.Distributions;

namespace CultureMert.Evaluation;

/// <summary>Mean, sample standard deviation (n − 1) and the half-width of a two-sided 95 % t confidence interval over n runs.</summary>
public sealed record Summary(double Mean, double Std, double HalfWidth, int N)
{
    /// <summary>Student's t quantile t(p, dof) (Math.NET's inverse CDF); NaN for dof &lt; 1.</summary>
    public static double TQuantile(double p, int dof) => dof < 1 ? double.NaN : StudentT.InvCDF(0, 1, dof, p);

    public static double TQuantile975(int dof) => TQuantile(0.975, dof);

    /// <summary>Summary of the finite values (NaN ones, e.g. an undefined AUC, are left out); std and CI are NaN for fewer than two.</summary>
    public static Summary Of(IEnumerable<double> values)
    {
        var v = values.Where(double.IsFinite).ToArray();
        if (v.Length == 0) return new Summary(double.NaN, double.NaN, double.NaN, 0);
        var mean = v.Average();
        if (v.Length == 1) return new Summary(mean, double.NaN, double.NaN, 1);
        var std = Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1));
        return new Summary(mean, std, TQuantile975(v.Length - 1) * std / Math.Sqrt(v.Length), v.Length);
    }

    /// <summary>Standard error of the mean, s / √n.</summary>
    public double StdError => Std / Math.Sqrt(N);
}

/// <summary>What a paired comparison of two models shows, at α = 0.05.</summary>
public enum Comparison
{
    /// <summary>Too few runs for an interval.</summary>
    NotMeasured,
    /// <summary>TOST: the 90 % interval lies inside (−margin, +margin), so any difference is smaller than the margin.</summary>
    Equivalent,
    /// <summary>The 95 % interval lies above 0 and the difference is not shown to be within the margin.</summary>
    Higher,
    /// <summary>The 95 % interval lies below 0 and the difference is not shown to be within the margin.</summary>
    Lower,
    /// <summary>Neither a difference from 0 nor equivalence within the margin: the runs cannot tell.</summary>
    Inconclusive,
}

/// <summary>
/// A mean difference over paired runs (e.g. per pre-training seed) tested two ways: a two-sided t test against 0, and
/// Schuirmann's two one-sided tests (TOST) against an equivalence margin fixed before the run. Equivalence at α = 0.05
/// is the 90 % t interval inside (−margin, +margin); an interval that merely contains 0 shows nothing.
/// </summary>
/// <param name="Margin">equivalence margin, same units as the differences</param>
/// <param name="TostP">max of the two one-sided p values (NaN below two runs)</param>
public sealed record Equivalence(Summary Diff, double Margin, double Low90, double High90, double TostP)
{
    public static Equivalence Test(IEnumerable<double> differences, double margin)
    {
        if (!(margin > 0)) throw new ArgumentOutOfRangeException(nameof(margin), margin, "the equivalence margin must be positive.");
        var d = Summary.Of(differences);
        if (d.N < 2 || !double.IsFinite(d.Std)) return new Equivalence(d, margin, double.NaN, double.NaN, double.NaN);
        var se = d.StdError;
        var t95 = Summary.TQuantile(0.95, d.N - 1);
        var p = se == 0 ? (Math.Abs(d.Mean) < margin ? 0 : 1)
                        : Math.Max(1 - StudentT.CDF(0, 1, d.N - 1, (d.Mean + margin) / se), StudentT.CDF(0, 1, d.N - 1, (d.Mean - margin) / se));
        return new Equivalence(d, margin, d.Mean - t95 * se, d.Mean + t95 * se, p);
    }

    public Comparison Verdict =>
        !double.IsFinite(TostP) ? Comparison.NotMeasured
        : TostP < 0.05 ? Comparison.Equivalent
        : Diff.Mean - Diff.HalfWidth > 0 ? Comparison.Higher
        : Diff.Mean + Diff.HalfWidth < 0 ? Comparison.Lower
        : Comparison.Inconclusive;
}
