namespace CultureMert.Evaluation;

/// <summary>Mean, sample standard deviation (n − 1) and the half-width of a two-sided 95 % t confidence interval over n runs.</summary>
public sealed record Summary(double Mean, double Std, double HalfWidth, int N)
{
    /// <summary>t(0.975, dof) for dof 1..29 (n ≤ 30); beyond, the normal quantile 1.96.</summary>
    static readonly double[] T975 =
    [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045,
    ];

    public static double TQuantile975(int dof) =>
        dof < 1 ? double.NaN : dof <= T975.Length ? T975[dof - 1] : 1.959964;

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
}
