using System.Security.Cryptography;
using System.Text.Json.Nodes;
using CultureMert.Audio;
using CultureMert.Model;
using TorchSharp;
using static TorchSharp.torch;
using CultureMert.IO;

namespace CultureMert.Checkpoints;

/// <summary>A model loaded from a Hugging Face folder, with what the loader noticed on the way.</summary>
/// <param name="ConfigHash">SHA-256 of config.json (16 hex digits)</param>
/// <param name="WeightFiles">the weight file(s) read: the file, or the shard index and its shards</param>
public sealed record LoadedMert(MertModel Model, PreprocessorConfig Preprocessor, string Directory, string WeightsFile,
                                IReadOnlyList<string> IgnoredHeads, string ConfigHash, IReadOnlyList<string> WeightFiles) : IDisposable
{
    readonly Lazy<string> weightsHash = new(() => MertCheckpoint.HashFiles(WeightFiles));

    /// <summary>
    /// SHA-256 of the weight file(s) (16 hex digits): tells two checkpoints of one architecture apart. Computed on first
    /// use, so loading a model does not read its weights twice unless a job records where its outputs came from.
    /// </summary>
    public string WeightsHash => weightsHash.Value;

    public string Name => Path.GetFileName(Path.GetFullPath(Directory).TrimEnd('/', '\\'));
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
    internal static readonly IReadOnlyDictionary<string, string> Renames = new Dictionary<string, string>
    {
        ["encoder.pos_conv_embed.conv.parametrizations.weight.original0"] = "encoder.pos_conv_embed.conv.weight_g",
        ["encoder.pos_conv_embed.conv.parametrizations.weight.original1"] = "encoder.pos_conv_embed.conv.weight_v",
    };

    /// <summary>Pre-training heads (fairseq MERT) that an encoder-only model does not use: reported, not loaded.</summary>
    static bool IsPretrainingHead(string name) =>
        name.StartsWith("final_proj.") || name == "label_embs_concat" || name.StartsWith("encoder_cqt_model.") || name.StartsWith("cqt_head.");

    internal static readonly string[] WeightFiles = ["model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"];

    /// <summary>Loads <paramref name="directory"/> in eval mode, checking every tensor's name, shape and dtype.</summary>
    /// <param name="device">where the model computes (null: the CPU); the weights are read on the CPU, then moved</param>
    public static LoadedMert Load(string directory, Device? device = null)
    {
        if (!System.IO.Directory.Exists(directory)) throw new DirectoryNotFoundException($"{directory}: model folder not found.");
        var configPath = Path.Combine(directory, "config.json");
        if (!File.Exists(configPath)) throw new FileNotFoundException($"{directory}: no config.json (expected a Hugging Face model folder).", configPath);
        var config = MertConfig.Load(configPath);
        var preprocessor = PreprocessorConfig.Load(directory, config.SampleRate);
        var weights = FindWeights(directory);
        var model = new MertModel(config);
        try
        {
            var ignored = weights.EndsWith(".safetensors") || IsSafeTensorsIndex(weights)
                ? LoadSafeTensors(model, weights)
                : AssignAndDispose(model, ReadStateDict(weights), weights);
            RequireFinite(model, weights);
            model.to(device ?? CPU).eval();
            var weightFiles = weights.EndsWith(".index.json") ? [weights, .. ShardFiles(weights)] : new List<string> { weights };
            return new LoadedMert(model, preprocessor, directory, weights, ignored, HashFiles([configPath]), weightFiles);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>A NaN or infinity in any weight would make every embedding NaN: refused at load, naming the tensor.</summary>
    static void RequireFinite(MertModel model, string weights)
    {
        using var _ = no_grad();
        foreach (var (name, tensor) in model.state_dict())
        {
            if (!tensor.is_floating_point()) continue;
            using var finite = isfinite(tensor).all();
            if (!finite.item<bool>())
                throw new InvalidDataException($"{weights}: tensor {name} holds NaN or infinite values (a corrupt file, or weights saved from a diverged run).");
        }
    }

    /// <summary>The folder's weights file (or shard index), in the order of preference of <see cref="WeightFiles"/>.</summary>
    internal static string FindWeights(string directory) =>
        WeightFiles.Select(f => Path.Combine(directory, f)).FirstOrDefault(File.Exists)
        ?? throw new FileNotFoundException($"{directory}: no weights found (looked for {string.Join(", ", WeightFiles)}).");

    static List<string> AssignAndDispose(MertModel model, Dictionary<string, Tensor> state, string source)
    {
        try { return Assign(model, state, source); }
        finally { foreach (var t in state.Values) t.Dispose(); }
    }

    static bool IsSafeTensorsIndex(string weights) => weights.EndsWith(".safetensors.index.json");

    /// <summary>
    /// Checks every shard's header against the model first, then reads each tensor straight into its parameter, so that
    /// loading needs memory for the model and nothing more.
    /// </summary>
    static List<string> LoadSafeTensors(MertModel model, string weights)
    {
        var files = IsSafeTensorsIndex(weights) ? ShardFiles(weights) : [weights];
        var headers = files.Select(f => (File: f, SafeTensors.ReadHeader(f).Tensors)).ToList();
        var entries = headers.SelectMany(h => h.Tensors.Select(t =>
        {
            var type = SafeTensors.ScalarTypeOf(t.DType);
            return new Entry(t.Name, t.Shape, type is ScalarType.Float64 or ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16, type.ToString());
        }));
        var ignored = Validate(model, entries, weights);
        var parameters = model.state_dict();
        using (no_grad())
            foreach (var (file, _) in headers)
                SafeTensors.ReadInto(file, info => parameters.GetValueOrDefault(Renames.GetValueOrDefault(info.Name, info.Name)));
        return ignored;
    }

    /// <summary>The shard files a <c>*.index.json</c> names, each checked to exist.</summary>
    internal static List<string> ShardFiles(string index)
    {
        JsonObject json;
        try { json = (JsonObject)JsonNode.Parse(File.ReadAllText(index))!; }
        catch (Exception e) { throw new InvalidDataException($"{index}: not a valid shard index ({e.Message})."); }
        var map = json["weight_map"] as JsonObject ?? throw new InvalidDataException($"{index}: no weight_map.");
        var dir = Path.GetDirectoryName(index)!;
        var files = new List<string>();
        var names = new List<string>();
        foreach (var (tensor, value) in map)
            names.Add(value is JsonValue v && v.TryGetValue<string>(out var shardName) ? shardName
                : throw new InvalidDataException($"{index}: weight_map entry {tensor} is not a file name ({value?.ToJsonString() ?? "null"})."));
        foreach (var shard in names.Distinct())
        {
            if (shard != Path.GetFileName(shard) || shard is "." or "..")
                throw new InvalidDataException($"{index}: shard \"{shard}\" is not a file name in the model folder.");
            var shardPath = Path.Combine(dir, shard);
            if (!File.Exists(shardPath)) throw new FileNotFoundException($"{index}: shard {shard} is missing.", shardPath);
            files.Add(shardPath);
        }
        return files;
    }

    /// <summary>Every tensor of a weights file (or of all shards an index names), by checkpoint name.</summary>
    public static Dictionary<string, Tensor> ReadStateDict(string weights)
    {
        if (weights.EndsWith(".index.json"))
        {
            var all = new Dictionary<string, Tensor>();
            try
            {
                foreach (var shard in ShardFiles(weights))
                    foreach (var (k, v) in ReadStateDict(shard)) all[k] = v;
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

    /// <summary>What the checks need to know of one stored tensor.</summary>
    sealed record Entry(string Name, long[] Shape, bool IsFloat, string DType);

    /// <summary>
    /// Copies <paramref name="state"/> into the model after checking it; the caller keeps ownership of the tensors.
    /// </summary>
    /// <returns>the pre-training heads present in the state and not loaded</returns>
    public static List<string> Assign(MertModel model, IReadOnlyDictionary<string, Tensor> state, string source)
    {
        var ignored = Validate(model, state.Select(kv => new Entry(kv.Key, kv.Value.shape, kv.Value.is_floating_point(), kv.Value.dtype.ToString())), source);
        var parameters = model.state_dict();
        using (no_grad())
            foreach (var (fileName, tensor) in state)
                if (parameters.TryGetValue(Renames.GetValueOrDefault(fileName, fileName), out var target))
                    target.copy_(tensor);                                     // converts fp16/bf16/fp64 to the parameter's dtype
        return ignored;
    }

    /// <summary>Throws one error that lists every problem: missing, unexpected, mis-shaped and non-float tensors.</summary>
    /// <returns>the pre-training heads present and not loaded</returns>
    static List<string> Validate(MertModel model, IEnumerable<Entry> entries, string source)
    {
        var parameters = model.state_dict();
        var problems = new List<string>();
        var ignored = new List<string>();
        var seen = new HashSet<string>();
        foreach (var e in entries)
        {
            var name = Renames.GetValueOrDefault(e.Name, e.Name);
            if (!parameters.TryGetValue(name, out var target))
            {
                if (IsPretrainingHead(name)) ignored.Add(e.Name);
                else problems.Add($"unexpected tensor {e.Name} {Shape(e.Shape)}");
                continue;
            }
            seen.Add(name);
            if (!e.IsFloat)
                problems.Add($"{e.Name} has dtype {e.DType}, expected a floating-point tensor");
            else if (!e.Shape.SequenceEqual(target.shape))
                problems.Add($"{e.Name} has shape {Shape(e.Shape)}, expected {Shape(target.shape)}");
        }
        foreach (var name in parameters.Keys.Where(n => !seen.Contains(n)))
            problems.Add($"missing tensor {name} {Shape(parameters[name].shape)}");
        if (problems.Count > 0)
            throw new InvalidDataException($"{source}: the checkpoint does not match config.json ({problems.Count} problem{(problems.Count > 1 ? "s" : "")}):\n  " +
                                           string.Join("\n  ", problems));
        return ignored;
    }

    static string Shape(long[] shape) => $"[{string.Join(", ", shape)}]";

    /// <summary>
    /// Writes <c>model.safetensors</c> (float32, HF names, pos-conv as <c>weight_g</c>/<c>weight_v</c>, <c>format: pt</c>
    /// metadata; a model on a GPU is copied to the host one tensor at a time as it is written), <c>config.json</c> and
    /// <c>preprocessor_config.json</c>, each atomically. A model loaded from a folder with remote code (MERT's
    /// <c>modeling_MERT.py</c>, <c>configuration_MERT.py</c>, named by its config's <c>auto_map</c>) gets those files
    /// copied from <paramref name="sourceDirectory"/>, so that <c>AutoModel.from_pretrained(dir, trust_remote_code=True)</c>
    /// keeps working.
    /// </summary>
    public static void Save(MertModel model, string directory, PreprocessorConfig? preprocessor = null, string? sourceDirectory = null)
    {
        System.IO.Directory.CreateDirectory(directory);
        if (sourceDirectory is not null && Path.GetFullPath(sourceDirectory) != Path.GetFullPath(directory))
            foreach (var py in System.IO.Directory.EnumerateFiles(sourceDirectory, "*.py"))
                File.Copy(py, Path.Combine(directory, Path.GetFileName(py)), overwrite: true);
        var tensors = model.state_dict().Select(kv => KeyValuePair.Create(kv.Key, kv.Value.to(ScalarType.Float32)));
        SafeTensors.Save(Path.Combine(directory, "model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        var opts = new System.Text.Json.JsonSerializerOptions { WriteIndented = true };
        AtomicFile.WriteText(Path.Combine(directory, "config.json"), model.Config.ToJson().ToJsonString(opts) + "\n");
        AtomicFile.WriteText(Path.Combine(directory, "preprocessor_config.json"),
            (preprocessor ?? new PreprocessorConfig(false, model.Config.SampleRate)).ToJson().ToJsonString(opts) + "\n");
    }

    /// <summary>Short content hash (SHA-256 over the files in order, 16 hex digits) that tags outputs with their model.</summary>
    public static string HashFiles(IEnumerable<string> paths)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        foreach (var path in paths)
        {
            using var f = File.OpenRead(path);
            int n;
            while ((n = f.Read(buffer)) > 0) sha.AppendData(buffer, 0, n);
        }
        return Convert.ToHexString(sha.GetHashAndReset())[..16].ToLowerInvariant();
    }
}
