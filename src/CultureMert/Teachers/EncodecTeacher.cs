using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using CultureMert.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Teachers;

/// <summary>
/// MERT-v1's acoustic teacher: EnCodec 24 kHz residual-VQ codes (8 codebooks at 6 kbps, 75 Hz). Loads a Hugging Face
/// <c>facebook/encodec_24khz</c> folder (<c>config.json</c> and <c>model.safetensors</c>, <c>pytorch_model.bin</c> or a
/// shard index); <c>decoder.*</c> and the codebooks beyond the bandwidth are not read.
/// </summary>
public sealed partial class EncodecTeacher : ITokenTeacher
{
    private readonly EncodecModel model;

    public EncodecConfig Config => model.Config;
    public double BandwidthKbps { get; }
    public string Name { get; }
    public string Hash { get; }
    public int SampleRate => Config.SamplingRate;
    public int Codebooks => model.NumQuantizers;
    public int CodebookSize => Config.CodebookSize;

    EncodecTeacher(EncodecModel model, double bandwidthKbps, string name, string hash)
    {
        this.model = model;
        model.eval();
        (BandwidthKbps, Name, Hash) = (bandwidthKbps, name, hash);
    }

    static readonly string[] WeightFiles = ["model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"];

    /// <summary>Loads the encoder and the codebooks that <paramref name="bandwidthKbps"/> uses, checking every tensor.</summary>
    /// <param name="device">where the teacher encodes (null: the CPU); the weights are read on the CPU, then moved</param>
    public static EncodecTeacher Load(string directory, double bandwidthKbps = 6.0, Device? device = null)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"{directory}: EnCodec model folder not found.");
        var configPath = Path.Combine(directory, "config.json");
        if (!File.Exists(configPath)) throw new FileNotFoundException($"{directory}: no config.json (expected a Hugging Face facebook/encodec_24khz folder).", configPath);
        var config = EncodecConfig.Load(configPath);
        var nq = NumQuantizers(config, bandwidthKbps, configPath);
        var weights = WeightFiles.Select(f => Path.Combine(directory, f)).FirstOrDefault(File.Exists)
                      ?? throw new FileNotFoundException($"{directory}: no weights found (looked for {string.Join(", ", WeightFiles)}).");
        var model = new EncodecModel(config, nq);
        try
        {
            var state = model.state_dict();
            if (weights.EndsWith(".safetensors"))
            {
                // One file: check the header, then read only the tensors we keep straight into the parameters.
                var header = SafeTensors.ReadHeader(weights).Tensors;
                Validate(state, header.Select(t => new Entry(t.Name, t.Shape, IsFloat(SafeTensors.ScalarTypeOf(t.DType)), t.DType)), nq, weights);
                using (no_grad()) SafeTensors.ReadInto(weights, info => state.GetValueOrDefault(OurName(info.Name)));
            }
            else
            {
                var all = MertCheckpoint.ReadStateDict(weights);   // pickles and shard indexes: small enough to read whole
                try
                {
                    Validate(state, all.Select(kv => new Entry(kv.Key, kv.Value.shape, kv.Value.is_floating_point(), kv.Value.dtype.ToString())), nq, weights);
                    using (no_grad())
                        foreach (var (name, tensor) in all)
                            if (state.TryGetValue(OurName(name), out var target)) target.copy_(tensor);
                }
                finally { foreach (var t in all.Values) t.Dispose(); }
            }
            var files = weights.EndsWith(".index.json") ? [weights, .. ShardNames(weights)] : new List<string> { weights };
            var hash = HashOf(MertCheckpoint.HashFiles([configPath, .. files]), nq);
            return new EncodecTeacher(model.to(device ?? CPU), bandwidthKbps, NameOf(config, bandwidthKbps), hash);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>A real-shaped model with random weights (see <see cref="EncodecModel.InitializeRandom"/>), for benchmarks.</summary>
    /// <param name="device">where the teacher encodes (null: the CPU); the weights are drawn on the CPU, so a seed means the same model everywhere</param>
    public static EncodecTeacher Random(EncodecConfig config, int seed, double bandwidthKbps = 6.0, Device? device = null)
    {
        var nq = NumQuantizers(config.Validate("EncodecConfig"), bandwidthKbps, "EncodecConfig");
        var model = new EncodecModel(config, nq).InitializeRandom(seed).to(device ?? CPU);
        return new EncodecTeacher(model, bandwidthKbps, NameOf(config, bandwidthKbps) + $"-random{seed}", HashOf($"random:{seed}:{config.NumFilters}:{config.HiddenSize}", nq));
    }

    /// <summary>Default <see cref="ChunkSamples"/>: 750 frames, 10 s at 24 kHz.</summary>
    public const long DefaultChunkSamples = 320 * 750;

    private long chunkSamples = DefaultChunkSamples;

    /// <summary>
    /// Samples per chunk that <see cref="Embed"/> and <see cref="Encode"/> process at a time, carrying the causal encoder's
    /// context across chunks: results equal one pass over the whole file (codes identical, embeddings up to float summation
    /// order) while memory stays bounded by the chunk. A positive multiple of the hop (320); a value at least the input's
    /// length means one pass.
    /// </summary>
    public long ChunkSamples
    {
        get => chunkSamples;
        set
        {
            if (value <= 0 || value % Config.HopLength != 0)
                throw new ArgumentOutOfRangeException(nameof(value), value, $"ChunkSamples must be a positive multiple of the hop ({Config.HopLength} samples).");
            chunkSamples = value;
        }
    }

    /// <summary>Encoder output of a whole mono waveform (in chunks of <see cref="ChunkSamples"/>).</summary>
    /// <param name="waveform">(samples) float at <see cref="SampleRate"/>, on any device</param>
    /// <returns>float32 (hidden_size, ceil(samples / hop)) on the teacher's device</returns>
    public Tensor Embed(Tensor waveform)
    {
        using var _ = inference_mode();
        using var scope = NewDisposeScope();
        var x = AsInput(waveform, ComputeDevice.Of(model));                // (1, 1, samples)
        return model.Embed(x, chunkSamples)[0].MoveToOuterDisposeScope();  // (hidden, frames)
    }

    /// <summary>Residual-VQ codes of a whole mono waveform (in chunks of <see cref="ChunkSamples"/>).</summary>
    /// <param name="waveform">(samples) float at <see cref="SampleRate"/>, on any device</param>
    /// <returns>int64 (n_q, ceil(samples / hop)) on the teacher's device</returns>
    public Tensor Encode(Tensor waveform)
    {
        using var _ = inference_mode();
        using var scope = NewDisposeScope();
        var x = AsInput(waveform, ComputeDevice.Of(model));                // (1, 1, samples)
        return model.Encode(x, chunkSamples)[0].MoveToOuterDisposeScope(); // (n_q, frames)
    }

    public void Dispose() => model.Dispose();

    static Tensor AsInput(Tensor waveform, Device device)
    {
        if (waveform.dim() != 1) throw new ArgumentException($"EnCodec expects a mono waveform of shape (samples); got [{string.Join(", ", waveform.shape)}].", nameof(waveform));
        if (waveform.shape[0] == 0) throw new ArgumentException("EnCodec got an empty waveform (0 samples).", nameof(waveform));
        if (!waveform.is_floating_point()) throw new ArgumentException($"EnCodec expects float samples; got {waveform.dtype}.", nameof(waveform));
        return waveform.to(ScalarType.Float32, device).reshape(1, 1, -1);   // (batch 1, channel 1, samples)
    }

    static int NumQuantizers(EncodecConfig config, double bandwidthKbps, string source)
    {
        if (!config.TargetBandwidths.Any(b => Math.Abs(b - bandwidthKbps) < 1e-9))
            throw new ArgumentException($"{source}: bandwidth {bandwidthKbps.ToString(CultureInfo.InvariantCulture)} kbps is not one of target_bandwidths " +
                                        $"({string.Join(", ", config.TargetBandwidths.Select(b => b.ToString(CultureInfo.InvariantCulture)))}).", nameof(bandwidthKbps));
        return config.NumQuantizers(bandwidthKbps);
    }

    static string NameOf(EncodecConfig c, double bw) =>
        $"encodec_{c.SamplingRate / 1000.0:0.###}khz@{bw.ToString("0.###", CultureInfo.InvariantCulture)}kbps";

    static string HashOf(string content, int nq) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{content}|n_q={nq}")))[..16].ToLowerInvariant();

    static bool IsFloat(ScalarType t) => t is ScalarType.Float64 or ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16;

    /// <summary>
    /// Checkpoint names that differ from ours: transformers ≥ 4.41 saves weight norm as parametrizations
    /// (<c>…conv.parametrizations.weight.original0</c> = g, <c>original1</c> = v); older files say <c>weight_g</c>/<c>weight_v</c>.
    /// </summary>
    static string OurName(string name) =>
        name.EndsWith(".parametrizations.weight.original0") ? name[..^".parametrizations.weight.original0".Length] + ".weight_g"
        : name.EndsWith(".parametrizations.weight.original1") ? name[..^".parametrizations.weight.original1".Length] + ".weight_v"
        : name;

    [GeneratedRegex(@"^quantizer\.layers\.(\d+)\.codebook\.(embed|embed_avg|cluster_size|inited)$")]
    private static partial Regex QuantizerTensor();

    sealed record Entry(string Name, long[] Shape, bool IsFloat, string DType);

    /// <summary>
    /// Throws one error listing every problem (missing, mis-shaped, non-float, unexpected tensors; too few codebooks).
    /// Ignored: <c>decoder.*</c>, codebook training buffers, codebooks beyond n_q.
    /// </summary>
    static void Validate(Dictionary<string, Tensor> state, IEnumerable<Entry> entries, int nq, string source)
    {
        var problems = new List<string>();
        var seen = new HashSet<string>();
        var codebooksInFile = new HashSet<int>();
        foreach (var e in entries)
        {
            var name = OurName(e.Name);
            var vq = QuantizerTensor().Match(name);
            if (vq.Success && vq.Groups[2].Value == "embed") codebooksInFile.Add(int.Parse(vq.Groups[1].Value, CultureInfo.InvariantCulture));
            if (!state.TryGetValue(name, out var target))
            {
                if (!name.StartsWith("decoder.") && !vq.Success) problems.Add($"unexpected tensor {e.Name} {Shape(e.Shape)}");
                continue;
            }
            if (!seen.Add(name)) { problems.Add($"{e.Name} is stored twice (both weight-norm namings?)"); continue; }
            if (!e.IsFloat) problems.Add($"{e.Name} has dtype {e.DType}, expected a floating-point tensor");
            else if (!e.Shape.SequenceEqual(target.shape)) problems.Add($"{e.Name} has shape {Shape(e.Shape)}, expected {Shape(target.shape)}");
        }
        var missing = state.Keys.Where(n => !seen.Contains(n)).ToList();
        var missingCodebooks = missing.Where(n => n.StartsWith("quantizer.")).ToList();
        if (missingCodebooks.Count > 0)
            problems.Add($"the file has {codebooksInFile.Count} codebook(s) (quantizer.layers.*.codebook.embed); the bandwidth needs the first {nq}");
        foreach (var name in missing) problems.Add($"missing tensor {name} {Shape(state[name].shape)}");
        if (problems.Count > 0)
            throw new InvalidDataException($"{source}: the checkpoint does not match config.json ({problems.Count} problem{(problems.Count > 1 ? "s" : "")}):\n  " +
                                           string.Join("\n  ", problems));
    }

    static string Shape(long[] shape) => $"[{string.Join(", ", shape)}]";

    /// <summary>The shard files of an index (already checked by <see cref="MertCheckpoint.ReadStateDict"/>), for the hash.</summary>
    static IEnumerable<string> ShardNames(string index)
    {
        var map = JsonNode.Parse(File.ReadAllText(index))!["weight_map"]!.AsObject();
        return map.Select(kv => kv.Value!.GetValue<string>()).Distinct().Order(StringComparer.Ordinal)
                  .Select(f => Path.Combine(Path.GetDirectoryName(index)!, f));
    }
}
