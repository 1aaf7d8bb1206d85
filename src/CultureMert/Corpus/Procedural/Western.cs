using static CultureMert.Corpus.Procedural.ProceduralMusic;

namespace CultureMert.Corpus.Procedural;

/// <summary>A Western genre: meter, tempo, who plays, and how the accompaniment sounds the chords.</summary>
/// <param name="Accompaniment">oom-pah (bass on the downbeat, chords after), march (bass on 1 and 3, chords on 2 and 4),
/// arpeggio (broken chords in eighths) or chorale (four-part chords, two a bar)</param>
public sealed record WesternGenre(string Name, int BeatsPerBar, double MinBpm, double MaxBpm, string Accompaniment,
                                  string[] Leads, string[] Accompanists, bool Drums);

/// <param name="TonicMidi">the key's tonic, an octave below the melody's home</param>
public sealed record WesternSettings(int Seed, int Index, string Genre, string Mode, string Lead, string Accompanist,
                                     int TonicMidi, double BeatsPerMinute);

/// <summary>
/// Western tonal music: eight-bar periods (a four-bar phrase ending on V, answered by one ending V–I) over functional
/// progressions (I–IV–V–I, ii–V–I; minor i–iv–V–i with the harmonic minor's leading tone), a bass line, the genre's
/// accompaniment and a melody of chord tones on strong beats joined by passing notes. Labels: <c>genre--</c>,
/// <c>mode--major|minor</c>, <c>instrument--</c>.
/// </summary>
public sealed class Western : IProceduralGenerator
{
    public static readonly IReadOnlyList<WesternGenre> Genres =
    [
        new("waltz", 3, 150, 190, "oom-pah", ["piano", "violin", "flute"], ["piano", "strings"], false),
        new("march", 4, 104, 124, "march", ["trumpet", "flute", "clarinet"], ["piano", "brass"], true),
        new("ballad", 4, 60, 84, "arpeggio", ["flute", "violin", "piano"], ["guitar", "piano"], false),
        new("chorale", 4, 60, 80, "chorale", ["organ", "strings", "choir"], ["same"], false),
    ];

    // General MIDI programs (0-based).
    static readonly Dictionary<string, int> Programs = new()
    {
        ["piano"] = 0, ["organ"] = 19, ["guitar"] = 24, ["violin"] = 40, ["strings"] = 48, ["choir"] = 52,
        ["trumpet"] = 56, ["brass"] = 61, ["clarinet"] = 71, ["flute"] = 73,
    };

    static readonly int[] Major = [0, 2, 4, 5, 7, 9, 11], Minor = [0, 2, 3, 5, 7, 8, 10];

    // Four-bar progressions, a Roman numeral a bar ("ii/V": two chords in the bar). Antecedents end on V (half
    // cadence), consequents on V–I (authentic cadence).
    static readonly string[] MajorAntecedents = ["I IV I V", "I vi ii V", "I ii V V", "I IV ii V"];
    static readonly string[] MajorConsequents = ["I IV V I", "I vi ii/V I", "IV V I I", "ii V I I"];
    static readonly string[] MinorAntecedents = ["i iv i V", "i VI iv V", "i iv ii°/V V"];
    static readonly string[] MinorConsequents = ["i iv V i", "VI iv V i", "iv V i i", "i ii°/V i i"];

    public string Culture => "western";

    public static WesternSettings Draw(int seed, int index)
    {
        var rng = Random(seed, index, 0);
        var genre = rng.Pick(Genres);
        var lead = rng.Pick(genre.Leads);
        var accompanist = rng.Pick(genre.Accompanists) is var a && a == "same" ? lead : a;
        return new WesternSettings(seed, index, genre.Name, rng.NextDouble() < 0.5 ? "major" : "minor", lead, accompanist,
                                   rng.Next(55, 67), Math.Round(rng.Uniform(genre.MinBpm, genre.MaxBpm), 1));   // G3–F#4
    }

    public MusicPiece Piece(int seed, int index, double seconds) => Compose(Draw(seed, index), seconds);

    public static MusicPiece Compose(WesternSettings s, double seconds)
    {
        CheckSeconds("western", seconds);
        var genre = Named(Genres, g => g.Name, s.Genre, "genre", "western");
        if (s.Mode is not ("major" or "minor")) throw new ArgumentException($"western: mode must be major or minor (got '{s.Mode}').");
        foreach (var name in new[] { s.Lead, s.Accompanist })
            if (!Programs.ContainsKey(name)) throw new ArgumentException($"western: unknown instrument '{name}'; known: {string.Join(", ", Programs.Keys)}.");
        var minor = s.Mode == "minor";
        var rng = Random(s.Seed, s.Index, 1);
        var score = new Score(s.BeatsPerMinute, genre.BeatsPerBar, 4);
        var bar = genre.BeatsPerBar;
        var bars = (int)Math.Ceiling(seconds / score.SecondsPerBeat / bar);

        // The chords, as (beat, beats, chord tones in semitones above the tonic).
        var chords = new List<(double Beat, double Beats, int[] Tones)>();
        for (var m = 0; m < bars; m += 4)
        {
            var progression = (m / 4 % 2 == 0)
                ? rng.Pick(minor ? MinorAntecedents : MajorAntecedents)
                : rng.Pick(minor ? MinorConsequents : MajorConsequents);
            foreach (var (numerals, k) in progression.Split(' ').Select((t, k) => (t, k)))
            {
                var split = numerals.Split('/');
                if (genre.Accompaniment == "chorale" && split.Length == 1) split = [split[0], split[0]];   // two chords a bar
                for (var j = 0; j < split.Length; j++)
                    chords.Add(((m + k) * bar + j * (double)bar / split.Length, (double)bar / split.Length, Triad(split[j], minor)));
            }
        }

        var accompanist = score.Part(s.Accompanist, Programs[s.Accompanist], volume: 80);
        var bass = genre.Accompaniment is "oom-pah" or "march" ? score.Part(s.Accompanist + " bass", Programs[s.Accompanist], volume: 90) : accompanist;
        Accompany(genre, accompanist, bass, s.TonicMidi, chords, bar, rng);
        var melody = score.Line(s.Lead, Programs[s.Lead], bendRange: 2, channels: 1);
        Melody(melody, genre, s.TonicMidi + 12, minor, chords, bar, bars, rng);
        if (genre.Drums) March(score.Drums("drums", volume: 80), bar, bars, rng);

        var instruments = new[] { s.Lead, s.Accompanist }.Concat(genre.Drums ? ["drums"] : []).Distinct();
        var labels = new[] { Tag("genre", genre.Name), Tag("mode", s.Mode) }.Concat(instruments.Select(i => Tag("instrument", i))).ToArray();
        var parameters = new Dictionary<string, string>
        {
            ["generator"] = "procedural/western-v1", ["seed"] = s.Seed.ToString(), ["index"] = s.Index.ToString(), ["seconds"] = Format(seconds),
            ["genre"] = genre.Name, ["mode"] = s.Mode, ["meter"] = $"{bar}/4", ["tempo_bpm"] = Format(s.BeatsPerMinute),
            ["tonic_midi"] = s.TonicMidi.ToString(), ["lead"] = s.Lead, ["lead_program"] = Programs[s.Lead].ToString(),
            ["accompaniment"] = s.Accompanist, ["accompaniment_program"] = Programs[s.Accompanist].ToString(),
            ["accompaniment_style"] = genre.Accompaniment,
        };
        return new MusicPiece("western", Id("western", s.Seed, s.Index), labels, score.ToMidi(seconds), parameters);
    }

    /// <summary>The triad of a Roman numeral in the key, as semitones above the tonic; in minor, V and vii° take the
    /// raised seventh (harmonic minor), as common-practice cadences do.</summary>
    static int[] Triad(string numeral, bool minor)
    {
        var roman = numeral.TrimEnd('°').ToUpperInvariant();
        var degree = Array.IndexOf(["I", "II", "III", "IV", "V", "VI", "VII"], roman);
        if (degree < 0) throw new InvalidDataException($"western: '{numeral}' is not a Roman numeral I–VII.");
        var scale = minor ? Minor : Major;
        return [.. new[] { degree, degree + 2, degree + 4 }.Select(d =>
        {
            var semitone = scale[d % 7] + 12 * (d / 7);
            return minor && d % 7 == 6 && degree is 4 or 6 ? semitone + 1 : semitone;
        })];
    }

    static void Accompany(WesternGenre genre, Part chords, Part bass, int tonic, List<(double Beat, double Beats, int[] Tones)> progression, int bar, Random rng)
    {
        foreach (var (beat, beats, tones) in progression)
        {
            var root = 36 + (tonic + tones[0] - 36) % 12;          // the bass between C2 and B2
            var voiced = tones.Select(t => tonic + t % 12).ToArray();   // close position from the tonic up
            int V(int v) => v + rng.Next(-4, 5);
            switch (genre.Accompaniment)
            {
                case "oom-pah":
                    bass.Play(beat, 0.9, root, V(96));
                    for (var b = 1; b < beats; b++) foreach (var key in voiced) chords.Play(beat + b, 0.8, key, V(70));
                    break;
                case "march":
                    for (var b = 0; b < beats; b++)
                        if (b % 2 == 0) bass.Play(beat + b, 0.9, root + (b % 4 == 2 ? 7 : 0), V(100));   // root, then fifth
                        else foreach (var key in voiced) chords.Play(beat + b, 0.5, key, V(78));
                    break;
                case "arpeggio":
                    int[] pattern = [root + 12, voiced[2] - 12, voiced[0], voiced[1], voiced[2], voiced[1], voiced[0], voiced[2] - 12];
                    for (var e = 0; e < beats * 2; e++) chords.Play(beat + e / 2.0, beats - e / 2.0, pattern[e % 8], V(e == 0 ? 84 : 66));
                    break;
                case "chorale":
                    bass.Play(beat, beats, root + 12, V(84));                                            // bass voice, C3–B3
                    foreach (var key in voiced[1..]) chords.Play(beat, beats, key, V(74));               // tenor, alto
                    break;
            }
        }
    }

    /// <summary>The melody: a rhythm per bar from the meter's patterns; each four-bar phrase arches up to a high point
    /// and back; on strong beats and chord changes a chord tone near the arch, between them notes by step towards it
    /// (passing notes); phrase ends long, the period's end on the tonic.</summary>
    static void Melody(Line line, WesternGenre genre, int home, bool minor, List<(double Beat, double Beats, int[] Tones)> chords, int bar, int bars, Random rng)
    {
        double[][] patterns = bar == 3
            ? [[1, 1, 1], [2, 1], [1.5, 0.5, 1], [1, 0.5, 0.5, 1]]
            : genre.Accompaniment == "chorale" ? [[1, 1, 1, 1], [2, 1, 1], [1, 1, 2]]
            : [[1, 1, 1, 1], [2, 1, 1], [1.5, 0.5, 1, 1], [1, 0.5, 0.5, 2], [0.5, 0.5, 1, 1, 1]];
        var scale = minor ? Minor : Major;
        var pitch = home;
        var height = 0;
        for (var m = 0; m < bars; m++)
        {
            if (m % 4 == 0) height = rng.Next(5, 11);   // the phrase's high point, semitones above home
            var cadence = m % 4 == 3;
            var rhythm = cadence ? [bar] : rng.Pick(patterns);
            var beat = (double)m * bar;
            foreach (var length in rhythm)
            {
                var chord = chords.Last(c => c.Beat <= beat + 1e-9);
                var strong = beat % 2 == 0 || Math.Abs(chord.Beat - beat) < 1e-9;
                var arch = home + height * Math.Sin(Math.PI * (beat / bar % 4) / 3.5);   // up and back over the phrase
                if (cadence && m % 8 == 7) pitch = Nearest(home, [0], pitch);   // the period ends on the tonic
                else if (strong) pitch = Nearest(home, chord.Tones, (int)Math.Round(arch) + rng.Next(-2, 3));
                else pitch = Step(home, scale, pitch, rng.NextDouble() < (arch > pitch ? 0.8 : 0.2) ? 1 : -1,
                                  minor && chord.Tones.Contains(11));
                line.Play(beat, length * 0.95, pitch, (strong ? 96 : 84) + rng.Next(-5, 6));
                beat += length;
            }
        }
    }

    /// <summary>The chord tone nearest <paramref name="near"/>, within an octave and a fifth above the home tonic's
    /// fifth below.</summary>
    static int Nearest(int home, int[] tones, int near) =>
        Enumerable.Range(home - 5, 20).Where(k => tones.Any(t => ((k - home - t) % 12 + 12) % 12 == 0)).MinBy(k => Math.Abs(k - near));

    /// <summary>The next scale note up or down (the leading tone raised over V in minor).</summary>
    static int Step(int home, int[] scale, int pitch, int direction, bool leadingTone)
    {
        for (var k = pitch + direction; ; k += direction)
        {
            var pc = ((k - home) % 12 + 12) % 12;
            if (k < home - 5 || k > home + 14) return pitch;
            if (leadingTone ? pc != 10 && (scale.Contains(pc) || pc == 11) : scale.Contains(pc)) return k;
        }
    }

    /// <summary>A march's drums: bass drum on 1 and 3, snare on 2 and 4 with a pickup, a crash at each phrase.</summary>
    static void March(Part drums, int bar, int bars, Random rng)
    {
        for (var m = 0; m < bars; m++)
        {
            var beat = (double)m * bar;
            if (m % 4 == 0) drums.Play(beat, 1, 49, 100);
            for (var b = 0; b < bar; b++)
                drums.Play(beat + b, 0.5, b % 2 == 0 ? 36 : 38, (b == 0 ? 110 : 90) + rng.Next(-5, 6));
            drums.Play(beat + bar - 0.5, 0.25, 38, 70 + rng.Next(-5, 6));
        }
    }
}
