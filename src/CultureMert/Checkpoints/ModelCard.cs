using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using CultureMert.IO;

namespace CultureMert.Checkpoints;

/// <summary>One number of the card's evaluation section: a task, a metric and its value (×100).</summary>
public sealed record CardResult(string Task, string Metric, double Value, double? Ci95 = null);

/// <summary>
/// The model card of a model folder this toolkit writes: <c>README.md</c> with Hugging Face's YAML front matter
/// (license, library, tags, base model and how it relates to it, datasets, metrics) and a body saying how the model was
/// made — recipe, data hours per source, steps, wall time, merge method and λ — with the provenance hashes already
/// recorded beside it (<c>training.json</c>, <c>merge.json</c>). <c>evaluate</c> adds its numbers to a card it finds
/// (<see cref="AddResults"/>); a README that this toolkit did not write is never touched.
/// </summary>
public sealed record ModelCard
{
    /// <summary>The first body line of every card written here: how a card is recognised as ours.</summary>
    public const string Marker = "<!-- model card written by CultureMERT.NET; `culturemert evaluate` updates its Evaluation section -->";
    const string ResultsStart = "<!-- evaluation -->", ResultsEnd = "<!-- /evaluation -->";

    public required string Title { get; init; }
    /// <summary>One paragraph: what the model is and how it was made.</summary>
    public required string Summary { get; init; }
    /// <summary>Hub ids or folder names of the model(s) it was made from.</summary>
    public IReadOnlyList<string> BaseModels { get; init; } = [];
    /// <summary>Hugging Face's <c>base_model_relation</c>: <c>finetune</c> (continual pre-training) or <c>merge</c>; null for none.</summary>
    public string? Relation { get; init; }
    /// <summary>Inherited from the base model's card; null: <c>other</c> (say which in the body).</summary>
    public string? License { get; init; }
    public IReadOnlyList<string> Datasets { get; init; } = [];
    public IReadOnlyList<string> Tags { get; init; } = [];
    /// <summary>The "how it was made" table, in order.</summary>
    public IReadOnlyList<(string Name, string Value)> Facts { get; init; } = [];

    /// <summary>Writes <c>README.md</c> into <paramref name="dir"/> atomically.</summary>
    public void Write(string dir) => AtomicFile.WriteText(Path.Combine(dir, "README.md"), Render([]));

    public string Render(IReadOnlyList<CardResult> results)
    {
        var sb = new StringBuilder("---\n");
        sb.Append($"license: {License ?? "other"}\nlibrary_name: transformers\n");
        List("tags", ["music", "audio", "mert", "culturemert-net", .. Tags]);
        if (BaseModels.Count > 0) List("base_model", BaseModels);
        if (Relation is not null && BaseModels.Count > 0) sb.Append($"base_model_relation: {Relation}\n");
        if (Datasets.Count > 0) List("datasets", Datasets);
        sb.Append(MetricsLine(results)).Append("---\n\n").Append(Marker).Append("\n\n");
        sb.Append($"# {Title}\n\n{Summary}\n\n## How it was made\n\n| | |\n| --- | --- |\n");
        foreach (var (name, value) in Facts) sb.Append($"| {name} | {value.Replace("|", "\\|")} |\n");
        if (License is null) sb.Append("\nThe base model's card names no license: check its terms before you share this model.\n");
        sb.Append("\n## Evaluation\n\n").Append(ResultsStart).Append('\n').Append(ResultsTable(results)).Append(ResultsEnd).Append('\n');
        return sb.ToString();

        void List(string key, IEnumerable<string> items)
        {
            sb.Append(key).Append(":\n");
            foreach (var item in items.Distinct()) sb.Append("- ").Append(Yaml(item)).Append('\n');
        }
    }

    /// <summary>
    /// Puts <paramref name="results"/> into the card of <paramref name="dir"/>: its Evaluation section and the front
    /// matter's <c>metrics</c>. Returns false (and writes nothing) when the folder has no card or one not written here.
    /// </summary>
    public static bool AddResults(string dir, IReadOnlyList<CardResult> results)
    {
        var path = Path.Combine(dir, "README.md");
        if (!File.Exists(path)) return false;
        var text = File.ReadAllText(path);
        int start = text.IndexOf(ResultsStart, StringComparison.Ordinal), end = text.IndexOf(ResultsEnd, StringComparison.Ordinal);
        if (!text.Contains(Marker, StringComparison.Ordinal) || start < 0 || end < start) return false;
        var body = text[..(start + ResultsStart.Length)] + "\n" + ResultsTable(results) + text[end..];
        var close = body.IndexOf("\n---\n", StringComparison.Ordinal);                 // the front matter's end
        var front = body[..(close + 1)];
        if (front.IndexOf("\nmetrics:\n", StringComparison.Ordinal) is var m and >= 0) front = front[..(m + 1)];   // metrics is its last key
        AtomicFile.WriteText(path, front + MetricsLine(results) + body[(close + 1)..]);
        return true;
    }

    /// <summary>The front matter's last key, <c>metrics</c>: the names of the metrics evaluated.</summary>
    static string MetricsLine(IReadOnlyList<CardResult> results) =>
        results.Count == 0 ? "" : "metrics:\n" + string.Concat(results.Select(r => r.Metric).Distinct().Select(m => $"- {Yaml(m)}\n"));

    static string ResultsTable(IReadOnlyList<CardResult> results)
    {
        if (results.Count == 0) return "Not evaluated yet: `culturemert evaluate --models NAME=THIS_FOLDER --tasks ...` adds its numbers here.\n";
        var sb = new StringBuilder("Test split, ×100, the probe configuration chosen on validation (`culturemert evaluate`; 95 % interval over probe seeds where given).\n\n| task | metric | value |\n| --- | --- | --- |\n");
        foreach (var r in results)
            sb.Append(CultureInfo.InvariantCulture, $"| {r.Task} | {r.Metric} | {r.Value:0.0}{(r.Ci95 is { } ci && double.IsFinite(ci) ? $" ± {ci:0.0}" : "")} |\n");
        return sb.ToString();
    }

    /// <summary>A YAML scalar: plain when safe, else double-quoted.</summary>
    static string Yaml(string s) => s.All(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' or '/') && s.Length > 0 ? s : "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    /// <summary>The id a card names a model folder by: its config's <c>_name_or_path</c> when that is a Hub id
    /// (<c>org/name</c>), else the folder's name.</summary>
    public static string IdOf(string modelDir)
    {
        var config = Path.Combine(modelDir, "config.json");
        if (File.Exists(config))
            try
            {
                if (JsonNode.Parse(File.ReadAllText(config))?["_name_or_path"]?.GetValue<string>() is { } id &&
                    id.Count(c => c == '/') == 1 && !id.StartsWith('/') && !id.StartsWith('.')) return id;
            }
            catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException) { }
        return Path.GetFileName(Path.GetFullPath(modelDir).TrimEnd('/', '\\'));
    }

    /// <summary>
    /// The <c>license</c> of a model folder's card front matter (any card: Hugging Face's, ours, a person's); null when
    /// there is no card, no front matter, no license, or front matter that is not YAML.
    /// </summary>
    public static string? LicenseOf(string modelDir)
    {
        var path = Path.Combine(modelDir, "README.md");
        if (!File.Exists(path)) return null;
        var lines = File.ReadLines(path).Take(500).ToList();
        if (lines.Count == 0 || lines[0].Trim() != "---") return null;
        var yaml = new YamlDotNet.RepresentationModel.YamlStream();
        try { yaml.Load(new StringReader(string.Join('\n', lines.Skip(1).TakeWhile(l => l.Trim() != "---")))); }
        catch (YamlDotNet.Core.YamlException) { return null; }
        return yaml.Documents.FirstOrDefault()?.RootNode is YamlDotNet.RepresentationModel.YamlMappingNode map &&
               map.Children.TryGetValue(new YamlDotNet.RepresentationModel.YamlScalarNode("license"), out var license) &&
               license is YamlDotNet.RepresentationModel.YamlScalarNode { Value: { Length: > 0 } value } ? value : null;
    }

    /// <summary>"1.25 h" for a number of seconds.</summary>
    public static string Hours(double seconds) => (seconds / 3600).ToString("0.###", CultureInfo.InvariantCulture) + " h";
}
