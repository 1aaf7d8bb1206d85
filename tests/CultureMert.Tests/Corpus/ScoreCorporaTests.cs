using CultureMert.Corpus;
using NAudio.Midi;
using Xunit.Abstractions;
using static CultureMert.Tests.Corpus.ScoreFixtures;
using static CultureMert.Tests.Fixtures;

namespace CultureMert.Tests.Corpus;

public class ScoreCorporaTests(ITestOutputHelper output)
{
    const string SymbTrHeader = "path,makam,form,usul,title,composer";
    const string Acem = "acem--ilahi--duyek--aldanma_dunya--zekai_dede";

    static byte[] SymbTrFile(string id) => File.ReadAllBytes(Path.Combine(CorpusDir("symbtr"), "midi", id + ".mid"));

    /// <summary>
    /// The first note of SymbTr's acem ilahi "Aldanma dünya" is MIDI 72 (C5, 523.251 Hz) with bend 7960 − 8192 = −232
    /// under the file's own RPN range of ±2 semitones: −232/8192 · 200 = −5.664 cents → 521.542 Hz. Five semitones down
    /// it is G4 (391.995 Hz) with the same bend → 390.715 Hz. Rendered on the piano (FluidR3's best-tuned sample).
    /// </summary>
    [Fact]
    public void SymbTr_TransposedPiece_RendersAtTheShiftedMakamPitch()
    {
        using var dir = new TempDir();
        WriteCorpus(dir.Path, SymbTrHeader, ($"midi/{Acem}.mid,acem,ilahi,duyek,aldanma_dunya,zekai_dede", SymbTrFile(Acem)));
        var fixedChoices = new ScoreCorpusOptions { MelodyPrograms = [0], TempoFactor = (1, 1), Transposition = (0, 0) };
        var render = new FluidSynthOptions { Reverb = false, MaxSeconds = 1 };
        var plain = FluidSynth.Render(ScoreCorpora.ReadSymbTr(dir.Path, fixedChoices).Single(), render);
        var down = ScoreCorpora.ReadSymbTr(dir.Path, fixedChoices with { Transposition = (-5, -5) }).Single();
        Assert.Equal("-5", down.Parameters["transpose"]);
        var lowered = FluidSynth.Render(down, render);
        // The first note lasts 456 ticks at 714286 µs a quarter = 0.679 s: measure 0.1–0.6 s.
        var (hz, hzDown) = (PeakHz(plain, 24000, 0.1, 0.5, 440, 620), PeakHz(lowered, 24000, 0.1, 0.5, 330, 465));
        output.WriteLine($"untransposed {hz:F3} Hz ({Cents(hz, 521.542):+0.00;-0.00} cents), −5: {hzDown:F3} Hz ({Cents(hzDown, 390.715):+0.00;-0.00} cents), shift {Cents(hzDown, hz):F2} cents");
        Assert.InRange(Cents(hz, 521.542), -3, 3);
        Assert.InRange(Cents(hzDown, 390.715), -3, 3);
        Assert.InRange(Cents(hzDown, hz), -503, -497);
    }

    [Fact]
    public void SymbTr_Metadata_LabelsIdsCultureAndParameters()
    {
        using var dir = new TempDir();
        var tune = Bytes(Score(600_000, (1, null, [(0, 1, 69, 0), (1, 1, 71, -1855)])));
        WriteCorpus(dir.Path, SymbTrHeader,
            ("midi/hicaz--sarki--aksak--a--b.mid,hicaz,sarki,aksak,a,b", tune),
            ("midi/rast--pesrev--.mid,rast,pesrev,,\"title, with comma\",", tune));
        var pieces = ScoreCorpora.ReadSymbTr(dir.Path);
        Assert.Equal(["hicaz--sarki--aksak--a--b", "rast--pesrev--"], pieces.Select(p => p.Id));
        Assert.All(pieces, p => Assert.Equal("turkish-makam", p.Culture));
        Assert.Equal(["makam--hicaz", "form--sarki", "usul--aksak"], pieces[0].Labels);
        Assert.Equal(["makam--rast", "form--pesrev"], pieces[1].Labels);      // empty usul: no label
        var p0 = pieces[0].Parameters;
        Assert.Equal(Path.Combine(dir.Path, "midi/hicaz--sarki--aksak--a--b.mid"), p0["source"]);
        Assert.Equal("42", p0["seed"]);
        Assert.InRange(int.Parse(p0["transpose"]), -5, 2);
        Assert.InRange(double.Parse(p0["tempo_factor"], System.Globalization.CultureInfo.InvariantCulture), 0.85, 1.15);
        Assert.Matches(@"^1:\d+$", p0["programs"]);
        Assert.Contains(int.Parse(p0["programs"][2..]), new[] { 77, 73, 75, 46, 15, 24, 106, 104, 40, 110 });
        Assert.Equal("2", p0["bend_range"]);
    }

    [Fact]
    public void SymbTr_Rewrite_TransposesNotesKeepsBendsDropsRestsScalesTempoStatesBendRange()
    {
        using var dir = new TempDir();
        // The middle note is a SymbTr rest: note 0, with a velocity.
        WriteCorpus(dir.Path, SymbTrHeader, ("midi/x.mid,hicaz,sarki,aksak,a,b", Bytes(Score(600_000, (1, 5, [(0, 1, 69, 0), (1, 1, 0, 0), (2, 1, 71, -1855)])))));
        var piece = ScoreCorpora.ReadSymbTr(dir.Path, new ScoreCorpusOptions { Transposition = (-4, -4), TempoFactor = (1.2, 1.2), MelodyPrograms = [104] }).Single();
        var events = new MidiFile(new MemoryStream(piece.Midi), true).Events;
        var all = events.SelectMany(t => t).ToList();
        Assert.Equal([65, 67], all.OfType<NoteOnEvent>().Where(e => e.Velocity > 0).Select(e => e.NoteNumber));
        Assert.Equal([8192, 8192, 8192 - 1855], all.OfType<PitchWheelChangeEvent>().Select(e => e.Pitch));
        Assert.DoesNotContain(all.OfType<NoteEvent>(), e => e.NoteNumber < 60);
        Assert.Equal(500_000, all.OfType<TempoEvent>().Single().MicrosecondsPerQuarterNote);     // 600000 / 1.2
        Assert.Equal([104], all.OfType<PatchChangeEvent>().Select(e => e.Patch));               // the file's program 5 replaced
        // RPN 0 = 2 semitones, then RPN null, before the first note.
        var cc = all.OfType<ControlChangeEvent>().Select(e => ((int)e.Controller, e.ControllerValue)).ToList();
        Assert.Equal([(101, 0), (100, 0), (6, 2), (38, 0), (101, 127), (100, 127)], cc);
        Assert.True(all.OfType<ControlChangeEvent>().Max(e => e.AbsoluteTime) == 0);
    }

    [Fact]
    public void Nottingham_MelodyAndChords_GetChannelsAndInstrumentsOfTheirOwn()
    {
        var pieces = ScoreCorpora.ReadNottingham(CorpusDir("nottingham"), new ScoreCorpusOptions { MaxPieces = 3 });
        Assert.Equal(3, pieces.Count);
        Assert.Equal(3, pieces.Select(p => p.Labels.Single()).Distinct().Count());    // one per class: the sample is stratified
        foreach (var p in pieces)
        {
            Assert.Equal("western-folk", p.Culture);
            Assert.StartsWith("tune_type--", p.Labels.Single());
            var programs = p.Parameters["programs"].Split(' ').Select(s => s.Split(':').Select(int.Parse).ToArray()).ToList();
            Assert.Equal([1, 2], programs.Select(c => c[0]));                         // chords moved off the melody's channel 1
            Assert.Contains(programs[0][1], new[] { 110, 40, 73, 72, 21, 0 });
            Assert.Contains(programs[1][1], new[] { 0, 21, 24, 25 });
            var events = new MidiFile(new MemoryStream(p.Midi), true).Events;
            Assert.Equal([1, 2], events.SelectMany(t => t).OfType<PatchChangeEvent>().Select(e => e.Channel).Order());
        }
    }

    [Fact]
    public void SymbTr_PercussionChannel_NeitherTransposedNorReassigned()
    {
        const string id = "nihavent--sazsemaisi--aksaksemai----vecdi_seyhun";   // pan flute, bass and drums on channel 10
        using var dir = new TempDir();
        WriteCorpus(dir.Path, SymbTrHeader, ($"midi/{id}.mid,nihavent,sazsemaisi,aksaksemai,,vecdi_seyhun", SymbTrFile(id)));
        var piece = ScoreCorpora.ReadSymbTr(dir.Path, new ScoreCorpusOptions { Transposition = (2, 2) }).Single();
        Assert.Matches(@"^1:\d+ 2:\d+$", piece.Parameters["programs"]);
        static List<int> Notes(byte[] midi, int channel) => new MidiFile(new MemoryStream(midi), false).Events.SelectMany(t => t)
            .OfType<NoteOnEvent>().Where(e => e.Channel == channel && e.Velocity > 0).Select(e => e.NoteNumber).ToList();
        var original = SymbTrFile(id);
        Assert.Equal(Notes(original, 10), Notes(piece.Midi, 10));
        Assert.Equal(Notes(original, 1).Select(n => n + 2), Notes(piece.Midi, 1));
    }

    [Fact]
    public void Read_SameSeed_SameBytesAndParameters_OtherSeed_OtherChoices()
    {
        var o = new ScoreCorpusOptions { MaxPieces = 4, TopClasses = 4, Seed = 7 };
        var (a, b) = (ScoreCorpora.ReadSymbTr(CorpusDir("symbtr"), o), ScoreCorpora.ReadSymbTr(CorpusDir("symbtr"), o));
        Assert.Equal(a.Select(p => p.Id), b.Select(p => p.Id));
        Assert.All(a.Zip(b), x => Assert.Equal(x.First.Midi, x.Second.Midi));
        Assert.All(a.Zip(b), x => Assert.Equal(x.First.Parameters, x.Second.Parameters));
        // Another seed draws other choices for the same piece (transposition, tempo or programs).
        var first = a[0];
        using var dir = new TempDir();
        WriteCorpus(dir.Path, SymbTrHeader, ($"midi/{first.Id}.mid,{string.Join(',', first.Id.Split("--"))}", File.ReadAllBytes(first.Parameters["source"])));
        var reseeded = Enumerable.Range(100, 5).Select(s => ScoreCorpora.ReadSymbTr(dir.Path, new ScoreCorpusOptions { Seed = s }).Single());
        Assert.Contains(reseeded, r => r.Parameters["transpose"] != first.Parameters["transpose"] || r.Parameters["programs"] != first.Parameters["programs"]);
    }

    /// <summary>
    /// corpora/symbtr/metadata.csv lists hicaz 129, nihavent 105, ussak 101 pieces, then huzzam 81. Counted with a separate
    /// Python MIDI parser: of these, 7, 16 and 7 files hold no notes at all; so 122, 89 and 94 pieces, and 30 warnings.
    /// </summary>
    [Fact]
    public void SymbTr_TopThreeMakams_KeepsTheirPiecesAndSkipsEmptyFiles()
    {
        var warnings = new List<string>();
        var pieces = ScoreCorpora.ReadSymbTr(CorpusDir("symbtr"), new ScoreCorpusOptions { TopClasses = 3 }, warnings.Add);
        Assert.Equal(["makam--hicaz", "makam--nihavent", "makam--ussak"], pieces.Select(p => p.Labels[0]).Distinct().Order());
        Assert.Equal((122, 89, 94), (pieces.Count(p => p.Labels[0] == "makam--hicaz"), pieces.Count(p => p.Labels[0] == "makam--nihavent"),
                                       pieces.Count(p => p.Labels[0] == "makam--ussak")));
        Assert.Equal(30, warnings.Count);
        Assert.All(warnings, w => Assert.EndsWith(".mid: no melodic notes; skipped.", w));
        Assert.Contains(warnings, w => w.Contains("hicaz--sarki--agiraksak--omrum_artar--bimen_sen.mid"));

        var six = ScoreCorpora.ReadSymbTr(CorpusDir("symbtr"), new ScoreCorpusOptions { TopClasses = 3, MaxPieces = 6 });
        Assert.Equal([2, 2, 2], six.GroupBy(p => p.Labels[0]).Select(g => g.Count()));
    }

    [Fact]
    public void Read_CorruptAndMissingFiles_SkippedWithWarningsNamingThem()
    {
        using var dir = new TempDir();
        var good = Bytes(Score(null, (1, null, [(0, 1, 60, 0)])));
        WriteCorpus(dir.Path, "path,tune_type,collection",
            ("midi/good.mid,jig,jigs", good),
            ("midi/garbage.mid,reel,reels", "MThd but not really a MIDI file"u8.ToArray()),
            ("midi/cut.mid,reel,reels", good[..^6]));
        File.AppendAllLines(dir["metadata.csv"], ["midi/absent.mid,waltz,waltzes", "midi/short-row.mid"]);
        var warnings = new List<string>();
        var pieces = ScoreCorpora.ReadNottingham(dir.Path, warn: warnings.Add);
        Assert.Equal("good", pieces.Single().Id);
        Assert.Equal(4, warnings.Count);
        Assert.Contains(warnings, w => w.Contains("garbage.mid") && w.Contains("unreadable MIDI"));
        Assert.Contains(warnings, w => w.Contains("cut.mid") && w.Contains("unreadable MIDI"));
        Assert.Contains(warnings, w => w.Contains("absent.mid") && w.Contains("missing"));
        Assert.Contains(warnings, w => w.Contains("metadata.csv:6") && w.Contains("1 fields"));
    }

    [Fact]
    public void Read_MissingColumnOrClassLabel_NamesTheFile()
    {
        using var dir = new TempDir();
        WriteCorpus(dir.Path, "path,makam,usul", ("midi/a.mid,hicaz,aksak", Bytes(Score(null, (1, null, [(0, 1, 60, 0)])))));
        var e = Assert.Throws<InvalidDataException>(() => ScoreCorpora.ReadSymbTr(dir.Path));
        Assert.Contains("metadata.csv", e.Message);
        Assert.Contains("form", e.Message);
        var c = Assert.Throws<ArgumentException>(() => ScoreCorpora.ReadNottingham(CorpusDir("nottingham"), new ScoreCorpusOptions { ClassLabel = "makam", TopClasses = 2 }));
        Assert.Contains("makam", c.Message);
    }
}
