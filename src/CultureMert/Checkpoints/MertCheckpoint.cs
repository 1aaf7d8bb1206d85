using System.Security.Cryptography;
using System.Text.Json.Nodes;
using CultureMert.Audio;
using CultureMert.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Checkpoints;

/// <summary>A model loaded from a Hugging Face folder, with what the loader noticed on the way.</summary>
public sealed record LoadedMert(MertModel Model, PreprocessorConfig Preprocessor, string Directory, string WeightsFile,
                                IReadOnlyList<string> IgnoredHeads, string ConfigHash) : IDisposable
{
    public string Name => Path.GetFileName(Directory.TrimEnd('/', '\\'));
    public void Dispose() => Model.Dispose();
}

/// <summary>
/// Loads and saves MERT models in the Hugging Face layout: <c>config.json</c>, <c>preprocessor_config.json</c> and
/// weights as <c>model.safetensors</c> (also sharded, via <c>model.safetensors.index.json</c>) or
/// <c>pytorch_model.bin</c> (also sharded). The only tensor names that differ from our module's are listed in
/// <see cref="Renames"/>; everything else maps one to one.
/// </summary>
public static class MertCheckpoint
{
    /// <summary>Checkpoint names that differ from ours: newer transformers save the pos-conv weight norm as parametrizations.</summary>
    static readonly Dictionary<string, string> Renames = new()
    {
        ["encoder.pos_conv_embed.conv.parametrizations.weight.original0"] = "encoder.pos_conv_embed.conv.weight_g",
        ["encoder.pos_conv_embed.conv.parametrizations.weight.original1"] = "encoder.pos_conv_embed.conv.weight_v",
    };

    /// <summary>Pre-training heads (fairseq MERT) that an encoder-only model does not use: reported, not loaded.</summary>
    static bool IsPretrainingHead(string name) =>
        name.StartsWith("final_proj.") || name == "label_embs_concat" || name.StartsWith("encoder_cqt_model.") || name.StartsWith("cqt_head.");

    static readonly string[] WeightFiles = ["model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"];

    /// <summary>Loads <paramref name="directory"/> in eval mode, checking every tensor's name, shape and dtype.</summary>
    public static LoadedMert Load(string directory)
    {
        if (!System.IO.Directory.Exists(directory)) throw new DirectoryNotFoundException($"{directory}: model folder not found.");
        var configPath = Path.Combine(directory, "config.json");
        if (!File.Exists(configPath)) throw new FileNotFoundException($"{directory}: no config.json (expected a Hugging Face model folder).", configPath);
        var config = MertConfig.Load(configPath);
        var preprocessor = PreprocessorConfig.Load(directory, config.SampleRate);
        var weights = WeightFiles.Select(f => Path.Combine(directory, f)).FirstOrDefault(File.Exists)
                      ?? throw new FileNotFoundException($"{directory}: no weights found (looked for {string.Join(", ", WeightFiles)}).");
        var state = ReadStateDict(weights);
        var model = new MertModel(config);
        try
        {
            var ignored = Assign(model, state, weights);
            model.eval();
            return new LoadedMert(model, preprocessor, directory, weights, ignored, HashFile(configPath));
        }
        catch
        {
            model.Dispose();
            throw;
        }
        finally
        {
            foreach (var t in state.Values) t.Dispose();
        }
    }

    /// <summary>Every tensor of a weights file (or of all shards an index names), by checkpoint name.</summary>
    public static Dictionary<string, Tensor> ReadStateDict(string weights)
    {
        if (weights.EndsWith(".index.json"))
        {
            JsonObject index;
            try { index = (JsonObject)JsonNode.Parse(File.ReadAllText(weights))!; }
            catch (Exception e) { throw new InvalidDataException($"{weights}: not a valid shard index ({e.Message})."); }
            var map = index["weight_map"] as JsonObject ?? throw new InvalidDataException($"{weights}: no weight_map.");
            var dir = Path.GetDirectoryName(weights)!;
            var all = new Dictionary<string, Tensor>();
            try
            {
                foreach (var shard in map.Select(kv => kv.Value!.GetValue<string>()).Distinct())
                {
                    var shardPath = Path.Combine(dir, shard);
                    if (!File.Exists(shardPath)) throw new FileNotFoundException($"{weights}: shard {shard} is missing.", shardPath);
                    foreach (var (k, v) in ReadStateDict(shardPath)) all[k] = v;
                }
                return all;
            }
            catch
            {
                foreach (var t in all.Values) t.Dispose();                    // a bad shard must not strand the good ones' memory
                throw;
            }
        }
        return weights.EndsWith(".safetensors") ? SafeTensors.Load(weights) : TorchPickle.Load(weights);
    }

    /// <summary>Copies <paramref name="state"/> into the model; throws one error that lists every problem.</summary>
    /// <returns>the pre-training heads present in the file and not loaded</returns>
    public static List<string> Assign(MertModel model, IReadOnlyDictionary<string, Tensor> state, string source)
    {
        var parameters = model.state_dict();
        var problems = new List<string>();
        var ignored = new List<string>();
        var seen = new HashSet<string>();
        using (no_grad())
        {
            foreach (var (fileName, tensor) in state)
            {
                var name = Renames.GetValueOrDefault(fileName, fileName);
                if (!parameters.TryGetValue(name, out var target))
                {
                    if (IsPretrainingHead(name)) ignored.Add(fileName);
                    else problems.Add($"unexpected tensor {fileName} {Shape(tensor)}");
                    continue;
                }
                seen.Add(name);
                if (!tensor.is_floating_point())
                    problems.Add($"{fileName} has dtype {tensor.dtype}, expected a floating-point tensor");
                else if (!tensor.shape.SequenceEqual(target.shape))
                    problems.Add($"{fileName} has shape {Shape(tensor)}, expected {Shape(target)}");
                else
                    target.copy_(tensor.to(target.dtype));
            }
        }
        foreach (var name in parameters.Keys.Where(n => !seen.Contains(n)))
            problems.Add($"missing tensor {name} {Shape(parameters[name])}");
        if (problems.Count > 0)
            throw new InvalidDataException($"{source}: the checkpoint does not match config.json ({problems.Count} problem{(problems.Count > 1 ? "s" : "")}):\n  " +
                                           string.Join("\n  ", problems));
        return ignored;
    }

    static string Shape(Tensor t) => $"[{string.Join(", ", t.shape)}]";

    /// <summary>
    /// Writes <c>model.safetensors</c> (float32, HF names, pos-conv as <c>weight_g</c>/<c>weight_v</c>, <c>format: pt</c>
    /// metadata), <c>config.json</c> and <c>preprocessor_config.json</c>, each atomically.
    /// </summary>
    public static void Save(MertModel model, string directory, PreprocessorConfig? preprocessor = null)
    {
        System.IO.Directory.CreateDirectory(directory);
        var tensors = model.state_dict().Select(kv => KeyValuePair.Create(kv.Key, kv.Value.to(ScalarType.Float32)));
        SafeTensors.Save(Path.Combine(directory, "model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        var opts = new System.Text.Json.JsonSerializerOptions { WriteIndented = true };
        AtomicFile.WriteText(Path.Combine(directory, "config.json"), model.Config.ToJson().ToJsonString(opts) + "\n");
        AtomicFile.WriteText(Path.Combine(directory, "preprocessor_config.json"),
            (preprocessor ?? new PreprocessorConfig(false, model.Config.SampleRate)).ToJson().ToJsonString(opts) + "\n");
    }

    /// <summary>Short content hash (SHA-256, 16 hex digits) used to tag outputs with the model that made them.</summary>
    public static string HashFile(string path)
    {
        using var f = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(f))[..16].ToLowerInvariant();
    }
}
