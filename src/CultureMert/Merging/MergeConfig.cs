using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace CultureMert.Merging;

/// <summary>
/// A merge written down to share: YAML with mergekit's field names where they apply, read by <c>merge --config</c>.
/// <code>
/// merge_method: ties            # mergekit's spelling (dare_ties, model_stock, ...) or ours (dare-ties, iso-c, ...)
/// base_model: mert-v1-95m       # folders relative to this file
/// models:
///   - model: lyra
///     parameters: { weight: 1.0, density: 0.2 }
///   - model: makam
/// parameters: { lambda: 0.2, density: 0.2, gamma: 0.01, epsilon: 0.1, t: 0.3, seed: 0 }
/// </code>
/// A model equal to <c>base_model</c> is left out (mergekit lists it among the models). Parameters are single numbers:
/// mergekit's lists are gradients over layers, which we do not do, and are refused rather than read as something else.
/// </summary>
public sealed record MergeConfig(string BaseModel, string[] Models, MergeOptions Options)
{
    static readonly string[] TopKeys = ["merge_method", "base_model", "models", "parameters", "dtype"];
    static readonly string[] ModelKeys = ["model", "parameters"];
    static readonly string[] ModelParameters = ["weight", "density"];
    static readonly string[] Parameters = ["lambda", "density", "gamma", "epsilon", "t", "seed"];

    public static MergeConfig Load(string path)
    {
        YamlMappingNode root;
        try
        {
            var stream = new YamlStream();
            using (var reader = new StreamReader(path)) stream.Load(reader);
            root = stream.Documents is [{ RootNode: YamlMappingNode m }] ? m : throw new InvalidDataException($"{path}: expected one YAML mapping (merge_method, base_model, models, parameters).");
        }
        catch (YamlException e) { throw new InvalidDataException($"{path}: not valid YAML at line {e.Start.Line}: {e.Message}", e); }

        var keys = Keys(root, path, "", TopKeys);
        if (keys.TryGetValue("dtype", out var dtype))
            throw new InvalidDataException($"{path}: dtype (line {dtype.Start.Line}): a merge keeps the base's dtype; remove this key (convert the base first to merge in another).");
        var methodName = Scalar(keys, "merge_method", path) ?? throw new InvalidDataException($"{path}: merge_method is missing.");
        var method = MergeMethods.TryParseMergekit(methodName)
            ?? throw new InvalidDataException($"{path}: merge_method: {methodName} is not one of {string.Join(", ", MergeMethods.MergekitNames)}.");
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var baseModel = Path.GetFullPath(Path.Combine(folder, Scalar(keys, "base_model", path) ?? throw new InvalidDataException($"{path}: base_model is missing.")));

        var models = new List<(string Dir, double? Weight, double? Density)>();
        if (!keys.TryGetValue("models", out var list) || list is not YamlSequenceNode seq)
            throw new InvalidDataException($"{path}: models: expected a list of {{model: FOLDER}} entries{Found(list)}.");
        foreach (var (entry, i) in seq.Children.Select((e, i) => (e, i)))
        {
            var at = $"models[{i}]";
            if (entry is not YamlMappingNode m) throw new InvalidDataException($"{path}: {at}: expected a mapping with model:{Found(entry)}.");
            var e = Keys(m, path, at + ".", ModelKeys);
            var dir = Path.GetFullPath(Path.Combine(folder, Scalar(e, "model", path, at + ".") ?? throw new InvalidDataException($"{path}: {at}.model is missing.")));
            var p = e.TryGetValue("parameters", out var pn) ? Keys(Mapping(pn, path, at + ".parameters"), path, at + ".parameters.", ModelParameters) : [];
            if (dir.TrimEnd('/') == baseModel.TrimEnd('/')) continue;
            models.Add((dir, Number(p, "weight", path, at + ".parameters."), Number(p, "density", path, at + ".parameters.")));
        }

        var parameters = keys.TryGetValue("parameters", out var gp) ? Keys(Mapping(gp, path, "parameters"), path, "parameters.", Parameters) : [];
        double? Global(string key) => Number(parameters, key, path, "parameters.");
        var densities = models.Select(m => m.Density).Append(Global("density")).OfType<double>().Distinct().ToList();
        if (densities.Count > 1)
            throw new InvalidDataException($"{path}: density differs between models ({string.Join(", ", densities.Select(MergeOptions.Format))}); one density for all is supported.");
        var weights = models.Any(m => m.Weight is not null) ? models.Select(m => m.Weight ?? 1).ToArray() : null;
        var scale = method == MergeMethod.Slerp ? Global("t") ?? throw new InvalidDataException($"{path}: parameters.t is missing (slerp's position between base and model).")
                                                : Global("lambda") ?? MergeOptions.DefaultLambda(method, weights is not null);
        var defaults = new MergeOptions();
        var options = new MergeOptions
        {
            Method = method, Lambdas = [scale], Weights = weights,
            Density = densities.Count == 1 ? densities[0] : defaults.Density,
            Gamma = Global("gamma") ?? defaults.Gamma, Epsilon = Global("epsilon") ?? defaults.Epsilon,
            Seed = (long)(Global("seed") ?? 0),
        };
        try { options.Validate(models.Count); }
        catch (ArgumentException e) { throw new InvalidDataException($"{path}: {e.Message.Replace("--", "")}", e); }
        return new MergeConfig(baseModel, [.. models.Select(m => m.Dir)], options);
    }

    static Dictionary<string, YamlNode> Keys(YamlMappingNode m, string path, string at, string[] allowed)
    {
        var result = new Dictionary<string, YamlNode>();
        foreach (var (k, v) in m.Children)
        {
            var key = (k as YamlScalarNode)?.Value ?? "";
            if (!allowed.Contains(key))
                throw new InvalidDataException($"{path}: {at}{key} (line {k.Start.Line}): not a setting here; expected one of {string.Join(", ", allowed.Select(a => at + a))}.");
            result[key] = v;
        }
        return result;
    }

    static YamlMappingNode Mapping(YamlNode node, string path, string at) =>
        node as YamlMappingNode ?? throw new InvalidDataException($"{path}: {at}: expected a mapping{Found(node)}.");

    static string? Scalar(Dictionary<string, YamlNode> keys, string key, string path, string at = "") =>
        !keys.TryGetValue(key, out var node) ? null
        : node is YamlScalarNode { Value: { Length: > 0 } v } ? v
        : throw new InvalidDataException($"{path}: {at}{key}: expected a string{Found(node)}.");

    static double? Number(Dictionary<string, YamlNode> keys, string key, string path, string at)
    {
        if (!keys.TryGetValue(key, out var node)) return null;
        if (node is YamlSequenceNode)
            throw new InvalidDataException($"{path}: {at}{key} (line {node.Start.Line}): a list (mergekit's gradient over layers) is not supported; give one number.");
        if (node is YamlScalarNode { Style: ScalarStyle.Plain, Value: { } v } && double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) && double.IsFinite(x))
            return x;
        throw new InvalidDataException($"{path}: {at}{key} (line {node.Start.Line}): expected a number{Found(node)}.");
    }

    static string Found(YamlNode? node) => node switch
    {
        null => "",
        YamlScalarNode s => $", found \"{s.Value}\"",
        YamlSequenceNode => ", found a list",
        YamlMappingNode => ", found a mapping",
        _ => "",
    };
}
