using CultureMert.Corpus;
using NAudio.Midi;
using static CultureMert.Tests.Corpus.ScoreFixtures;

namespace CultureMert.Tests.Corpus;

public class ScoreMidiTests
{
    static MidiEventCollection Reread(byte[] midi) => new MidiFile(new MemoryStream(midi), true).Events;

    [Fact]
    public void DurationSeconds_TempoChange_HandComputed()
    {
        // 480 ticks a quarter; 2 quarters at 500000 µs, then 1000000 µs from tick 960; last note-off at tick 1920.
        var events = Score(500_000, (1, 0, [(0, 4, 60, 0)]));
        events.AddEvent(new TempoEvent(1_000_000, 960), 0);
        Assert.Equal(2 * 0.5 + 2 * 1.0, ScoreMidi.DurationSeconds(events), 9);
        ScoreMidi.ScaleTempo(events, 1.25);                                      // 400000 and 800000 µs
        Assert.Equal(2 * 0.4 + 2 * 0.8, ScoreMidi.DurationSeconds(events), 9);
    }

    [Fact]
    public void ScaleTempo_NoTempoEvent_InsertsTheScaledDefault()
    {
        var events = Score(null, (1, 0, [(0, 8, 60, 0)]));                        // 8 quarters at the default 120 bpm: 4 s
        Assert.Equal(4.0, ScoreMidi.DurationSeconds(events), 9);
        ScoreMidi.ScaleTempo(events, 0.8);
        Assert.Equal(625_000, events[0].OfType<TempoEvent>().Single().MicrosecondsPerQuarterNote);
        Assert.Equal(5.0, ScoreMidi.DurationSeconds(Reread(Bytes(events))), 9);
    }

    [Fact]
    public void Truncate_AcrossTempoChange_ReleasesHeldNoteAtTheCut()
    {
        // 1 s at 500000 µs (960 ticks), then 250000 µs: 1.5 s is tick 960 + 0.5 s / (0.25 s / 480) = 1920.
        var events = Score(500_000, (1, 0, [(0, 3, 60, 0), (3, 1, 62, 0), (4, 1, 64, 0), (5, 1, 65, 0)]));
        events.AddEvent(new TempoEvent(250_000, 960), 0);
        var cut = Reread(ScoreMidi.Truncate(Bytes(events), 1.5, "held.mid"));
        var notes = cut.SelectMany(t => t).OfType<NoteOnEvent>().Where(e => e.Velocity > 0).ToList();
        Assert.Equal([60, 62], notes.Select(e => (int)e.NoteNumber));              // 64 starts at tick 1920: dropped
        Assert.Equal([1440, 1920], notes.Select(e => e.OffEvent!.AbsoluteTime));   // 62 (1440–1920) ends at the cut anyway
        Assert.All(cut, t => Assert.Equal(1920, t[^1].AbsoluteTime));
        Assert.Equal(1.5, ScoreMidi.DurationSeconds(cut), 9);
    }

    [Fact]
    public void Truncate_HeldPastTheCut_OffMovedToTheCut()
    {
        var events = Score(500_000, (1, 0, [(0, 8, 60, 0)]));                     // one note, 4 s
        var cut = Reread(ScoreMidi.Truncate(Bytes(events), 1.0, "long.mid"));
        Assert.Equal(960, cut.SelectMany(t => t).OfType<NoteOnEvent>().Single(e => e.Velocity > 0).OffEvent!.AbsoluteTime);
    }

    [Fact]
    public void Truncate_ShorterScore_SameBytes()
    {
        var midi = Bytes(Score(500_000, (1, 0, [(0, 2, 60, 0)])));
        Assert.Same(midi, ScoreMidi.Truncate(midi, 5, "short.mid"));
    }

    [Fact]
    public void SplitSharedChannels_SecondTrackOnChannelOne_MovesToTwo_PercussionStays()
    {
        var events = Score(null, (1, null, [(0, 1, 72, 0)]), (1, null, [(0, 1, 48, 0)]), (10, null, [(0, 1, 36, 0)]), (10, null, [(0, 1, 42, 0)]));
        ScoreMidi.SplitSharedChannels(events);
        Assert.Equal([1, 2, 10, 10], Enumerable.Range(1, 4).Select(t => events[t].OfType<NoteEvent>().Select(e => e.Channel).Distinct().Single()));
        Assert.Equal([1, 2], ScoreMidi.MelodicChannels(events));
    }

    [Fact]
    public void Transpose_OutOfRange_NamesFileAndNote()
    {
        var events = Score(null, (1, 0, [(0, 1, 125, 0)]));
        var e = Assert.Throws<InvalidDataException>(() => ScoreMidi.Transpose(events, 3, "high.mid"));
        Assert.Contains("high.mid", e.Message);
        Assert.Contains("note 125", e.Message);
    }

    [Fact]
    public void Read_NotMidi_NamesFile()
    {
        var e = Assert.Throws<InvalidDataException>(() => ScoreMidi.Read("RIFF....WAVE"u8.ToArray(), "song.wav"));
        Assert.StartsWith("song.wav: unreadable MIDI", e.Message);
    }
}
