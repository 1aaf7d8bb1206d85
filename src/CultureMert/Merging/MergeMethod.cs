namespace CultureMert.Merging;

/// <summary>The merge methods; each is spelled in <c>--method</c>, merge.json and reports as <see cref="MergeMethods.Name"/> gives.</summary>
public enum MergeMethod { TaskArithmetic, Ties, DareLinear, DareTies }

/// <summary>
/// What each <see cref="MergeMethod"/> is called and which options it reads. Text is turned into a method once, by
/// <see cref="Parse"/>, where it enters (the CLI); everything after compares the enum.
/// </summary>
public static class MergeMethods
{
    /// <summary>The spellings (mergekit's), in <see cref="MergeMethod"/> order.</summary>
    public static readonly string[] Names = ["task-arithmetic", "ties", "dare-linear", "dare-ties"];

    public static string Name(this MergeMethod method) => Names[(int)method];

    /// <summary>Parses one of <see cref="Names"/> (exact spelling).</summary>
    /// <exception cref="ArgumentException">any other text; the message lists the valid names</exception>
    public static MergeMethod Parse(string name) => Array.IndexOf(Names, name) is var i and >= 0
        ? (MergeMethod)i
        : throw new ArgumentException($"--method {name} is not one of {string.Join(", ", Names)}.");

    /// <summary>TIES trimming and DARE dropping keep a fraction of each task vector; task arithmetic keeps all of it.</summary>
    public static bool UsesDensity(this MergeMethod method) => method != MergeMethod.TaskArithmetic;

    /// <summary>Only DARE draws random masks.</summary>
    public static bool UsesSeed(this MergeMethod method) => method is MergeMethod.DareLinear or MergeMethod.DareTies;

    /// <summary>The formula merge.json records.</summary>
    public static string Formula(this MergeMethod method) => method switch
    {
        MergeMethod.TaskArithmetic => "theta = theta_base + lambda * sum_i w_i (theta_i - theta_base)",
        MergeMethod.Ties => "theta = theta_base + lambda * disjoint_mean(elect_sign(trim(tau_i, density)))",
        MergeMethod.DareLinear => "theta = theta_base + lambda * sum_i w_i dare(tau_i, density)",
        MergeMethod.DareTies => "theta = theta_base + lambda * disjoint_mean(elect_sign(dare(tau_i, density)))",
        _ => throw new ArgumentOutOfRangeException(nameof(method), method, null),
    };
}
