using NAudio.Midi;

namespace CultureMert.Corpus.Procedural;

/// <summary>
/// The notes of one generated piece, in beats of a fixed tempo, written as a format-1 Standard MIDI File (a conductor
/// track, then one track per channel) for FluidSynth's General MIDI rendering. Pitches are fractional MIDI keys
/// (61.37 = C#4 + 37 cents): the fraction and any ornament become pitch bends, computed from cents against the bend
/// range that every channel sets explicitly (RPN 0) at tick 0, so no synthesizer default is relied on.
/// </summary>
internal sealed class Score
{
    public const int TicksPerQuarter = 480;
    const int DrumChannel = 10;                 // General MIDI percussion (NAudio numbers channels 1–16)
    const double BendStepSeconds = 0.01;        // a 100 Hz bend curve: smooth to the ear, a few hundred events a second at most

    readonly int numerator, denominator, microsecondsPerQuarter;
    readonly double ticksPerBeat;
    readonly List<(string Name, List<MidiEvent> Events)> tracks = [];
    int nextChannel = 1;

    /// <param name="beatsPerMinute">beats of the time signature's unit (eighths in 7/8)</param>
    public Score(double beatsPerMinute, int numerator, int denominator)
    {
        if (beatsPerMinute is not (> 10 and < 1000)) throw new ArgumentOutOfRangeException(nameof(beatsPerMinute), $"tempo {beatsPerMinute} beats/min is outside 10–1000.");
        if (denominator is not (2 or 4 or 8 or 16)) throw new ArgumentOutOfRangeException(nameof(denominator), $"time signature denominator {denominator} is not 2, 4, 8 or 16.");
        (this.numerator, this.denominator) = (numerator, denominator);
        ticksPerBeat = TicksPerQuarter * 4.0 / denominator;
        microsecondsPerQuarter = (int)Math.Round(60e6 / beatsPerMinute * denominator / 4);
    }

    /// <summary>Seconds per beat of the tempo actually written (µs per quarter is an integer in the file).</summary>
    public double SecondsPerBeat => microsecondsPerQuarter * 1e-6 * 4 / denominator;

    public long Ticks(double beats) => (long)Math.Round(beats * ticksPerBeat);

    /// <summary>A polyphonic part on one channel: integer keys, one fixed tuning offset (<paramref name="detuneCents"/>).</summary>
    public Part Part(string name, int program, double detuneCents = 0, int volume = 100, int pan = 64)
    {
        var channel = TakeChannel(name);
        var events = Setup(name, channel, program, 2, volume, pan);
        events.Add(new PitchWheelChangeEvent(0, channel, Bend(detuneCents, 2, name)));
        return new Part(this, events, channel, name);
    }

    /// <summary>The General MIDI drum kit on channel 10 (program 0: Standard kit), the whole kit retuned by
    /// <paramref name="detuneCents"/> (±1200; FluidSynth bends the drum channel like any other).</summary>
    public Part Drums(string name, double detuneCents = 0, int volume = 100, int pan = 64)
    {
        if (tracks.Any(t => t.Events.OfType<PatchChangeEvent>().Any(e => e.Channel == DrumChannel)))
            throw new InvalidOperationException($"{name}: the drum channel is already taken.");
        var events = Setup(name, DrumChannel, 0, 12, volume, pan);
        events.Add(new PitchWheelChangeEvent(0, DrumChannel, Bend(detuneCents, 12, name)));
        return new Part(this, events, DrumChannel, name);
    }

    /// <summary>
    /// A monophonic line whose notes bend freely (microtones, glides, oscillations) within ±<paramref name="bendRange"/>
    /// semitones. Successive notes alternate between <paramref name="channels"/> channels, so that a note's release keeps
    /// its own tuning while the next note bends.
    /// </summary>
    public Line Line(string name, int program, int bendRange, int channels = 2, int volume = 100, int pan = 64)
    {
        var parts = new List<(int Channel, List<MidiEvent> Events)>();
        for (var i = 0; i < channels; i++)
        {
            var channel = TakeChannel(name);
            parts.Add((channel, Setup(i == 0 ? name : $"{name} {i + 1}", channel, program, bendRange, volume, pan)));
        }
        return new Line(this, parts, bendRange, name);
    }

    /// <summary>The file, cut at <paramref name="seconds"/>: later events are dropped, sounding notes end there.</summary>
    public byte[] ToMidi(double seconds)
    {
        var end = (long)Math.Round(seconds / (microsecondsPerQuarter * 1e-6) * TicksPerQuarter);
        var midi = new MidiEventCollection(1, TicksPerQuarter);
        var conductor = midi.AddTrack();
        conductor.Add(new TempoEvent(microsecondsPerQuarter, 0));
        conductor.Add(new TimeSignatureEvent(0, numerator, (int)Math.Log2(denominator), 24, 8)); // 24 clocks a click, 8 32nds a quarter
        conductor.Add(new MetaEvent(MetaEventType.EndTrack, 0, end));
        foreach (var (_, events) in tracks)
        {
            var track = midi.AddTrack();
            foreach (var e in events.Where(e => e.AbsoluteTime < end))
            {
                track.Add(e);
                if (e is NoteOnEvent { OffEvent: { } off } && off.AbsoluteTime >= end)   // a note sounding at the cut ends there
                    track.Add(new NoteEvent(end, off.Channel, MidiCommandCode.NoteOff, off.NoteNumber, 0));
            }
            track.Add(new MetaEvent(MetaEventType.EndTrack, 0, end));
        }
        using var stream = new MemoryStream();
        MidiFile.Export(stream, midi);   // sorts each track stably by time: events of one tick keep the order written
        return stream.ToArray();
    }

    /// <summary>14-bit pitch-wheel value for <paramref name="cents"/> under a ±<paramref name="range"/>-semitone bend range.</summary>
    internal static int Bend(double cents, int range, string part)
    {
        if (Math.Abs(cents) > range * 100.0) throw new ArgumentOutOfRangeException(nameof(cents),
            $"{part}: a bend of {cents:0.#} cents exceeds the channel's ±{range * 100} cent range.");
        return Math.Clamp((int)Math.Round(8192 + cents * 8192 / (range * 100.0)), 0, 16383);   // +range·100 cents would be 16384
    }

    int TakeChannel(string name)
    {
        if (nextChannel == DrumChannel) nextChannel++;
        if (nextChannel > 16) throw new InvalidOperationException($"{name}: all 15 melodic MIDI channels are taken.");
        return nextChannel++;
    }

    /// <summary>A track's first events: name, program, volume, pan, and the bend range (RPN 0, then the null RPN so
    /// that no later data entry can change it).</summary>
    List<MidiEvent> Setup(string name, int channel, int program, int bendRange, int volume, int pan)
    {
        var events = new List<MidiEvent>
        {
            new TextEvent(name, MetaEventType.SequenceTrackName, 0),
            new PatchChangeEvent(0, channel, program),
            new ControlChangeEvent(0, channel, MidiController.MainVolume, volume),
            new ControlChangeEvent(0, channel, MidiController.Pan, pan),
            new ControlChangeEvent(0, channel, (MidiController)101, 0),   // RPN MSB
            new ControlChangeEvent(0, channel, (MidiController)100, 0),   // RPN LSB: 0 = pitch-bend sensitivity
            new ControlChangeEvent(0, channel, (MidiController)6, bendRange),   // data entry MSB: semitones
            new ControlChangeEvent(0, channel, (MidiController)38, 0),    // data entry LSB: cents
            new ControlChangeEvent(0, channel, (MidiController)101, 127),
            new ControlChangeEvent(0, channel, (MidiController)100, 127),
            new PitchWheelChangeEvent(0, channel, 8192),
        };
        tracks.Add((name, events));
        return events;
    }

    internal void AddNote(List<MidiEvent> events, int channel, double beat, double length, int key, int velocity, string part)
    {
        if (key is < 0 or > 127) throw new ArgumentOutOfRangeException(nameof(key), $"{part}: MIDI key {key} is outside 0–127.");
        var start = Ticks(beat);
        var on = new NoteOnEvent(start, channel, key, Math.Clamp(velocity, 1, 127), (int)Math.Max(1, Ticks(beat + length) - start));
        events.Add(on);
        events.Add(on.OffEvent!);   // added now, so that a note ending where the next one starts is released first
    }

    internal long BendStepTicks => Math.Max(1, (long)Math.Round(BendStepSeconds / SecondsPerBeat * ticksPerBeat));
}

/// <summary>A channel that plays chords or drums at fixed tuning.</summary>
internal sealed class Part(Score score, List<MidiEvent> events, int channel, string name)
{
    public void Play(double beat, double length, int key, int velocity) => score.AddNote(events, channel, beat, length, key, velocity, name);
}

/// <summary>A monophonic line: notes may not overlap (a glide between notes is one note with a bend curve).</summary>
internal sealed class Line(Score score, List<(int Channel, List<MidiEvent> Events)> channels, int bendRange, string name)
{
    readonly double[] busyUntil = Enumerable.Repeat(double.NegativeInfinity, channels.Count).ToArray();
    int next;

    /// <param name="pitch">fractional MIDI key</param>
    /// <param name="bend">cents added to <paramref name="pitch"/> at a given beat offset into the note; null for none</param>
    public void Play(double beat, double length, double pitch, int velocity, Func<double, double>? bend = null)
    {
        var (channel, events) = channels[next];
        if (beat < busyUntil[next] - 1e-9) throw new InvalidOperationException(
            $"{name}: a note at beat {beat:0.##} starts before the note on channel {channel} ends (beat {busyUntil[next]:0.##}).");
        busyUntil[next] = beat + length;
        next = (next + 1) % channels.Count;

        var key = (int)Math.Round(pitch);
        var offset = (pitch - key) * 100;
        var start = score.Ticks(beat);
        var last = Score.Bend(offset + (bend?.Invoke(0) ?? 0), bendRange, name);
        events.Add(new PitchWheelChangeEvent(start, channel, last));   // before the note: it starts in tune
        score.AddNote(events, channel, beat, length, key, velocity, name);
        if (bend is null) return;
        var end = score.Ticks(beat + length);
        var perBeat = score.Ticks(1);
        for (var t = start + score.BendStepTicks; t < end; t += score.BendStepTicks)
        {
            var value = Score.Bend(offset + bend((t - start) / (double)perBeat), bendRange, name);
            if (value == last) continue;
            events.Add(new PitchWheelChangeEvent(t, channel, value));
            last = value;
        }
    }
}
