using System.Numerics;
using CultureMert.Corpus;
using NAudio.Midi;

namespace CultureMert.Tests.Corpus;

/// <summary>
/// The repository's corpora/ (copied next to the tests), MIDI files written here with NAudio, and a pitch estimator
/// independent of the code under test: a zero-padded FFT peak with parabolic interpolation of the log magnitude.
/// </summary>
static class ScoreFixtures
{
    public static string CorpusDir(string name) => Path.Combine(AppContext.BaseDirectory, "corpora", name);

    /// <summary>One track per part (channel, GM program, notes as (start beat, beats, MIDI note, bend)), 480 ticks a quarter, optional tempo.</summary>
    public static MidiEventCollection Score(int? microsPerQuarter, params (int Channel, int? Program, (double Start, double Beats, int Note, int Bend)[] Notes)[] parts)
    {
        var events = new MidiEventCollection(1, 480);
        events.AddTrack();
        if (microsPerQuarter is { } mpq) events.AddEvent(new TempoEvent(mpq, 0), 0);
        events.AddEvent(new TextEvent("conductor", MetaEventType.SequenceTrackName, 0), 0);
        foreach (var (channel, program, notes) in parts)
        {
            var t = events.Tracks;
            events.AddTrack();
            if (program is { } p) events.AddEvent(new PatchChangeEvent(0, channel, p), t);
            foreach (var (start, beats, note, bend) in notes)
            {
                var at = (long)(start * 480);
                events.AddEvent(new PitchWheelChangeEvent(at, channel, 8192 + bend), t);
                var on = new NoteOnEvent(at, channel, note, 100, (int)(beats * 480));
                events.AddEvent(on, t);
                events.AddEvent(on.OffEvent!, t);
            }
        }
        return events;
    }

    public static byte[] Bytes(MidiEventCollection events) => ScoreMidi.Write(events);

    /// <summary>A metadata.csv and the given files in a folder laid out like corpora/symbtr.</summary>
    public static void WriteCorpus(string folder, string header, params (string Row, byte[] Midi)[] files)
    {
        Directory.CreateDirectory(Path.Combine(folder, "midi"));
        foreach (var (row, midi) in files) File.WriteAllBytes(Path.Combine(folder, row.Split(',')[0]), midi);
        File.WriteAllLines(Path.Combine(folder, "metadata.csv"), files.Select(f => f.Row).Prepend(header));
    }

    /// <summary>
    /// The strongest spectral peak between <paramref name="lowHz"/> and <paramref name="highHz"/> in
    /// samples[start, start + length): Hann window, zero-padded 8×, parabola through the log magnitudes of the peak bin
    /// and its neighbours.
    /// </summary>
    public static double PeakHz(float[] samples, int rate, double startSeconds, double seconds, double lowHz, double highHz)
    {
        var (start, length) = ((int)(startSeconds * rate), (int)(seconds * rate));
        Assert.True(start + length <= samples.Length, $"audio too short: {samples.Length} samples, need {start + length}");
        var n = 1;
        while (n < 8 * length) n <<= 1;
        var x = new Complex[n];
        for (var i = 0; i < length; i++) x[i] = samples[start + i] * (0.5 - 0.5 * Math.Cos(2 * Math.PI * i / (length - 1)));
        Fft(x);
        var (lo, hi) = ((int)(lowHz * n / rate), (int)Math.Ceiling(highHz * n / rate));
        var k = Enumerable.Range(lo, hi - lo + 1).MaxBy(i => x[i].Magnitude);
        double L(int i) => Math.Log(x[i].Magnitude + 1e-30);
        var delta = 0.5 * (L(k - 1) - L(k + 1)) / (L(k - 1) - 2 * L(k) + L(k + 1));
        return (k + delta) * rate / n;
    }

    public static double Cents(double measuredHz, double expectedHz) => 1200 * Math.Log2(measuredHz / expectedHz);

    /// <summary>Equal-tempered frequency of a MIDI note (A4 = note 69 = 440 Hz) raised by <paramref name="cents"/>.</summary>
    public static double Hz(int note, double cents = 0) => 440 * Math.Pow(2, (note - 69 + cents / 100) / 12);

    // Iterative radix-2 Cooley–Tukey, in place; n a power of two.
    static void Fft(Complex[] x)
    {
        var n = x.Length;
        for (int i = 1, j = 0; i < n; i++)
        {
            var bit = n >> 1;
            for (; (j & bit) != 0; bit >>= 1) j ^= bit;
            j ^= bit;
            if (i < j) (x[i], x[j]) = (x[j], x[i]);
        }
        for (var len = 2; len <= n; len <<= 1)
        {
            var w = Complex.FromPolarCoordinates(1, -2 * Math.PI / len);
            for (var i = 0; i < n; i += len)
            {
                var wk = Complex.One;
                for (var k = 0; k < len / 2; k++)
                {
                    var (a, b) = (x[i + k], x[i + k + len / 2] * wk);
                    (x[i + k], x[i + k + len / 2]) = (a + b, a - b);
                    wk *= w;
                }
            }
        }
    }
}
