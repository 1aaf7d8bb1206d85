namespace CultureMert.Merging;

/// <summary>The merge methods; each is spelled in <c>--method</c>, merge.json and reports as <see cref="MergeMethods.Name"/> gives.</summary>
public enum MergeMethod { TaskArithmetic, Ties, DareLinear, DareTies, Slerp, ModelStock, Breadcrumbs, Della, Tsv, IsoC }

/// <summary>
/// What each <see cref="MergeMethod"/> is called and which options it reads. Text is turned into a method once, by
/// <see cref="Parse"/>, where it enters (the CLI); everything after compares the enum.
/// </summary>
public static class MergeMethods
{
    /// <summary>The spellings (mergekit's), in <see cref="MergeMethod"/> order.</summary>
    public static readonly string[] Names = ["task-arithmetic", "ties", "dare-linear", "dare-ties", "slerp", "model-stock", "breadcrumbs", "della", "tsv", "iso-c"];

    /// <summary>mergekit's <c>merge_method</c> spellings of the same methods (a merge config may use either); TSV and Iso-C are not in mergekit.</summary>
    public static readonly string[] MergekitNames = ["task_arithmetic", "ties", "dare_linear", "dare_ties", "slerp", "model_stock", "breadcrumbs", "della", "tsv", "iso_c"];

    public static string Name(this MergeMethod method) => Names[(int)method];

    /// <summary>Parses one of <see cref="Names"/> (exact spelling).</summary>
    /// <exception cref="ArgumentException">any other text; the message lists the valid names</exception>
    public static MergeMethod Parse(string name) => Array.IndexOf(Names, name) is var i and >= 0
        ? (MergeMethod)i
        : throw new ArgumentException($"--method {name} is not one of {string.Join(", ", Names)}.");

    /// <summary>Parses a mergekit <c>merge_method</c> (or one of <see cref="Names"/>); null when it is neither.</summary>
    public static MergeMethod? TryParseMergekit(string name) =>
        Array.IndexOf(MergekitNames, name) is var i and >= 0 ? (MergeMethod)i : Array.IndexOf(Names, name) is var j and >= 0 ? (MergeMethod)j : null;

    /// <summary>TIES trimming, DARE dropping, Breadcrumbs' and DELLA's pruning keep a fraction of each task vector.</summary>
    public static bool UsesDensity(this MergeMethod method) =>
        method is MergeMethod.Ties or MergeMethod.DareLinear or MergeMethod.DareTies or MergeMethod.Breadcrumbs or MergeMethod.Della;

    /// <summary>DARE and DELLA draw random masks.</summary>
    public static bool UsesSeed(this MergeMethod method) => method is MergeMethod.DareLinear or MergeMethod.DareTies or MergeMethod.Della;

    /// <summary>SLERP and Model Stock take no per-model weights (SLERP has one model, Model Stock a plain average).</summary>
    public static bool UsesWeights(this MergeMethod method) => method is not (MergeMethod.Slerp or MergeMethod.ModelStock);

    /// <summary>The formula merge.json records.</summary>
    public static string Formula(this MergeMethod method) => method switch
    {
        MergeMethod.TaskArithmetic => "theta = theta_base + lambda * sum_i w_i (theta_i - theta_base)",
        MergeMethod.Ties => "theta = theta_base + lambda * disjoint_mean(elect_sign(trim(tau_i, density)))",
        MergeMethod.DareLinear => "theta = theta_base + lambda * sum_i w_i dare(tau_i, density)",
        MergeMethod.DareTies => "theta = theta_base + lambda * disjoint_mean(elect_sign(dare(tau_i, density)))",
        MergeMethod.Slerp => "theta = sin((1-t) omega)/sin(omega) theta_base + sin(t omega)/sin(omega) theta_1, cos(omega) = cosine(theta_base, theta_1), per tensor (lerp when |cos| > 0.9995)",
        MergeMethod.ModelStock => "theta = theta_base + lambda * r * mean_i tau_i, r = N cos / (1 + (N-1) cos), cos = mean pairwise cosine of tau_i, per tensor",
        MergeMethod.Breadcrumbs => "theta = theta_base + lambda * sum_i w_i mask(tau_i) (drop the top gamma fraction by magnitude, keep the next density fraction)",
        MergeMethod.Della => "theta = theta_base + lambda * disjoint_mean(elect_sign(magprune(tau_i, density, epsilon)))",
        MergeMethod.Tsv => "theta = theta_base + lambda * orth(U_cat) diag(S_cat) orth(V_cat)^T of each w_i tau_i's top r/T singular triplets, per matrix (else task arithmetic)",
        MergeMethod.IsoC => "theta = theta_base + lambda * mean(sigma) U V^T of sum_i w_i tau_i = U diag(sigma) V^T, per matrix (else task arithmetic)",
        _ => throw new ArgumentOutOfRangeException(nameof(method), method, null),
    };
}
