using static TorchSharp.torch;

namespace CultureMert.Pretraining;

/// <summary>A crop of a waveform and where its labels start.</summary>
/// <param name="Audio">float (cropSamples)</param>
/// <param name="Start">first sample of the source that the crop holds</param>
/// <param name="LabelOffset">first 75 Hz label frame of the crop, round(Start/320)</param>
/// <param name="PaddedSamples">zeros appended at the end (0 unless padding was requested for a short input)</param>
public sealed record Crop(Tensor Audio, int Start, int LabelOffset, int PaddedSamples);

/// <summary>fairseq-style random crop for MERT pre-training (spec mert.md §4 step 7, §7 "crops").</summary>
/// <remarks>
/// start ~ U{0..len − cropSamples} (fairseq <c>randint(0, diff + 1)</c>; one draw, also when diff = 0).
/// Label offset = round(start·75/24000) = round(start/320) with Python's round-half-to-even (C#'s default
/// <see cref="Math.Round(double)"/>), e.g. 160 → 0, 480 → 2. Inputs shorter than the crop throw unless
/// <c>pad</c> is set; then the whole input is kept (start 0, offset 0, no random draw) and zeros are appended.
/// </remarks>
public static class RandomCrop
{
    public const int SamplesPerLabelFrame = 320;   // 24000 Hz / 75 Hz

    public static int LabelOffset(int start)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        return (int)Math.Round((double)start / SamplesPerLabelFrame, MidpointRounding.ToEven);
    }

    /// <param name="wave">float (samples), 1-D</param>
    public static Crop Apply(Tensor wave, int cropSamples, Random rng, bool pad = false)
    {
        ArgumentNullException.ThrowIfNull(wave);
        ArgumentNullException.ThrowIfNull(rng);
        if (wave.dim() != 1) throw new ArgumentException($"expected a 1-D waveform, got shape [{string.Join(", ", wave.shape)}].", nameof(wave));
        if (cropSamples <= 0) throw new ArgumentException($"cropSamples must be > 0, got {cropSamples}.", nameof(cropSamples));
        var len = (int)wave.shape[0];
        if (len < cropSamples)
        {
            if (!pad) throw new ArgumentException($"waveform has {len} samples, fewer than the crop of {cropSamples}; pass pad: true to zero-pad.", nameof(wave));
            var padded = nn.functional.pad(wave, new long[] { 0, cropSamples - len });
            return new Crop(padded, 0, 0, cropSamples - len);
        }
        var start = rng.Next(0, len - cropSamples + 1);
        return CropAt(wave, cropSamples, start);
    }

    /// <summary>Deterministic crop at a given start (0 ≤ start ≤ len − cropSamples).</summary>
    public static Crop CropAt(Tensor wave, int cropSamples, int start)
    {
        var len = (int)wave.shape[0];
        if (start < 0 || cropSamples <= 0 || start + cropSamples > len)
            throw new ArgumentException($"crop [{start}, {start + cropSamples}) does not fit a waveform of {len} samples.");
        return new Crop(wave.narrow(0, start, cropSamples).clone(), start, LabelOffset(start), 0);
    }
}
