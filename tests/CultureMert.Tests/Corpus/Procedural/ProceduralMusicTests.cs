using System.Text.RegularExpressions;
using CultureMert.Corpus;
using CultureMert.Corpus.Procedural;
using NAudio.Midi;

namespace CultureMert.Tests.Corpus.Procedural;

public class ProceduralMusicTests
{
    static readonly Dictionary<string, string[]> LabelTypes = new()
    {
        ["hindustani"] = ["raga", "tala", "instrument"], ["carnatic"] = ["raga", "tala", "instrument"],
        ["greek"] = ["genre", "place", "instrument"], ["western"] = ["genre", "mode", "instrument"],
    };

    public static TheoryData<string> Cultures => new(ProceduralMusic.All.Select(g => g.Culture));

    static IProceduralGenerator Generator(string culture) => ProceduralMusic.All.Single(g => g.Culture == culture);

    [Theory, MemberData(nameof(Cultures))]
    public void Generate_SameSeed_IdenticalBytesAndAnyPieceAlone(string culture)
    {
        var generator = Generator(culture);
        var first = generator.Generate(4, 42, 10).ToArray();
        var again = generator.Generate(4, 42, 10).ToArray();
        var alone = generator.Piece(42, 3, 10);
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(first[i].Midi, again[i].Midi);
            Assert.Equal(first[i].Parameters, again[i].Parameters);
        }
        Assert.Equal(first[3].Midi, alone.Midi);
        Assert.Equal(first[3].Labels, alone.Labels);
        Assert.Equal(4, first.Select(p => Convert.ToBase64String(p.Midi)).Distinct().Count());
        Assert.NotEqual(first[0].Midi, generator.Piece(43, 0, 10).Midi);
    }

    [Theory, MemberData(nameof(Cultures))]
    public void Generate_ManyPieces_WellFormedLabelsParametersAndMidi(string culture)
    {
        var pieces = Generator(culture).Generate(40, 7, 20).ToArray();
        Assert.Equal(40, pieces.Select(p => p.Id).Distinct().Count());
        foreach (var piece in pieces)
        {
            Assert.Equal(culture, piece.Culture);
            Assert.All(piece.Labels, l => Assert.Matches(new Regex("^[a-z]+--[a-z0-9]+(-[a-z0-9]+)*$"), l));
            Assert.Equal(LabelTypes[culture], piece.Labels.Select(l => l.Split("--")[0]).Distinct());
            Assert.Equal(piece.Labels.Count, piece.Labels.Distinct().Count());
            Assert.Equal(("7", "20"), (piece.Parameters["seed"], piece.Parameters["seconds"]));
            Assert.StartsWith("procedural/", piece.Parameters["generator"]);
            AssertMidi(piece, 20);
        }
    }

    /// <summary>A format-1 file whose tracks all end at the requested length, every note inside it, and every channel
    /// setting its pitch-bend range (RPN 0) before its first note or bend.</summary>
    static void AssertMidi(MusicPiece piece, double seconds)
    {
        var file = new MidiFile(new MemoryStream(piece.Midi), true);
        Assert.Equal(1, file.FileFormat);
        var tempo = file.Events[0].OfType<TempoEvent>().Single();
        var end = file.Events.Select(t => t[^1].AbsoluteTime).Distinct().Single();
        Assert.Equal(seconds, end / (double)file.DeltaTicksPerQuarterNote * tempo.MicrosecondsPerQuarterNote * 1e-6, 0.01);
        for (var t = 1; t < file.Tracks; t++)
        {
            var events = file.Events[t];
            Assert.All(events, e => Assert.InRange(e.AbsoluteTime, 0, end));
            var firstSound = events.TakeWhile(e => e is not (NoteOnEvent or PitchWheelChangeEvent)).ToList();
            var rpn = firstSound.OfType<ControlChangeEvent>().Select(c => ((int)c.Controller, c.ControllerValue)).ToList();
            var at = rpn.IndexOf((101, 0));
            Assert.True(at >= 0 && rpn[at + 1] == (100, 0) && rpn[at + 2].Item1 == 6 && rpn[at + 2].ControllerValue > 0,
                        $"{piece.Id} track {t}: no pitch-bend range (RPN 0) before the first note");
            Assert.True(events.Any(e => e is NoteOnEvent), $"{piece.Id} track {t} {events.OfType<TextEvent>().FirstOrDefault()?.Text}: no notes; {string.Join(",", piece.Parameters.Values)}");
        }
    }

    [Fact]
    public void Compose_SaBetweenSemitones_DroneBendComputedFromCents()
    {
        // Sa at MIDI 51.37: the tanpura's Sa strings play key 51 bent +37 cents under a ±2-semitone range,
        // 8192 + 37/200 · 8192 = 9707.52 → 9708; the Pa string (702 − 1200 cents) is key 46 + 39 cents → 9789.44 → 9789.
        var piece = Carnatic.Compose(new RagaSettings(1, 0, "kalyani", "adi", "violin", 51.37, 80, 2, 1.1), 8);
        var file = new MidiFile(new MemoryStream(piece.Midi), true);
        MidiEvent[] Track(string name) => file.Events.Single(t => t.OfType<TextEvent>().Any(e => e.Text == name)).ToArray();
        (int Key, int Bend) Tuning(string name) =>
            (Track(name).OfType<NoteOnEvent>().First().NoteNumber, Track(name).OfType<PitchWheelChangeEvent>().Last().Pitch);
        Assert.Equal((51, 9708), Tuning("tanpura 2"));
        Assert.Equal((46, 9789), Tuning("tanpura 1"));
        Assert.Equal((39, 9708), Tuning("tanpura 4"));
    }

    [Fact]
    public void Draw_ManyPieces_EveryRagaTalaAndInstrumentAppears()
    {
        foreach (var (tradition, draw) in new[] { (Hindustani.Tradition, (Func<int, int, RagaSettings>)Hindustani.Draw), (Carnatic.Tradition, Carnatic.Draw) })
        {
            var drawn = Enumerable.Range(0, 300).Select(i => draw(5, i)).ToArray();
            Assert.Equal(tradition.Ragas.Select(r => r.Name).Order(), drawn.Select(s => s.Raga).Distinct().Order());
            Assert.Equal(tradition.Talas.Select(t => t.Name).Order(), drawn.Select(s => s.Tala).Distinct().Order());
            Assert.Equal(tradition.Instruments.Select(i => i.Name).Order(), drawn.Select(s => s.Instrument).Distinct().Order());
            Assert.All(drawn, s => Assert.InRange(s.SaMidi, 49, 55));
        }
        var greek = Enumerable.Range(0, 300).Select(i => Greek.Draw(5, i)).ToArray();
        Assert.Equal(Greek.Styles.Select(s => $"{s.Genre}/{s.Place}").Order(), greek.Select(s => $"{s.Genre}/{s.Place}").Distinct().Order());
        var western = Enumerable.Range(0, 300).Select(i => Western.Draw(5, i)).ToArray();
        Assert.Equal(Western.Genres.Select(g => g.Name).Order(), western.Select(s => s.Genre).Distinct().Order());
        Assert.Equal(["major", "minor"], western.Select(s => s.Mode).Distinct().Order());
    }

    [Fact]
    public void Theka_EveryStroke_HasADrumSound()
    {
        foreach (var tradition in new[] { Hindustani.Tradition, Carnatic.Tradition })
            foreach (var tala in tradition.Talas)
                Assert.All(tala.Theka.Split([' ', '|', '.'], StringSplitOptions.RemoveEmptyEntries).Where(s => s != "-"),
                           stroke => Assert.True(tradition.Strokes.ContainsKey(stroke), $"{tradition.Culture} {tala.Name}: '{stroke}'"));
    }

    [Fact]
    public void Compose_UnknownNames_ErrorsListTheKnownOnes()
    {
        var raga = Assert.Throws<ArgumentException>(() => Hindustani.Compose(Hindustani.Draw(1, 0) with { Raga = "darbari" }, 5));
        Assert.Contains("unknown raga 'darbari'", raga.Message);
        Assert.Contains("yaman", raga.Message);
        var style = Assert.Throws<ArgumentException>(() => Greek.Compose(Greek.Draw(1, 0) with { Genre = "zeibekiko", Place = "crete" }, 5));
        Assert.Contains("no style plays zeibekiko in crete", style.Message);
        var seconds = Assert.Throws<ArgumentOutOfRangeException>(() => new Western().Piece(1, 0, 0));
        Assert.Contains("western: piece length", seconds.Message);
    }
}
