using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;
using static CultureMert.Scalars;

namespace CultureMert.Teachers;

/// <summary>
/// Settings of <see cref="FrameFeatures"/>; defaults give 128 log-mel + 12 chroma = 140 features at 75 Hz for 24 kHz audio.
/// </summary>
public sealed record FrameFeatureOptions
{
    public int SampleRate { get; init; } = 24000;
    /// <summary>FFT size and Hann window length: 2048 (85 ms) resolves semitones down to ~C4 for the chroma.</summary>
    public int NFft { get; init; } = 2048;
    /// <summary>320 samples = MERT's CNN stride, so frame t of the features is label t (75 Hz).</summary>
    public int HopLength { get; init; } = 320;
    public int NMels { get; init; } = 128;
    public double FMin { get; init; } = 0;
    public double FMax { get; init; } = 12000;
    /// <summary>HTK mel formula (2595·log10(1 + f/700), unnormalised filters) instead of Slaney's (librosa's default).</summary>
    public bool Htk { get; init; }
    /// <summary>Added before the log: log(mel + eps); 1e-6 keeps digital silence at a finite floor (−13.8).</summary>
    public double LogEps { get; init; } = 1e-6;
    /// <summary>Reference pitch of A4 for the chroma mapping.</summary>
    public double Tuning { get; init; } = 440;
    /// <summary>FFT bins below this frequency do not feed the chroma (their bins are wider than a semitone).</summary>
    public double ChromaFMin { get; init; } = 65.40639;       // C2
    public double ChromaFMax { get; init; } = 4186.009;       // C8
    /// <summary>Width (semitones) of the Gaussian that spreads a bin over neighbouring pitch classes; 0 = hard nearest class.</summary>
    public double ChromaSigma { get; init; } = 0.5;

    public const int ChromaBins = 12;

    /// <summary>Features per frame: mel bands then the 12 pitch classes C, C♯, …, B.</summary>
    public int Dimension => NMels + ChromaBins;

    /// <summary>Checks every setting; <paramref name="source"/> names where they came from (a file or "options").</summary>
    public FrameFeatureOptions Validate(string source = "options")
    {
        void Fail(string what) => throw new ArgumentException($"{source}: {what}");
        if (SampleRate <= 0) Fail($"sample rate must be positive (got {SampleRate}).");
        if (NFft < 16 || NFft % 2 != 0) Fail($"n_fft must be even and at least 16 (got {NFft}).");
        if (HopLength <= 0) Fail($"hop length must be positive (got {HopLength}).");
        if (NMels <= 0) Fail($"n_mels must be positive (got {NMels}).");
        if (FMin < 0 || FMax <= FMin || FMax > SampleRate / 2.0) Fail($"mel range must satisfy 0 ≤ fmin < fmax ≤ sample_rate/2 (got {FMin}..{FMax} Hz at {SampleRate} Hz).");
        if (LogEps <= 0) Fail($"log eps must be positive (got {LogEps}).");
        if (Tuning <= 0) Fail($"tuning must be positive (got {Tuning}).");
        if (ChromaFMin <= 0 || ChromaFMax <= ChromaFMin) Fail($"chroma range must satisfy 0 < fmin < fmax (got {ChromaFMin}..{ChromaFMax} Hz).");
        if (ChromaSigma < 0) Fail($"chroma sigma must be ≥ 0 (got {ChromaSigma}).");
        return this;
    }

    /// <summary>Short tag for teacher names, e.g. <c>logmel128+chroma12</c>.</summary>
    public string Tag => $"{(Htk ? "htkmel" : "logmel")}{NMels}+chroma{ChromaBins}";

    public string ToJson() => JsonSerializer.Serialize(this);

    public static FrameFeatureOptions FromJson(string json, string source)
    {
        try { return (JsonSerializer.Deserialize<FrameFeatureOptions>(json) ?? throw new JsonException("null")).Validate(source); }
        catch (JsonException e) { throw new InvalidDataException($"{source}: unreadable feature options ({e.Message}).", e); }
    }
}

/// <summary>
/// Log-mel + chroma frame features at the hop rate (75 Hz for 24 kHz audio), as the k-means teacher of MERT's first
/// version used (arXiv:2306.00107 §3.1: "k-means on log-mel and chroma features"). Computed from one power spectrogram:
/// <list type="bullet">
/// <item>STFT: Hann window (periodic) of n_fft samples, hop 320, <b>centred with reflect padding</b> of n_fft/2 on each
/// side (torch.stft's default; zero padding for clips of at most n_fft/2 samples, which reflection cannot pad), so a
/// waveform of L samples gives floor(L/320) + 1 frames — one more than MERT's CNN (floor((L−400)/320) + 1), whose
/// frame t spans samples 320t..320t+400, centred at 320t+200, while ours is centred at 320t. Power = |X|², unnormalised.</item>
/// <item>Mel: librosa's <c>filters.mel</c> — Slaney mel scale (linear below 1 kHz, logarithmic above) with Slaney area
/// normalisation (2 / bandwidth), or HTK's formula with peak-1 triangles; then log(mel + eps).</item>
/// <item>Chroma: every bin with ChromaFMin ≤ f ≤ ChromaFMax maps to MIDI pitch p = 69 + 12·log2(f / tuning) and spreads
/// its power over pitch classes with a Gaussian of ChromaSigma semitones in circular pitch-class distance (weights per
/// bin sum to 1; sigma 0 = hard nearest class). Each frame is divided by its largest class (librosa's norm=∞), so
/// chroma is loudness-free; a silent frame stays 0. Simpler than librosa's <c>filters.chroma</c> (no octave weighting).</item>
/// </list>
/// </summary>
public sealed class FrameFeatures : IDisposable
{
    public FrameFeatureOptions Options { get; }

    readonly Tensor window;      // (n_fft)
    readonly Tensor mel_fb;      // (n_mels, bins)
    readonly Tensor chroma_fb;   // (12, bins)

    /// <param name="device">where the features are computed (null: the CPU)</param>
    public FrameFeatures(FrameFeatureOptions? options = null, Device? device = null)
    {
        Options = (options ?? new FrameFeatureOptions()).Validate();
        window = hann_window(Options.NFft, periodic: true, dtype: ScalarType.Float32, device: device);
        mel_fb = MelFilterbank(Options, device);
        chroma_fb = ChromaFilterbank(Options, device);
    }

    /// <summary>Where the features are computed.</summary>
    public Device Device => window.device;

    /// <summary>Frames for a waveform of <paramref name="samples"/> samples: floor(L / hop) + 1 (centred STFT).</summary>
    public int FrameCount(long samples) => (int)(samples / Options.HopLength + 1);

    /// <summary>Features of one mono waveform.</summary>
    /// <param name="waveform">(samples) float32 at <see cref="FrameFeatureOptions.SampleRate"/>, at least one sample, on any device</param>
    /// <returns>(frames, n_mels + 12) float32 on <see cref="Device"/>: log-mel bands, then chroma C..B</returns>
    public Tensor Compute(Tensor waveform)
    {
        if (waveform.dim() != 1) throw new ArgumentException($"Frame features need a 1-D waveform (samples); got shape [{string.Join(", ", waveform.shape)}].", nameof(waveform));
        if (waveform.shape[0] == 0) throw new ArgumentException("Frame features need at least one sample; got an empty waveform.", nameof(waveform));
        using var scope = NewDisposeScope();
        var x = waveform.to(ScalarType.Float32, Device);
        // Reflect padding (torch.stft's default) keeps the first and last frames looking like the audio next to them; zero
        // padding makes a hard onset there, a broadband click that k-means spends clusters on. Reflection needs more than
        // n_fft/2 samples, so shorter clips are zero-padded instead.
        var mode = x.shape[0] > Options.NFft / 2 ? PaddingModes.Reflect : PaddingModes.Constant;
        var spec = stft(x, Options.NFft, hop_length: Options.HopLength, win_length: Options.NFft, window: window, center: true,
            pad_mode: mode, normalized: false, onesided: true, return_complex: true);                   // (bins, frames) complex
        var power = view_as_real(spec).pow(Of(2)).sum(-1);                                                     // (bins, frames)
        var mel = matmul(mel_fb, power).add_(Of(Options.LogEps), One).log_();                                      // (n_mels, frames)
        var chroma = matmul(chroma_fb, power);                                                               // (12, frames)
        var peak = chroma.amax([0], keepdim: true).clamp_min(Of(1e-20));                                       // (1, frames)
        chroma = chroma.div_(peak);
        return cat([mel, chroma], 0).t().contiguous().MoveToOuterDisposeScope();                             // (frames, F)
    }

    // ---- mel scale (librosa.core.convert.hz_to_mel / mel_to_hz) ----

    const double FSp = 200.0 / 3, MinLogHz = 1000, MinLogMel = MinLogHz / FSp;   // Slaney: linear 0..1 kHz, 66.67 Hz per mel
    static readonly double LogStep = Math.Log(6.4) / 27;                          // then ×6.4 every 27 mels

    public static double HzToMel(double hz, bool htk = false) =>
        htk ? 2595 * Math.Log10(1 + hz / 700)
        : hz < MinLogHz ? hz / FSp : MinLogMel + Math.Log(hz / MinLogHz) / LogStep;

    public static double MelToHz(double mel, bool htk = false) =>
        htk ? 700 * (Math.Pow(10, mel / 2595) - 1)
        : mel < MinLogMel ? FSp * mel : MinLogHz * Math.Exp(LogStep * (mel - MinLogMel));

    /// <summary>n points equally spaced on the mel scale from fmin to fmax, in Hz (librosa <c>mel_frequencies</c>).</summary>
    public static double[] MelFrequencies(int n, double fmin, double fmax, bool htk = false)
    {
        var (lo, hi) = (HzToMel(fmin, htk), HzToMel(fmax, htk));
        return Enumerable.Range(0, n).Select(i => MelToHz(lo + (hi - lo) * i / (n - 1), htk)).ToArray();
    }

    /// <summary>
    /// librosa <c>filters.mel(sr, n_fft, n_mels, fmin, fmax, htk, norm="slaney" if not htk else None)</c>: filter m is the
    /// triangle over centre frequencies f[m], f[m+1], f[m+2] of <see cref="MelFrequencies"/>(n_mels + 2), peak at f[m+1].
    /// </summary>
    /// <returns>(n_mels, n_fft/2 + 1) float32 on <paramref name="device"/> (null: the CPU)</returns>
    public static Tensor MelFilterbank(FrameFeatureOptions o, Device? device = null)
    {
        var bins = o.NFft / 2 + 1;
        var f = MelFrequencies(o.NMels + 2, o.FMin, o.FMax, o.Htk);
        var w = new float[o.NMels * bins];
        for (var m = 0; m < o.NMels; m++)
        {
            var norm = o.Htk ? 1 : 2 / (f[m + 2] - f[m]);               // Slaney: constant energy per band
            for (var k = 0; k < bins; k++)
            {
                var hz = (double)k * o.SampleRate / o.NFft;
                var lower = (hz - f[m]) / (f[m + 1] - f[m]);
                var upper = (f[m + 2] - hz) / (f[m + 2] - f[m + 1]);
                w[m * bins + k] = (float)(Math.Max(0, Math.Min(lower, upper)) * norm);
            }
        }
        return tensor(w, [o.NMels, bins], device: device);
    }

    /// <summary>Pitch-class weights of each FFT bin (see the class summary); class 0 = C, 9 = A.</summary>
    /// <returns>(12, n_fft/2 + 1) float32 on <paramref name="device"/> (null: the CPU), columns summing to 1 inside the chroma
    /// range and 0 outside</returns>
    public static Tensor ChromaFilterbank(FrameFeatureOptions o, Device? device = null)
    {
        const int C = FrameFeatureOptions.ChromaBins;
        var bins = o.NFft / 2 + 1;
        var w = new float[C * bins];
        var col = new double[C];
        for (var k = 1; k < bins; k++)
        {
            var hz = (double)k * o.SampleRate / o.NFft;
            if (hz < o.ChromaFMin || hz > o.ChromaFMax) continue;
            var pitch = 69 + 12 * Math.Log2(hz / o.Tuning);               // MIDI: 60 = C4, so pitch mod 12 = class
            if (o.ChromaSigma == 0) { w[(int)(((long)Math.Round(pitch) % C + C) % C) * bins + k] = 1; continue; }
            var sum = 0.0;
            for (var c = 0; c < C; c++)
            {
                var d = ((pitch - c) % C + C) % C;                         // 0..12
                if (d >= C / 2.0) d -= C;                                  // circular distance −6..6
                sum += col[c] = Math.Exp(-0.5 * d * d / (o.ChromaSigma * o.ChromaSigma));
            }
            for (var c = 0; c < C; c++) w[c * bins + k] = (float)(col[c] / sum);
        }
        return tensor(w, [C, bins], device: device);
    }

    public void Dispose()
    {
        window.Dispose();
        mel_fb.Dispose();
        chroma_fb.Dispose();
    }
}
