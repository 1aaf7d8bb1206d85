using static CultureMert.Corpus.Procedural.ProceduralMusic;

namespace CultureMert.Corpus.Procedural;

/// <summary>A dromos (Greek mode) as cents of its seven degrees above the tonic.</summary>
public sealed record Dromos(string Name, double[] Cents);

/// <summary>A dance rhythm, written in eighth-note pulses.</summary>
/// <param name="Groups">the bar's long and short beats in eighths (kalamatianos 3+2+2)</param>
/// <param name="Drum">per eighth: D the low stroke (doum), T the high (tek), '-' none</param>
/// <param name="Strum">per eighth: B the chord's root in the bass, b its fifth, C the chord, '-' none</param>
/// <param name="MinEighthsPerMinute">tempo range in eighth notes per minute</param>
public sealed record GreekRhythm(string Genre, int Numerator, int Denominator, int[] Groups, string Drum, string Strum,
                                 double MinEighthsPerMinute, double MaxEighthsPerMinute);

/// <summary>Where a genre is played and by whom.</summary>
/// <param name="Drum">daouli, toumbeleki, or none</param>
public sealed record GreekStyle(string Genre, string Place, string[] Leads, string Accompaniment, string Drum, string[] Dromoi);

/// <param name="Program">General MIDI program (0-based)</param>
/// <param name="Bends">the player bends pitch: scoops, mordents, vibrato (clarinet, violin, lyra)</param>
/// <param name="Fretted">equal-tempered frets: the dromos's microtones round to the nearest semitone</param>
/// <param name="Tremolo">long notes are re-struck in sixteenths (bouzouki, santouri)</param>
public sealed record GreekInstrument(string Name, int Program, bool Bends, bool Fretted, bool Tremolo);

/// <summary>The choices behind one Greek piece; all of them are saved as the piece's parameters.</summary>
/// <param name="TonicMidi">the dromos's tonic as a fractional MIDI key: a concert-pitch key plus the band's tuning</param>
public sealed record GreekSettings(int Seed, int Index, string Genre, string Place, string Dromos, string Lead,
                                   double TonicMidi, double EighthsPerMinute);

/// <summary>
/// Greek traditional and rebetiko dance tunes: a lead melody in a dromos, in the AABB form of dance tunes, over a
/// laouto or guitar strumming the rhythm's bass-chord pattern and, where the style has one, a drum.
/// Labels follow Lyra's three kinds: <c>genre--</c> (the dance), <c>instrument--</c> (Lyra's instrument names:
/// klarino, laouto, santouri, …), <c>place--</c> (Lyra's region names).
/// </summary>
public sealed class Greek : IProceduralGenerator
{
    public static readonly IReadOnlyList<Dromos> Dromoi =
    [
        new("major", [0, 200, 400, 500, 700, 900, 1100]),    // matzore
        new("minor", [0, 200, 300, 500, 700, 800, 1100]),    // minore, with the raised seventh of its cadences
        new("hijaz", [0, 110, 380, 500, 700, 800, 1000]),    // the augmented second between II and III
        new("ousak", [0, 150, 300, 500, 700, 800, 1000]),    // a "soft" second, between a semitone and a tone
        new("kiourdi", [0, 100, 300, 500, 700, 800, 1000]),
        new("rast", [0, 200, 350, 500, 700, 900, 1050]),     // neutral third and seventh
        new("sabah", [0, 150, 300, 400, 700, 800, 1000]),    // the diminished fourth
    ];

    public static readonly IReadOnlyList<GreekRhythm> Rhythms =
    [
        new("kalamatianos", 7, 8, [3, 2, 2], "D--T-T-", "B--C-C-", 330, 420),
        new("tsamikos", 3, 4, [3, 1, 2], "D--TT-", "B--CC-", 170, 230),
        new("syrtos", 4, 4, [3, 3, 2], "D--D--T-", "B--b--C-", 220, 290),
        new("zeibekiko", 9, 8, [2, 2, 2, 3], "D-T-D-TT-", "B-C-b-CC-", 150, 200),
        new("hasapiko", 2, 4, [2, 2], "D-T-", "B-C-", 180, 240),
    ];

    // Region-genre pairs a listener would expect: the kalamatianos of the Peloponnese and Roumeli (central Greece),
    // the tsamikos of Roumeli and Epirus with klarino, the island syrtos with violin and santouri (Aegean) or lyra
    // (Crete), and rebetiko's zeibekiko and hasapiko under Asia Minor, their Smyrna and Constantinople roots (Lyra has
    // no Piraeus or Athens).
    public static readonly IReadOnlyList<GreekStyle> Styles =
    [
        new("kalamatianos", "peloponnese", ["klarino", "violin"], "laouto", "daouli", ["major", "minor", "hijaz", "ousak", "kiourdi"]),
        new("kalamatianos", "central-greece", ["klarino"], "laouto", "daouli", ["major", "minor", "hijaz", "ousak"]),
        new("tsamikos", "central-greece", ["klarino"], "laouto", "daouli", ["minor", "hijaz", "ousak", "kiourdi"]),
        new("tsamikos", "epirus", ["klarino", "violin"], "laouto", "daouli", ["minor", "hijaz", "kiourdi"]),
        new("syrtos", "aegean-sea", ["violin", "santouri"], "laouto", "toumbeleki", ["major", "minor", "ousak", "rast"]),
        new("syrtos", "crete", ["lyra"], "laouto", "none", ["major", "minor", "ousak", "kiourdi"]),
        new("zeibekiko", "asia-minor", ["bouzouki", "violin"], "guitar", "toumbeleki", ["hijaz", "ousak", "sabah", "rast", "minor"]),
        new("hasapiko", "asia-minor", ["bouzouki"], "guitar", "toumbeleki", ["hijaz", "ousak", "rast", "major", "minor"]),
    ];

    public static readonly IReadOnlyList<GreekInstrument> Instruments =
    [
        new("klarino", 71, true, false, false), new("violin", 40, true, false, false), new("lyra", 110, true, false, false),   // GM 110 Fiddle
        new("santouri", 15, false, false, true), new("bouzouki", 25, false, true, true),                                   // 15 Dulcimer, 25 steel guitar
        new("laouto", 25, false, true, false), new("guitar", 24, false, true, false),
    ];

    // Drum sounds: daouli as bass drum and rim (doum, tek); toumbeleki as low and high conga.
    static readonly Dictionary<string, (int Doum, int Tek)> DrumKeys = new() { ["daouli"] = (36, 37), ["toumbeleki"] = (64, 62) };

    public string Culture => "greek";

    public static GreekSettings Draw(int seed, int index)
    {
        var rng = Random(seed, index, 0);
        var style = rng.Pick(Styles);
        var rhythm = Named(Rhythms, r => r.Genre, style.Genre, "genre", "greek");
        var tonic = Math.Round(rng.Next(62, 70) + rng.Uniform(-0.15, 0.15), 2);   // D4–A4, ±15 cents of band tuning
        return new GreekSettings(seed, index, style.Genre, style.Place, rng.Pick(style.Dromoi), rng.Pick(style.Leads), tonic,
                                 Math.Round(rng.Uniform(rhythm.MinEighthsPerMinute, rhythm.MaxEighthsPerMinute), 1));
    }

    public MusicPiece Piece(int seed, int index, double seconds) => Compose(Draw(seed, index), seconds);

    public static MusicPiece Compose(GreekSettings s, double seconds)
    {
        CheckSeconds("greek", seconds);
        var rhythm = Named(Rhythms, r => r.Genre, s.Genre, "genre", "greek");
        var style = Styles.FirstOrDefault(t => t.Genre == s.Genre && t.Place == s.Place)
                    ?? throw new ArgumentException($"greek: no style plays {s.Genre} in {s.Place}; known: {string.Join(", ", Styles.Select(t => $"{t.Genre}/{t.Place}"))}.");
        var dromos = Named(Dromoi, d => d.Name, s.Dromos, "dromos", "greek");
        var lead = Named(Instruments, i => i.Name, s.Lead, "instrument", "greek");
        var accompaniment = Named(Instruments, i => i.Name, style.Accompaniment, "instrument", "greek");
        var rng = Random(s.Seed, s.Index, 1);

        var beatsPerEighth = rhythm.Denominator / 8.0;   // Score beats are the time signature's unit
        var score = new Score(s.EighthsPerMinute * beatsPerEighth, rhythm.Numerator, rhythm.Denominator);
        var bar = rhythm.Groups.Sum();                   // eighths
        var barSeconds = bar * score.SecondsPerBeat / beatsPerEighth;
        var bars = (int)Math.Ceiling(seconds / barSeconds);
        var phraseBars = Math.Max(1, (int)Math.Round(3.5 / barSeconds));   // phrases of about 3.5 s

        // The tune: phrases A and B, each played twice (AABB), A ending away from the tonic, B on it.
        var a = Phrase(rhythm, dromos, phraseBars, cadence: rng.NextDouble() < 0.5 ? 4 : 3, rng);
        var b = Phrase(rhythm, dromos, phraseBars, cadence: 0, rng);
        var tune = new List<(int Degree, int Eighth, int Eighths, bool Accent)>();
        for (var start = 0; start < bars * bar; start += 4 * phraseBars * bar)
            foreach (var (phrase, k) in new[] { a, a, b, b }.Select((p, k) => (p, k)))
                tune.AddRange(phrase.Select(n => n with { Eighth = n.Eighth + start + k * phraseBars * bar }));

        var detune = (s.TonicMidi - Math.Round(s.TonicMidi)) * 100;
        var line = score.Line(lead.Name, lead.Program, bendRange: 4);
        PlayMelody(line, lead, dromos, s.TonicMidi, tune, beatsPerEighth, score.SecondsPerBeat / beatsPerEighth, rng);
        var chords = Harmonize(dromos, tune, bar, bars);
        Strum(score.Part(accompaniment.Name, accompaniment.Program, detune, volume: 85), rhythm, dromos, (int)Math.Round(s.TonicMidi), chords,
              beatsPerEighth, 0.012 / score.SecondsPerBeat, rng);
        if (style.Drum != "none")
        {
            var drums = score.Drums(style.Drum, volume: 90);
            var (doum, tek) = DrumKeys[style.Drum];
            for (var m = 0; m < bars; m++)
                for (var e = 0; e < bar; e++)
                    if (rhythm.Drum[e] != '-')
                        drums.Play((m * bar + e) * beatsPerEighth, 0.5, rhythm.Drum[e] == 'D' ? doum : tek, (e == 0 ? 112 : 88) + rng.Next(-5, 6));
        }

        var instruments = new[] { lead.Name, accompaniment.Name }.Concat(style.Drum == "none" ? [] : ["percussion"]).Distinct();
        var labels = new[] { Tag("genre", rhythm.Genre), Tag("place", style.Place) }.Concat(instruments.Select(i => Tag("instrument", i))).ToArray();
        var parameters = new Dictionary<string, string>
        {
            ["generator"] = "procedural/greek-v1", ["seed"] = s.Seed.ToString(), ["index"] = s.Index.ToString(), ["seconds"] = Format(seconds),
            ["genre"] = rhythm.Genre, ["place"] = style.Place, ["dromos"] = dromos.Name,
            ["dromos_cents"] = string.Join(' ', dromos.Cents.Select(Format)), ["meter"] = $"{rhythm.Numerator}/{rhythm.Denominator}",
            ["groups"] = string.Join('+', rhythm.Groups), ["tempo_eighths_per_minute"] = Format(s.EighthsPerMinute),
            ["tonic_midi"] = Format(s.TonicMidi), ["lead"] = lead.Name, ["lead_program"] = lead.Program.ToString(),
            ["accompaniment"] = accompaniment.Name, ["accompaniment_program"] = accompaniment.Program.ToString(), ["drum"] = style.Drum,
            ["phrase_bars"] = phraseBars.ToString(), ["form"] = "AABB",
        };
        return new MusicPiece("greek", Id("greek", s.Seed, s.Index), labels, score.ToMidi(seconds), parameters);
    }

    /// <summary>One phrase: each beat-group of the bar is one note, or split into shorter ones; the pitch walks by
    /// step (sometimes a third) towards the cadence degree in one octave or the other, and ends, held, on the
    /// nearest.</summary>
    static List<(int Degree, int Eighth, int Eighths, bool Accent)> Phrase(GreekRhythm rhythm, Dromos dromos, int bars, int cadence, Random rng)
    {
        var rhythmCells = new List<(int Eighth, int Eighths, bool Accent)>();
        var at = 0;
        for (var m = 0; m < bars; m++)
            foreach (var g in rhythm.Groups)
            {
                var last = m == bars - 1 && at + g == bars * rhythm.Groups.Sum();
                int[] cell = last || rng.NextDouble() < 0.35 ? [g] : g switch
                {
                    1 => [1],
                    2 => [1, 1],
                    3 => rng.NextDouble() < 0.5 ? [2, 1] : [1, 1, 1],
                    _ => Enumerable.Repeat(1, g).ToArray(),
                };
                for (var k = 0; k < cell.Length; at += cell[k], k++) rhythmCells.Add((at, cell[k], k == 0));
            }
        var notes = new List<(int Degree, int Eighth, int Eighths, bool Accent)>();
        var degree = rng.Next(0, 5);
        var target = rng.NextDouble() < 0.5 ? cadence : cadence + 7;
        for (var i = 0; i < rhythmCells.Count; i++)
        {
            if (i == rhythmCells.Count - 1) degree = cadence + 7 * (int)Math.Round((degree - cadence) / 7.0);   // the nearest cadence degree
            else if (i > 0)
            {
                var toward = Math.Sign(target - degree);
                var step = rng.NextDouble() < 0.2 ? 2 : 1;   // now and then a third
                degree += rng.NextDouble() < 0.7 && toward != 0 ? toward * step : (rng.NextDouble() < 0.5 ? -step : step);
                degree = Math.Clamp(degree, -3, 9);
            }
            notes.Add((degree, rhythmCells[i].Eighth, rhythmCells[i].Eighths, rhythmCells[i].Accent));
        }
        return notes;
    }

    static double Cents(Dromos dromos, int degree, bool fretted)
    {
        var cents = dromos.Cents[((degree % 7) + 7) % 7] + 1200 * Math.Floor(degree / 7.0);
        return fretted ? Math.Round(cents / 100, MidpointRounding.AwayFromZero) * 100 : cents;
    }

    /// <summary>The melody, with the lead's manner: clarinet, violin and lyra scoop into notes, add mordents and
    /// vibrato; bouzouki and santouri re-strike long notes.</summary>
    static void PlayMelody(Line line, GreekInstrument lead, Dromos dromos, double tonic, List<(int Degree, int Eighth, int Eighths, bool Accent)> tune,
                           double beatsPerEighth, double secondsPerEighth, Random rng)
    {
        foreach (var n in tune)
        {
            var pitch = tonic + Cents(dromos, n.Degree, lead.Fretted) / 100;
            var velocity = (n.Accent ? 104 : 88) + rng.Next(-6, 7);
            var (beat, beats, seconds) = (n.Eighth * beatsPerEighth, n.Eighths * beatsPerEighth, n.Eighths * secondsPerEighth);
            if (lead.Tremolo && n.Eighths >= 3)
            {
                var strokes = n.Eighths * 2;   // sixteenths
                for (var k = 0; k < strokes; k++) line.Play(beat + k * beats / strokes, beats / strokes, pitch, velocity - (k % 2 == 1 ? 18 : 6));
                continue;
            }
            if (!lead.Bends) { line.Play(beat, beats, pitch, velocity); continue; }
            var upper = Cents(dromos, n.Degree + 1, false) - Cents(dromos, n.Degree, false);
            var spb = secondsPerEighth / beatsPerEighth;
            var ornament = rng.NextDouble();
            Func<double, double> bend = ornament < 0.2
                ? t => t * spb < 0.07 ? -80 * (1 - t * spb / 0.07) : 0                                    // scoop up from below
                : ornament < 0.35 && seconds >= 0.3
                    ? t => t * spb is > 0.03 and < 0.09 ? upper : 0                                      // mordent: a flick to the note above
                    : t => seconds >= 0.5 && t * spb > 0.2 ? 12 * Math.Sin(2 * Math.PI * 5.5 * (t * spb - 0.2)) : 0;   // vibrato on long notes
            line.Play(beat, beats, pitch, velocity, bend);
        }
    }

    /// <summary>Per bar, the first chord of I, IV, VII, V (those the dromos has with a true fifth) that holds the bar's
    /// first melody note, else I.</summary>
    static int[] Harmonize(Dromos dromos, List<(int Degree, int Eighth, int Eighths, bool Accent)> tune, int bar, int bars)
    {
        var candidates = new[] { 0, 3, 6, 4 }.Where(d => Chord(dromos, d) is not null).ToArray();
        var chords = new int[bars];
        for (var m = 0; m < bars; m++)
        {
            var first = tune.FirstOrDefault(n => n.Eighth >= m * bar);
            var pc = ((first.Degree % 7) + 7) % 7;
            chords[m] = candidates.FirstOrDefault(d => Chord(dromos, d)!.Value.Degrees.Contains(pc));
        }
        return chords;
    }

    /// <summary>The triad on a degree as semitones above the tonic, dropping a microtonal third; null if the root or
    /// the fifth is microtonal or the fifth is not perfect (fretted laouto and guitar play tempered chords).</summary>
    static (int[] Semitones, int[] Degrees)? Chord(Dromos dromos, int degree)
    {
        int[] degrees = [degree, (degree + 2) % 7, (degree + 4) % 7];
        var cents = degrees.Select((d, k) => dromos.Cents[d] + (d < degree ? 1200 : 0)).ToArray();
        bool Tempered(double c) => Math.Abs(c - Math.Round(c / 100) * 100) <= 25;
        if (!Tempered(cents[0]) || !Tempered(cents[2]) || Math.Abs(cents[2] - cents[0] - 700) > 25) return null;
        var semitones = cents.Select(c => (int)Math.Round(c / 100)).ToList();
        if (!Tempered(cents[1])) semitones.RemoveAt(1);
        return (semitones.ToArray(), degrees);
    }

    /// <summary>The accompaniment: per eighth of <see cref="GreekRhythm.Strum"/>, a bass note or a down-strummed chord,
    /// each ringing until the next stroke.</summary>
    static void Strum(Part part, GreekRhythm rhythm, Dromos dromos, int tonicKey, int[] chords, double beatsPerEighth, double strumBeats, Random rng)
    {
        var bar = rhythm.Groups.Sum();
        for (var m = 0; m < chords.Length; m++)
        {
            var tones = Chord(dromos, chords[m])!.Value.Semitones;
            for (var e = 0; e < bar; e++)
            {
                var beat = (m * bar + e) * beatsPerEighth;
                var next = rhythm.Strum.IndexOfAny(['B', 'b', 'C'], e + 1);
                var lengthBeats = ((next > 0 ? next : bar) - e) * beatsPerEighth * 0.9;
                switch (rhythm.Strum[e])
                {
                    case 'B': part.Play(beat, lengthBeats, tonicKey - 24 + tones[0], 100 + rng.Next(-5, 6)); break;
                    case 'b': part.Play(beat, lengthBeats, tonicKey - 24 + tones[^1], 92 + rng.Next(-5, 6)); break;
                    case 'C':
                        for (var k = 0; k < tones.Length; k++)   // a down-strum: strings 12 ms apart
                            part.Play(beat + k * strumBeats, lengthBeats - k * strumBeats, tonicKey - 12 + tones[k], 72 + rng.Next(-5, 6));
                        break;
                }
            }
        }
    }
}
