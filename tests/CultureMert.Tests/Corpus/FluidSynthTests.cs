using CultureMert.Corpus;
using Xunit.Abstractions;
using static CultureMert.Tests.Corpus.ScoreFixtures;

namespace CultureMert.Tests.Corpus;

public class FluidSynthTests(ITestOutputHelper output)
{
    static readonly FluidSynthOptions Dry = new() { Reverb = false };

    /// <summary>
    /// One A4 (440 Hz) held 2 s with a pitch bend, the bend range stated by ScoreMidi.SetPrograms. Expected frequencies
    /// by hand: +2048/8192 of ±2 semitones = +50 cents → 440·2^(50/1200) = 452.893 Hz; −4096/8192 of ±2 = −100 cents →
    /// G♯4 = 415.305 Hz; +512/8192 of ±12 semitones = +75 cents → 440·2^(75/1200) = 459.480 Hz (under FluidSynth's
    /// default ±2 this bend would give +12.5 cents, 443.19 Hz, so this case fails unless our RPN 0 reaches the synth).
    /// </summary>
    [Theory]
    [InlineData(2, 2048, 452.893, 0)]     // piano: FluidR3's best-tuned sample (unbent A4 within 0.1 cent)
    [InlineData(2, -4096, 415.305, 0)]
    [InlineData(12, 512, 459.480, 0)]
    [InlineData(2, 2048, 452.893, 40)]    // violin (kemençe-like); its sample is 1 cent sharp
    [InlineData(2, -4096, 415.305, 40)]
    public void Render_BentNote_FundamentalWithinFewCents(int rangeSemitones, int bend, double expectedHz, int program)
    {
        var events = Score(500_000, (1, null, [(0, 4, 69, bend)]));
        ScoreMidi.SetPrograms(events, new Dictionary<int, int> { [1] = program }, "bent-a4", rangeSemitones);
        var audio = FluidSynth.Render(Bytes(events), "bent-a4", Dry);
        var hz = PeakHz(audio, 24000, 0.3, 1.2, 380, 500);
        output.WriteLine($"program {program}, range ±{rangeSemitones}, bend {bend:+0;-0}: {hz:F3} Hz, expected {expectedHz} Hz, {Cents(hz, expectedHz):+0.00;-0.00} cents");
        Assert.InRange(Cents(hz, expectedHz), -3, 3);
    }

    [Fact]
    public void Render_MaxSeconds_CutsScoreAndAudio()
    {
        // 8 quarter notes at 120 bpm = 4 s of score; keep 1.5 s.
        var events = Score(500_000, (1, 0, Enumerable.Range(0, 8).Select(i => ((double)i, 1.0, 60 + i, 0)).ToArray()));
        var full = FluidSynth.Render(Bytes(events), "scale", Dry);
        var cut = FluidSynth.Render(Bytes(events), "scale", Dry with { MaxSeconds = 1.5 });
        Assert.True(full.Length >= 4 * 24000 - 2400, $"{full.Length} samples for a 4 s score");   // plus release tails
        Assert.InRange(cut.Length, 1.5 * 24000 - 1200, 1.5 * 24000);
    }

    [Fact]
    public void Render_MissingExecutable_NamesPieceAndInstall()
    {
        var e = Assert.Throws<FileNotFoundException>(() => FluidSynth.Render(Bytes(Score(null, (1, 0, [(0, 1, 60, 0)]))), "song07.mid",
                                                                             Dry with { Executable = "/no/such/fluidsynth" }));
        Assert.Contains("song07.mid", e.Message);
        Assert.Contains("apt-get install fluidsynth fluid-soundfont-gm", e.Message);
    }

    [Fact]
    public void Render_FluidSynthFails_NamesPieceAndExitCode()
    {
        var e = Assert.Throws<InvalidOperationException>(() => FluidSynth.Render(Bytes(Score(null, (1, 0, [(0, 1, 60, 0)]))), "song07.mid",
                                                                                 Dry with { Executable = "false" }));   // coreutils false: exit 1, no output
        Assert.Contains("song07.mid", e.Message);
        Assert.Contains("exited with code 1", e.Message);
    }

    [Fact]
    public void Render_NoNotes_SaysSilence()
    {
        var events = Score(500_000, (1, 0, [(4, 1, 60, 0)]));   // the only note starts at 2 s; keep the first second
        var e = Assert.Throws<InvalidDataException>(() => FluidSynth.Render(Bytes(events), "rest.mid", Dry with { MaxSeconds = 1 }));
        Assert.Contains("rest.mid", e.Message);
        Assert.Contains("silence", e.Message);
    }

    [Fact]
    public void Render_MissingSoundFont_NamesIt()
    {
        var e = Assert.Throws<FileNotFoundException>(() => FluidSynth.Render(Bytes(Score(null, (1, 0, [(0, 1, 60, 0)]))), "song07.mid",
                                                                             Dry with { SoundFont = "/no/such.sf2" }));
        Assert.Contains("/no/such.sf2", e.Message);
        Assert.Contains("song07.mid", e.Message);
    }
}
