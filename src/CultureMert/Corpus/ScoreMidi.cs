using NAudio.Midi;

namespace CultureMert.Corpus;

/// <summary>
/// The edits a score needs before rendering, on NAudio's event lists: give each track its own channel, transpose,
/// scale the tempo, choose instruments (with an explicit pitch-bend range), and cut after some seconds. Channels are
/// 1-based, as NAudio and the General MIDI documents number them (channel 10 is percussion); programs are 0-based GM
/// program numbers (0 = Acoustic Grand Piano).
/// </summary>
/// <remarks>
/// Pitch-bend range. SymbTr's MIDI export writes RPN 0 = 2 semitones (CC 101/100 = 0/0, CC 6 = 2, CC 38 = 0) at the start
/// of the channel (1736 of the 1737 files here; the other, a three-part arrangement, relies on the same GM default) and a
/// bend before every note. All 604,186 bends in the corpus are multiples of 8192/106 ≈ 77.3 units (rounded to integers),
/// which under a ±2-semitone range is 100/53 ≈ 1.887 cents: the grid on which a 53-tone pitch (Holderian comma,
/// 1200/53 ≈ 22.64 cents) falls relative to the nearest equal-tempered semitone. Read with ±2, 602,381 of the 602,395
/// intervals between consecutive notes are a whole number of commas (acem's C–D–E–F–G: 9, 9, 4, 9); read with ±1 or
/// ±12, only 19% and 16% are. So ±2 is what the files assume. It is also FluidSynth's default, but a synthesiser or
/// SoundFont that starts elsewhere would render the makam intervals wrong, so <see cref="SetPrograms"/> states the range
/// with RPN 0 on every melodic channel (before the file's own RPN, which still wins if a file asks for another range);
/// bends are never rescaled. Measured through FluidSynth 2.3.1 and FluidR3_GM, a bent note lands within 1.5 cents of
/// its intended pitch (tests/CultureMert.Tests/Corpus/FluidSynthTests.cs).
/// </remarks>
public static class ScoreMidi
{
    public const int PercussionChannel = 10;

    /// <summary>The General MIDI default pitch-bend range, which SymbTr's bends assume (see remarks).</summary>
    public const int DefaultBendRangeSemitones = 2;

    /// <summary>Parses a Standard MIDI File; anything NAudio cannot read becomes an InvalidDataException naming <paramref name="source"/>.</summary>
    public static MidiFile Read(byte[] midi, string source)
    {
        try
        {
            // Not strict: real files have notes without offs (they sound to the end), which is no reason to drop a piece.
            var file = new MidiFile(new MemoryStream(midi, writable: false), strictChecking: false);
            if (file.DeltaTicksPerQuarterNote is <= 0 or >= 0x8000) throw new InvalidDataException(
                $"{source}: time division {file.DeltaTicksPerQuarterNote} is not ticks per quarter note (SMPTE timing is not supported).");
            return file;
        }
        catch (Exception e) when (e is not (InvalidDataException or OutOfMemoryException))
        {
            // NAudio's parser throws what it meets (FormatException, EndOfStreamException, ArgumentException, ...) on a corrupt file
            throw new InvalidDataException($"{source}: unreadable MIDI ({e.GetType().Name}: {e.Message}).", e);
        }
    }

    /// <summary>The events as Standard MIDI File bytes (sorted, one end-of-track per track).</summary>
    public static byte[] Write(MidiEventCollection events)
    {
        events.PrepareForExport();
        using var stream = new MemoryStream();
        MidiFile.Export(stream, events);
        return stream.ToArray();
    }

    static bool IsChannelEvent(MidiEvent e) => (int)e.CommandCode < (int)MidiCommandCode.Sysex;

    static bool IsNoteOn(MidiEvent e) => e.CommandCode == MidiCommandCode.NoteOn && !MidiEvent.IsNoteOff(e);

    /// <summary>
    /// Channels other than percussion that play notes, by track and then by first note: format-1 files put the melody in
    /// the first track (in Nottingham the melody also starts first, but an accompaniment could start before a melody's
    /// rest, and first-note order would then give it the melody's instrument).
    /// </summary>
    public static IReadOnlyList<int> MelodicChannels(MidiEventCollection events) =>
        events.SelectMany(t => t.Where(e => IsNoteOn(e) && e.Channel != PercussionChannel).OrderBy(e => e.AbsoluteTime))
              .Select(e => e.Channel).Distinct().ToList();

    /// <summary>
    /// Moves a track whose channel an earlier track already uses onto a free channel (never 10), so that parts sharing a
    /// channel can get instruments of their own: Nottingham's melody and chord tracks are both on channel 1. Tracks
    /// mixing several channels, and tracks on the percussion channel, stay as they are.
    /// </summary>
    public static void SplitSharedChannels(MidiEventCollection events)
    {
        var taken = new HashSet<int>();
        for (var t = 0; t < events.Tracks; t++)
        {
            var channels = events[t].Where(IsChannelEvent).Select(e => e.Channel).Distinct().ToList();
            if (channels.Count != 1) { taken.UnionWith(channels); continue; }
            var c = channels[0];
            if (c == PercussionChannel || taken.Add(c)) continue;
            var free = Enumerable.Range(1, 16).FirstOrDefault(k => k != PercussionChannel && !taken.Contains(k) && !UsedLater(events, t, k));
            if (free == 0) continue;                                 // all 15 melodic channels in use: leave the parts together
            taken.Add(free);
            // Assign after reading: NoteOnEvent.Channel also moves its paired note-off, which is in the list too.
            foreach (var e in events[t].Where(IsChannelEvent).ToList()) e.Channel = free;
        }
    }

    static bool UsedLater(MidiEventCollection events, int track, int channel)
    {
        for (var t = track + 1; t < events.Tracks; t++)
            if (events[t].Any(e => IsChannelEvent(e) && e.Channel == channel)) return true;
        return false;
    }

    /// <summary>
    /// Removes every note event (on, off, key pressure) with this number outside channel 10. SymbTr writes rests as note 0
    /// (8 Hz), often with a velocity: a synthesiser plays them as a low thump, and no downward transposition could keep them.
    /// </summary>
    public static void RemoveNote(MidiEventCollection events, int note)
    {
        for (var t = 0; t < events.Tracks; t++)
            for (var i = events[t].Count - 1; i >= 0; i--)
                if (events[t][i] is NoteEvent e && e.NoteNumber == note && e.Channel != PercussionChannel) events[t].RemoveAt(i);
    }

    /// <summary>Shifts every note outside channel 10 by <paramref name="semitones"/>; bends are untouched, so microtonal intervals stay exact.</summary>
    public static void Transpose(MidiEventCollection events, int semitones, string source)
    {
        if (semitones == 0) return;
        // Read every note number first: setting a NoteOnEvent's number also sets its paired note-off, which we reach later.
        var notes = events.SelectMany(t => t).OfType<NoteEvent>().Where(e => e.Channel != PercussionChannel)
                          .Select(e => (Event: e, Note: e.NoteNumber)).ToList();
        foreach (var (e, note) in notes)
        {
            var moved = note + semitones;
            if (moved is < 0 or > 127) throw new InvalidDataException(
                $"{source}: transposing by {semitones:+0;-0} semitones moves note {note} (channel {e.Channel}, tick {e.AbsoluteTime}) outside MIDI's 0–127.");
            e.NoteNumber = moved;
        }
    }

    /// <summary>Plays the score <paramref name="factor"/> times as fast, by rewriting its tempo events (adding one at tick 0 if the file relies on the 120 bpm default).</summary>
    public static void ScaleTempo(MidiEventCollection events, double factor)
    {
        if (!(factor > 0 && double.IsFinite(factor))) throw new ArgumentOutOfRangeException(nameof(factor), $"tempo factor must be positive (got {factor}).");
        if (events.Tracks == 0) return;
        var tempos = events.SelectMany(t => t).OfType<TempoEvent>().ToList();
        foreach (var e in tempos) e.MicrosecondsPerQuarterNote = ScaledTempo(e.MicrosecondsPerQuarterNote, factor);
        if (!tempos.Any(e => e.AbsoluteTime == 0))
            events[0].Insert(0, new TempoEvent(ScaledTempo(500_000, factor), 0));   // SMF default: 500000 µs per quarter
    }

    // A set-tempo meta event holds 24 bits.
    static int ScaledTempo(int microsecondsPerQuarter, double factor) => (int)Math.Clamp(Math.Round(microsecondsPerQuarter / factor), 1, 0xFFFFFF);

    /// <summary>
    /// Gives each channel in <paramref name="programs"/> its GM program (replacing the file's program and bank changes
    /// on it) and states the pitch-bend range with RPN 0 at tick 0 on every melodic channel, before the file's own events.
    /// </summary>
    public static void SetPrograms(MidiEventCollection events, IReadOnlyDictionary<int, int> programs, string source, int bendRangeSemitones = DefaultBendRangeSemitones)
    {
        if (bendRangeSemitones is < 1 or > 24) throw new ArgumentOutOfRangeException(nameof(bendRangeSemitones), $"{source}: pitch-bend range must be 1–24 semitones (got {bendRangeSemitones}).");
        var melodic = MelodicChannels(events);
        foreach (var (channel, program) in programs)
        {
            if (!melodic.Contains(channel)) throw new ArgumentException($"{source}: program {program} given for channel {channel}, which plays no melodic notes (melodic channels: {string.Join(", ", melodic)}).", nameof(programs));
            if (program is < 0 or > 127) throw new ArgumentException($"{source}: GM program {program} for channel {channel} is outside 0–127.", nameof(programs));
        }
        foreach (var channel in melodic)
        {
            var track = Enumerable.Range(0, events.Tracks).First(t => events[t].Any(e => IsChannelEvent(e) && e.Channel == channel));
            var head = new List<MidiEvent>
            {
                Cc(channel, 101, 0), Cc(channel, 100, 0),            // select RPN 0 (pitch-bend sensitivity)
                Cc(channel, 6, bendRangeSemitones), Cc(channel, 38, 0),
                Cc(channel, 101, 127), Cc(channel, 100, 127),        // RPN null, so no later data entry can change it
            };
            if (programs.TryGetValue(channel, out var program))
            {
                for (var t = 0; t < events.Tracks; t++)
                    for (var i = events[t].Count - 1; i >= 0; i--)
                        if (events[t][i] is PatchChangeEvent p && p.Channel == channel
                            || events[t][i] is ControlChangeEvent { Controller: MidiController.BankSelect or MidiController.BankSelectLsb } b && b.Channel == channel)
                            events[t].RemoveAt(i);
                head.Add(new PatchChangeEvent(0, channel, program));
            }
            for (var i = head.Count - 1; i >= 0; i--) events[track].Insert(0, head[i]);   // first at tick 0: the stable sort keeps this order
        }
    }

    static ControlChangeEvent Cc(int channel, int controller, int value) => new(0, channel, (MidiController)controller, value);

    /// <summary>Seconds from tick 0 to the last event, under the file's tempo map.</summary>
    public static double DurationSeconds(MidiEventCollection events)
    {
        var last = events.SelectMany(t => t).Select(e => e.AbsoluteTime).DefaultIfEmpty(0).Max();
        return TempoMap(events).Seconds(last);
    }

    /// <summary>
    /// The first <paramref name="seconds"/> of a score: later notes dropped, notes still sounding released at the cut,
    /// every track ending there. A score no longer than that comes back unchanged (same bytes).
    /// </summary>
    public static byte[] Truncate(byte[] midi, double seconds, string source)
    {
        if (!(seconds > 0)) throw new ArgumentOutOfRangeException(nameof(seconds), $"{source}: seconds to keep must be positive (got {seconds}).");
        var events = Read(midi, source).Events;
        var cut = TempoMap(events).Tick(seconds);
        if (events.SelectMany(t => t).All(e => e.AbsoluteTime <= cut)) return midi;
        for (var t = 0; t < events.Tracks; t++)
        {
            var kept = new List<MidiEvent>();
            var releases = new HashSet<MidiEvent>(ReferenceEqualityComparer.Instance);   // note-offs of notes kept
            foreach (var e in events[t])
            {
                if (MidiEvent.IsEndTrack(e)) continue;
                if (MidiEvent.IsNoteOff(e))
                {
                    if (e.AbsoluteTime <= cut) kept.Add(e);
                    else if (releases.Contains(e)) { e.AbsoluteTime = cut; kept.Add(e); }
                    continue;
                }
                if (e.AbsoluteTime >= cut) continue;
                if (e is NoteOnEvent { OffEvent: { } off }) releases.Add(off);
                kept.Add(e);
            }
            kept.Add(new MetaEvent(MetaEventType.EndTrack, 0, cut));   // so the player, and the audio, run to the cut
            events[t].Clear();
            foreach (var e in kept) events[t].Add(e);
        }
        return Write(events);
    }

    static TempoMapping TempoMap(MidiEventCollection events) => new(events.DeltaTicksPerQuarterNote,
        events.SelectMany(t => t).OfType<TempoEvent>().OrderBy(e => e.AbsoluteTime).Select(e => (e.AbsoluteTime, e.MicrosecondsPerQuarterNote)));

    /// <summary>Ticks ↔ seconds under a file's tempo changes, from the SMF default of 120 bpm until the first.</summary>
    sealed class TempoMapping
    {
        readonly List<(long From, double Start, double SecondsPerTick)> segments;

        public TempoMapping(int ticksPerQuarter, IEnumerable<(long Tick, int Micros)> changes)
        {
            segments = [(0, 0, 500_000e-6 / ticksPerQuarter)];
            foreach (var (tick, micros) in changes)
            {
                var (from, start, spt) = segments[^1];
                var segment = (tick, start + (tick - from) * spt, micros * 1e-6 / ticksPerQuarter);
                if (tick == from) segments[^1] = segment;            // a later change at the same tick wins
                else segments.Add(segment);
            }
        }

        public double Seconds(long tick)
        {
            var (from, start, spt) = segments.Last(s => s.From <= tick);
            return start + (tick - from) * spt;
        }

        public long Tick(double seconds)
        {
            var (from, start, spt) = segments.Last(s => s.Start <= seconds);
            return from + (long)Math.Floor((seconds - start) / spt);
        }
    }
}
