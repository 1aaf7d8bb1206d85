using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;
using static CultureMert.Scalars;

namespace CultureMert.Audio;

/// <summary>
/// HF <c>preprocessor_config.json</c> (Wav2Vec2FeatureExtractor): the sample rate the model expects and whether each model
/// input is normalised to zero mean and unit variance, (x − mean) / √(var + 1e-7). MERT-v1 ships <c>do_normalize: false</c>.
/// </summary>
public sealed record PreprocessorConfig(bool DoNormalize, int SamplingRate)
{
    public static PreprocessorConfig Load(string directory, int modelSampleRate)
    {
        var path = Path.Combine(directory, "preprocessor_config.json");
        if (!File.Exists(path)) return new PreprocessorConfig(false, modelSampleRate);
        JsonObject json;
        try { json = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException("not a JSON object"); }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidDataException) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message})."); }
        var type = IO.ConfigJson.Get<string?>(json, "feature_extractor_type", null, path);
        if (type is not null && type != "Wav2Vec2FeatureExtractor")
            throw new NotSupportedException($"{path}: feature_extractor_type \"{type}\" is not implemented (expected Wav2Vec2FeatureExtractor).");
        var rate = IO.ConfigJson.Get(json, "sampling_rate", modelSampleRate, path);
        if (rate != modelSampleRate)
            throw new InvalidDataException($"{path}: sampling_rate {rate} differs from config.json sample_rate {modelSampleRate}.");
        return new PreprocessorConfig(IO.ConfigJson.Get(json, "do_normalize", false, path), rate);
    }

    public JsonObject ToJson() => new()
    {
        ["feature_extractor_type"] = "Wav2Vec2FeatureExtractor", ["do_normalize"] = DoNormalize, ["feature_size"] = 1,
        ["padding_side"] = "right", ["padding_value"] = 0.0, ["return_attention_mask"] = true, ["sampling_rate"] = SamplingRate,
    };

    /// <param name="x">(batch, samples)</param> <returns>(batch, samples), each row normalised when do_normalize is set</returns>
    public Tensor Apply(Tensor x)
    {
        if (!DoNormalize) return x;
        var mean = x.mean([-1], keepdim: true);
        var variance = x.var(-1, unbiased: false, keepdim: true);
        return (x - mean) / variance.add(Of(1e-7), One).sqrt();
    }
}
