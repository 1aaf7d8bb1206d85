using System.Diagnostics;
using System.Numerics;
using CultureMert.Corpus;
using NAudio.Midi;

namespace CultureMert.Tests.Corpus.Procedural;

/// <summary>
/// Renders a piece as the corpus does (<see cref="FluidSynth"/>) and measures the audio: a pitch-class histogram and an
/// onset-strength autocorrelation.
/// </summary>
public static class RenderedAudio
{
    public const int SampleRate = 24000;

    /// <returns>mono samples at 24 kHz (the corpus's own renderer), and the seconds it took</returns>
    public static (float[] Samples, double Seconds) Render(MusicPiece piece)
    {
        var clock = Stopwatch.StartNew();
        var audio = FluidSynth.Render(piece, new FluidSynthOptions { SampleRate = SampleRate });
        return (audio, clock.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// Steady spectral peaks of every frame (8192-point Hann FFT, hop 1024; peak frequency refined by a parabola through
    /// the log magnitudes) between <paramref name="lowHz"/> and <paramref name="highHz"/>, folded into pitch classes
    /// relative to <paramref name="referenceHz"/> in 10-cent bins (bin k centred on 10k cents), weighted by magnitude,
    /// normalised to sum 1. Peaks below 5% of the frame's strongest are ignored, and so are peaks with no peak within
    /// 15 cents in the frame before: a glide's passing pitches, which a 340 ms window would average into its midpoint,
    /// are not pitch classes of the music (raga histograms count stable pitches the same way).
    /// </summary>
    public static double[] PitchClassHistogram(float[] x, double referenceHz, double lowHz, double highHz)
    {
        const int n = 8192, hop = 1024;
        var previous = new List<double>();
        var histogram = new double[120];
        var window = Hann(n);
        var spectrum = new Complex[n];
        var magnitude = new double[n / 2];
        var (lo, hi) = ((int)(lowHz * n / SampleRate), (int)Math.Ceiling(highHz * n / SampleRate));
        for (var start = 0; start + n <= x.Length; start += hop)
        {
            for (var i = 0; i < n; i++) spectrum[i] = x[start + i] * window[i];
            Fft(spectrum);
            for (var k = 0; k < n / 2; k++) magnitude[k] = spectrum[k].Magnitude;
            var floor = 0.05 * magnitude.AsSpan(lo, hi - lo).ToArray().Max();
            var peaks = new List<double>();
            if (floor <= 0) { previous = peaks; continue; }
            for (var k = Math.Max(lo, 1); k < Math.Min(hi, n / 2 - 1); k++)
            {
                if (magnitude[k] < floor || magnitude[k] <= magnitude[k - 1] || magnitude[k] < magnitude[k + 1]) continue;
                var (a, b, c) = (Math.Log(magnitude[k - 1] + 1e-12), Math.Log(magnitude[k]), Math.Log(magnitude[k + 1] + 1e-12));
                var f = (k + 0.5 * (a - c) / (a - 2 * b + c)) * SampleRate / n;
                if (f < lowHz || f >= highHz) continue;
                peaks.Add(f);
                if (!previous.Any(g => Math.Abs(1200 * Math.Log2(f / g)) <= 15)) continue;
                var cents = 1200 * Math.Log2(f / referenceHz);
                histogram[(((int)Math.Round(cents / 10)) % 120 + 120) % 120] += magnitude[k];
            }
            previous = peaks;
        }
        var total = histogram.Sum();
        return histogram.Select(h => h / total).ToArray();
    }

    /// <summary>The histogram's mass within ±15 cents of <paramref name="cents"/> (three bins).</summary>
    public static double Mass(double[] histogram, double cents)
    {
        var centre = (int)Math.Round(cents / 10);
        return Enumerable.Range(centre - 1, 3).Sum(k => histogram[(k % 120 + 120) % 120]);
    }

    /// <summary>Where the histogram peaks within ±30 cents of <paramref name="cents"/>: the largest bin, refined by a
    /// parabola through it and its neighbours.</summary>
    public static double Peak(double[] histogram, double cents)
    {
        double At(int k) => histogram[(k % 120 + 120) % 120];
        var centre = (int)Math.Round(cents / 10);
        var top = Enumerable.Range(centre - 3, 7).MaxBy(At);
        var (a, b, c) = (At(top - 1), At(top), At(top + 1));
        var denominator = a - 2 * b + c;
        return 10 * (top + (denominator == 0 ? 0 : 0.5 * (a - c) / denominator));
    }

    /// <summary>Onset strength at 100 frames a second: spectral flux (1024-point Hann, hop 240) of log-compressed
    /// magnitudes, half-wave rectified, averaged within four bands (below 210 Hz, to 820 Hz, to 3 kHz, above) and summed,
    /// so that a bass stroke counts as much as a bright one (band-wise accent, as in Klapuri's meter analysis); minus
    /// its 1-second moving average. <paramref name="bands"/> keeps only the lowest bands (1: the bass alone).</summary>
    static readonly int[] Bands = [1, 9, 35, 128, 512];   // FFT bins of 23.4 Hz

    public static double[] OnsetStrength(float[] x, int bands = 4)
    {
        const int n = 1024, hop = SampleRate / 100;
        var window = Hann(n);
        var spectrum = new Complex[n];
        var previous = new double[n / 2];
        var flux = new List<double>();
        for (var start = 0; start + n <= x.Length; start += hop)
        {
            for (var i = 0; i < n; i++) spectrum[i] = x[start + i] * window[i];
            Fft(spectrum);
            var sum = 0.0;
            for (var band = 0; band < bands; band++)
            {
                var bandSum = 0.0;
                for (var k = Bands[band]; k < Bands[band + 1]; k++)
                {
                    var level = Math.Log(1 + 1000 * spectrum[k].Magnitude);
                    bandSum += Math.Max(0, level - previous[k]);
                    previous[k] = level;
                }
                sum += bandSum / (Bands[band + 1] - Bands[band]);
            }
            flux.Add(start == 0 ? 0 : sum);
        }
        var prefix = new double[flux.Count + 1];
        for (var t = 0; t < flux.Count; t++) prefix[t + 1] = prefix[t] + flux[t];
        return flux.Select((f, t) =>
        {
            var (from, to) = (Math.Max(0, t - 50), Math.Min(flux.Count, t + 51));
            return Math.Max(0, f - (prefix[to] - prefix[from]) / (to - from));
        }).ToArray();
    }

    /// <summary>Autocorrelation of <paramref name="envelope"/> at <paramref name="lagSeconds"/> (the best of the three
    /// nearest frames), each lag's sum divided by its overlap and by the zero-lag value.</summary>
    public static double Autocorrelation(double[] envelope, double lagSeconds)
    {
        double At(int lag)
        {
            var sum = 0.0;
            for (var t = 0; t + lag < envelope.Length; t++) sum += envelope[t] * envelope[t + lag];
            return sum / (envelope.Length - lag);
        }
        var centre = (int)Math.Round(lagSeconds * 100);
        return new[] { centre - 1, centre, centre + 1 }.Max(At) / At(0);
    }

    /// <summary>The piece with only its percussion tracks (MIDI channel 10) and the conductor track.</summary>
    public static MusicPiece PercussionOnly(MusicPiece piece)
    {
        var file = new MidiFile(new MemoryStream(piece.Midi), false);
        var kept = new MidiEventCollection(1, file.DeltaTicksPerQuarterNote);
        for (var t = 0; t < file.Tracks; t++)
            if (t == 0 || file.Events[t].Any(e => e is NoteEvent { Channel: 10 })) kept.AddTrack(file.Events[t]);
        using var stream = new MemoryStream();
        MidiFile.Export(stream, kept);
        return piece with { Midi = stream.ToArray() };
    }

    static double[] Hann(int n) => Enumerable.Range(0, n).Select(i => 0.5 - 0.5 * Math.Cos(2 * Math.PI * i / n)).ToArray();

    /// <summary>In-place radix-2 FFT.</summary>
    static void Fft(Complex[] a)
    {
        var n = a.Length;
        for (int i = 1, j = 0; i < n; i++)
        {
            var bit = n >> 1;
            for (; (j & bit) != 0; bit >>= 1) j ^= bit;
            j ^= bit;
            if (i < j) (a[i], a[j]) = (a[j], a[i]);
        }
        for (var len = 2; len <= n; len <<= 1)
        {
            var w = Complex.FromPolarCoordinates(1, -2 * Math.PI / len);
            for (var i = 0; i < n; i += len)
            {
                var wk = Complex.One;
                for (var k = 0; k < len / 2; k++, wk *= w)
                {
                    var (u, v) = (a[i + k], a[i + k + len / 2] * wk);
                    (a[i + k], a[i + k + len / 2]) = (u + v, u - v);
                }
            }
        }
    }
}
