using System.Text.Json;
using System.Text.Json.Nodes;
using CultureMert.IO;

namespace CultureMert.Teachers;

/// <summary>
/// The EnCodec encoder + residual VQ as a Hugging Face <c>config.json</c> (HF: EncodecConfig) states it. Property names are
/// the JSON keys in PascalCase; defaults are those of <c>facebook/encodec_24khz</c>. Keys whose values would change the
/// maths in ways this port does not follow (the 48 kHz model's settings) are rejected by <see cref="FromJson"/>, never ignored.
/// </summary>
public sealed record EncodecConfig
{
    public int SamplingRate { get; init; } = 24000;                    // sampling_rate
    public int AudioChannels { get; init; } = 1;                       // audio_channels
    public int NumFilters { get; init; } = 32;                         // num_filters
    public int NumResidualLayers { get; init; } = 1;                   // num_residual_layers
    public int[] UpsamplingRatios { get; init; } = [8, 5, 4, 2];       // upsampling_ratios (the encoder uses them reversed)
    public int KernelSize { get; init; } = 7;                          // kernel_size
    public int LastKernelSize { get; init; } = 7;                      // last_kernel_size
    public int ResidualKernelSize { get; init; } = 3;                  // residual_kernel_size
    public int DilationGrowthRate { get; init; } = 2;                  // dilation_growth_rate
    public bool UseCausalConv { get; init; } = true;                   // use_causal_conv
    public string PadMode { get; init; } = "reflect";                  // pad_mode
    public int Compress { get; init; } = 2;                            // compress (residual-block bottleneck divisor)
    public int NumLstmLayers { get; init; } = 2;                       // num_lstm_layers
    public int HiddenSize { get; init; } = 128;                        // hidden_size (encoder output channels)
    public int CodebookSize { get; init; } = 1024;                     // codebook_size
    public int CodebookDim { get; init; } = 128;                       // codebook_dim
    public double[] TargetBandwidths { get; init; } = [1.5, 3.0, 6.0, 12.0, 24.0]; // target_bandwidths (kbps)
    public string NormType { get; init; } = "weight_norm";             // norm_type
    public bool Normalize { get; init; }                               // normalize
    public double? ChunkLengthS { get; init; }                         // chunk_length_s
    public bool UseConvShortcut { get; init; } = true;                 // use_conv_shortcut
    public double TrimRightRatio { get; init; } = 1.0;                 // trim_right_ratio (decoder only)
    public int? FrameRateOverride { get; init; }                       // frame_rate, when the file states it

    /// <summary>Samples per frame: the product of the ratios (320 for the 24 kHz model).</summary>
    public int HopLength => UpsamplingRatios.Aggregate(1, (a, r) => a * r);

    /// <summary>Frames per second (HF: <c>ceil(sampling_rate / hop_length)</c>, 75 for the 24 kHz model).</summary>
    public int FrameRate => FrameRateOverride ?? (int)Math.Ceiling(SamplingRate / (double)HopLength);

    /// <summary>Codebooks used at <paramref name="bandwidthKbps"/> (encodec <c>ResidualVectorQuantizer.get_num_quantizers_for_bandwidth</c>).</summary>
    public int NumQuantizers(double bandwidthKbps)
    {
        var bitsPerCodebookPerSecond = Math.Log2(CodebookSize) * FrameRate;    // 10 bits × 75 Hz = 750 b/s per codebook
        return Math.Max(1, (int)Math.Floor(bandwidthKbps * 1000 / bitsPerCodebookPerSecond));
    }

    /// <summary>Frames the encoder produces for <paramref name="samples"/> input samples: ceil(samples / hop).</summary>
    public long FrameCount(long samples) => (samples + HopLength - 1) / HopLength;

    public EncodecConfig Validate(string source)
    {
        // What this port implements: the 24 kHz model's causal, weight-normed, mono, unchunked encoder.
        if (AudioChannels != 1) throw new NotSupportedException($"{source}: audio_channels = {AudioChannels} is not implemented (mono only).");
        if (!UseCausalConv) throw new NotSupportedException($"{source}: use_causal_conv = false (centred padding, the 48 kHz model) is not implemented.");
        if (NormType != "weight_norm") throw new NotSupportedException($"{source}: norm_type \"{NormType}\" is not implemented (supported: weight_norm).");
        if (Normalize) throw new NotSupportedException($"{source}: normalize = true (per-chunk RMS scaling, the 48 kHz model) is not implemented.");
        if (ChunkLengthS is not null) throw new NotSupportedException($"{source}: chunk_length_s = {ChunkLengthS} (chunked encoding) is not implemented; expected null.");
        if (!UseConvShortcut) throw new NotSupportedException($"{source}: use_conv_shortcut = false (identity shortcut) is not implemented.");
        if (PadMode != "reflect") throw new NotSupportedException($"{source}: pad_mode \"{PadMode}\" is not implemented (supported: reflect).");
        if (new[] { NumFilters, KernelSize, LastKernelSize, ResidualKernelSize, DilationGrowthRate, Compress, HiddenSize, CodebookSize, CodebookDim, SamplingRate }
            .Any(v => v <= 0) || NumResidualLayers < 0 || NumLstmLayers < 0)
            throw new InvalidDataException($"{source}: sizes (num_filters, kernel sizes, hidden_size, codebook_size, …) must be positive.");
        if (UpsamplingRatios.Length == 0 || UpsamplingRatios.Any(r => r <= 0))
            throw new InvalidDataException($"{source}: upsampling_ratios must be a non-empty list of positive numbers.");
        if (CodebookDim != HiddenSize)
            throw new NotSupportedException($"{source}: codebook_dim {CodebookDim} differs from hidden_size {HiddenSize} (projected VQ) is not implemented.");
        if (FrameRate <= 0) throw new InvalidDataException($"{source}: frame_rate {FrameRate} must be positive.");
        return this;
    }

    /// <summary>Reads and validates a Hugging Face <c>config.json</c>.</summary>
    public static EncodecConfig Load(string path) => FromJson(ConfigJson.Read(path), path);

    public static EncodecConfig FromJson(JsonObject json, string source)
    {
        T Get<T>(string key, T fallback) => ConfigJson.Get(json, key, fallback, source);
        if (Get<string?>("model_type", null) is { } type && type != "encodec")
            throw new NotSupportedException($"{source}: model_type \"{type}\" is not an EnCodec model (expected encodec).");
        var d = new EncodecConfig();
        return new EncodecConfig
        {
            SamplingRate = Get("sampling_rate", d.SamplingRate),
            AudioChannels = Get("audio_channels", d.AudioChannels),
            NumFilters = Get("num_filters", d.NumFilters),
            NumResidualLayers = Get("num_residual_layers", d.NumResidualLayers),
            UpsamplingRatios = Get("upsampling_ratios", d.UpsamplingRatios),
            KernelSize = Get("kernel_size", d.KernelSize),
            LastKernelSize = Get("last_kernel_size", d.LastKernelSize),
            ResidualKernelSize = Get("residual_kernel_size", d.ResidualKernelSize),
            DilationGrowthRate = Get("dilation_growth_rate", d.DilationGrowthRate),
            UseCausalConv = Get("use_causal_conv", d.UseCausalConv),
            PadMode = Get("pad_mode", d.PadMode),
            Compress = Get("compress", d.Compress),
            NumLstmLayers = Get("num_lstm_layers", d.NumLstmLayers),
            HiddenSize = Get("hidden_size", d.HiddenSize),
            CodebookSize = Get("codebook_size", d.CodebookSize),
            CodebookDim = Get("codebook_dim", Get("hidden_size", d.HiddenSize)),   // HF: codebook_dim defaults to hidden_size
            TargetBandwidths = Get("target_bandwidths", d.TargetBandwidths),
            NormType = Get("norm_type", d.NormType),
            Normalize = Get("normalize", d.Normalize),
            ChunkLengthS = Get<double?>("chunk_length_s", null),
            UseConvShortcut = Get("use_conv_shortcut", d.UseConvShortcut),
            TrimRightRatio = Get("trim_right_ratio", d.TrimRightRatio),
            FrameRateOverride = Get<int?>("frame_rate", null),
        }.Validate(source);
    }
}
