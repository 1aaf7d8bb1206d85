using System.Globalization;
using Xunit.Abstractions;
using CultureMert.Corpus;
using CultureMert.Corpus.Procedural;
using static CultureMert.Tests.Corpus.Procedural.RenderedAudio;

namespace CultureMert.Tests.Corpus.Procedural;

/// <summary>
/// Musical properties measured in the audio FluidSynth renders, not in the generators' own notes: the svaras of a raga
/// (tuned in cents from a Sa between semitones), the tala cycle and the Greek bar in the onset rhythm, the third of a
/// Western key.
/// </summary>
public class RenderedMusicTests(ITestOutputHelper output)
{
    const double Seconds = 12;

    static (float[] Samples, double Seconds)[] RenderAll(params MusicPiece[] pieces) =>
        pieces.AsParallel().AsOrdered().Select(Render).ToArray();

    static double Hz(double midi) => 440 * Math.Pow(2, (midi - 69) / 12);

    static double Parameter(MusicPiece piece, string name) => double.Parse(piece.Parameters[name], CultureInfo.InvariantCulture);

    /// <summary>The melody's pitch classes about its Sa. The band runs from just below mandra Pa to a twelfth above it,
    /// so the melody's fundamentals and octaves fall in it but not its third harmonics (a twelfth up, another svara).</summary>
    static double[] SvaraHistogram(float[] audio, MusicPiece piece)
    {
        var sa = Hz(Parameter(piece, "melody_sa_midi"));
        var low = sa * Math.Pow(2, -520 / 1200.0);
        return PitchClassHistogram(audio, sa, low, 3 * low);
    }

    [Fact]
    public void Carnatic_KalyaniAndShankarabharanam_PratiMaOrShuddhaMaOnly()
    {
        // Two ragas one svara apart: Kalyani's prati madhyamam (590 cents) against Shankarabharanam's shuddha (498).
        // Sa 51.37: a tonic between semitones, so every svara needs its cents right.
        var kalyani = new RagaSettings(7, 0, "kalyani", "adi", "flute", 51.37, 80, 2, 1.1);
        var shankarabharanam = kalyani with { Raga = "shankarabharanam" };
        var pieces = new[] { kalyani, shankarabharanam }.Select(s => Carnatic.Compose(s, Seconds)).ToArray();
        var audio = RenderAll(pieces);
        var (k, s) = (SvaraHistogram(audio[0].Samples, pieces[0]), SvaraHistogram(audio[1].Samples, pieces[1]));
        output.WriteLine($"render {audio[0].Seconds:0.00} s, {audio[1].Seconds:0.00} s for {Seconds} s pieces");
        Report("kalyani", k, [0, 204, 386, 498, 590, 702, 884, 1088]);
        Report("shankarabharanam", s, [0, 204, 386, 498, 590, 702, 884, 1088]);

        Assert.True(Mass(k, 590) > 4 * Mass(k, 498), $"kalyani: prati Ma {Mass(k, 590):0.000} vs shuddha Ma {Mass(k, 498):0.000}");
        Assert.True(Mass(s, 498) > 4 * Mass(s, 590), $"shankarabharanam: shuddha Ma {Mass(s, 498):0.000} vs prati Ma {Mass(s, 590):0.000}");
        foreach (var (name, h) in new[] { ("kalyani", k), ("shankarabharanam", s) })
        {
            foreach (var svara in new[] { 0, 204, 386, 702, 884, 1088 })   // the shared svaras sound in both
                Assert.True(Mass(h, svara) > 0.01, $"{name}: svara at {svara} cents has only {Mass(h, svara):0.000} of the mass");
            // Plain svaras peak within 10 cents of their just positions. (Ga and Ni carry kampita: their 4 Hz
            // oscillation spreads them into sidebands about 17 cents apart, so their peaks are only reported.)
            foreach (var svara in new[] { 0, 204, 702, 884 }) Assert.InRange(Peak(h, svara), svara - 10, svara + 10);
        }
        Assert.InRange(Peak(k, 590), 580, 600);
        Assert.InRange(Peak(s, 498), 488, 508);
    }

    [Fact]
    public void Hindustani_YamanAndBhairav_TheirOwnSvaras()
    {
        // Yaman: tivra Ma (590), shuddha Re/Dha; Bhairav: shuddha Ma (498), komal Re (90) and Dha (792).
        var yaman = new RagaSettings(11, 0, "yaman", "teentaal", "bansuri", 50.62, 180, 2, 1.2);
        var bhairav = yaman with { Raga = "bhairav" };
        var pieces = new[] { yaman, bhairav }.Select(s => Hindustani.Compose(s, Seconds)).ToArray();
        var audio = RenderAll(pieces);
        var (y, b) = (SvaraHistogram(audio[0].Samples, pieces[0]), SvaraHistogram(audio[1].Samples, pieces[1]));
        Report("yaman", y, [0, 90, 204, 386, 498, 590, 702, 792, 884, 1088]);
        Report("bhairav", b, [0, 90, 204, 386, 498, 590, 702, 792, 884, 1088]);

        Assert.True(Mass(y, 590) > 4 * Mass(y, 498), $"yaman: tivra Ma {Mass(y, 590):0.000} vs shuddha Ma {Mass(y, 498):0.000}");
        Assert.True(Mass(b, 498) > 4 * Mass(b, 590), $"bhairav: shuddha Ma {Mass(b, 498):0.000} vs tivra Ma {Mass(b, 590):0.000}");
        Assert.True(Mass(b, 90) > 4 * Mass(b, 204), $"bhairav: komal Re {Mass(b, 90):0.000} vs shuddha Re {Mass(b, 204):0.000}");
        Assert.True(Mass(b, 792) > 4 * Mass(b, 884), $"bhairav: komal Dha {Mass(b, 792):0.000} vs shuddha Dha {Mass(b, 884):0.000}");
        Assert.True(Mass(y, 884) > 4 * Mass(y, 792), $"yaman: shuddha Dha {Mass(y, 884):0.000} vs komal Dha {Mass(y, 792):0.000}");
    }

    [Fact]
    public void Hindustani_RupakAndTeentaal_BassOnsetsRepeatEveryCycle()
    {
        // Rupak 7 beats at 168/min (2.5 s cycle), Teentaal 16 at 240/min (4 s), full mix. The tabla strikes every beat;
        // the cycle is in where the bayan (the bass) sounds and where it is silent (khali), so the onsets below 210 Hz,
        // among lags of 2 … 1.5 cycles in beats, repeat best after one whole cycle.
        var rupak = new RagaSettings(3, 0, "kafi", "rupak", "sitar", 52.1, 168, 1, 1.2);
        var teentaal = rupak with { Tala = "teentaal", BeatsPerMinute = 240 };
        var pieces = new[] { rupak, teentaal }.Select(s => Hindustani.Compose(s, 15)).ToArray();
        var audio = RenderAll(pieces);
        for (var p = 0; p < 2; p++)
            AssertRepeatsEvery((int)Parameter(pieces[p], "tala_beats"), 60 / Parameter(pieces[p], "tempo_bpm"), audio[p].Samples, pieces[p].Parameters["tala"]);
    }

    [Fact]
    public void Greek_KalamatianosAndZeibekiko_BarsOfSevenAndNineEighths()
    {
        // Kalamatianos 7/8 (3+2+2) at 360 eighths/min, zeibekiko 9/8 (2+2+2+3) at 180, full mix: the low strokes (the
        // drum's doum, the laouto's or guitar's bass notes) repeat best after 7 and 9 eighths among lags of 2 … 1.5 bars.
        var kalamatianos = new GreekSettings(5, 0, "kalamatianos", "peloponnese", "hijaz", "klarino", 62.1, 360);
        var zeibekiko = new GreekSettings(5, 0, "zeibekiko", "asia-minor", "hijaz", "bouzouki", 62.1, 180);
        var pieces = new[] { kalamatianos, zeibekiko }.Select(s => Greek.Compose(s, 15)).ToArray();
        var audio = RenderAll(pieces);
        for (var p = 0; p < 2; p++)
            AssertRepeatsEvery(pieces[p].Parameters["groups"].Split('+').Sum(int.Parse), 60 / Parameter(pieces[p], "tempo_eighths_per_minute"),
                               audio[p].Samples, pieces[p].Parameters["genre"]);
    }

    /// <summary>Among lags of 2 … 1.5 <paramref name="period"/> pulses, the bass onsets' autocorrelation peaks at
    /// <paramref name="period"/>, by a clear margin over the runner-up.</summary>
    void AssertRepeatsEvery(int period, double pulseSeconds, float[] audio, string name)
    {
        var bass = OnsetStrength(audio, bands: 1);
        var lags = Enumerable.Range(2, period + period / 2 - 1).ToDictionary(k => k, k => Autocorrelation(bass, k * pulseSeconds));
        output.WriteLine($"{name}, autocorrelation by lag in pulses: " + string.Join(' ', lags.Select(l => $"{l.Key}:{l.Value:0.00}")));
        var ranked = lags.OrderByDescending(l => l.Value).ToArray();
        Assert.Equal(period, ranked[0].Key);
        Assert.True(ranked[0].Value - ranked[1].Value > 0.1, $"{name}: lag {period} leads lag {ranked[1].Key} by only {ranked[0].Value - ranked[1].Value:0.00}");
    }

    [Fact]
    public void Western_MajorAndMinor_TheThirdAboveTheTonic()
    {
        var major = new WesternSettings(9, 0, "waltz", "major", "flute", "piano", 60, 168);
        var minor = major with { Mode = "minor" };
        var pieces = new[] { major, minor }.Select(s => Western.Compose(s, Seconds)).ToArray();
        var audio = RenderAll(pieces);
        var histograms = audio.Select(a => PitchClassHistogram(a.Samples, Hz(60), 60, 2000)).ToArray();
        Report("major", histograms[0], [0, 200, 300, 400, 500, 700, 800, 900, 1100]);
        Report("minor", histograms[1], [0, 200, 300, 400, 500, 700, 800, 900, 1100]);
        var (M, m) = (histograms[0], histograms[1]);
        Assert.True(Mass(M, 400) > 4 * Mass(M, 300), $"major: major third {Mass(M, 400):0.000} vs minor third {Mass(M, 300):0.000}");
        Assert.True(Mass(m, 300) > 4 * Mass(m, 400), $"minor: minor third {Mass(m, 300):0.000} vs major third {Mass(m, 400):0.000}");
    }

    void Report(string name, double[] histogram, double[] cents) =>
        output.WriteLine($"{name}: " + string.Join("  ", cents.Select(c => $"{c}: {Mass(histogram, c):0.000} @ {Peak(histogram, c):0}")));
}
