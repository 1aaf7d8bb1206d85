using static CultureMert.Corpus.Procedural.ProceduralMusic;

namespace CultureMert.Corpus.Procedural;

/// <summary>
/// A raga as the generators play it. Svaras are written <c>S R G M P D N</c> (the raga fixes which variant each one
/// is), with <c>.</c> after a svara for the lower octave (mandra) and <c>'</c> for the upper (taar).
/// </summary>
/// <param name="Cents">cents above Sa of S R G M P D N (just ratios: 90/112, 204, 294/316, 386, 498, 590, 702, …);
/// NaN where the raga omits the svara</param>
/// <param name="Aroha">the ascent; only its svaras are used when the melody moves up (Yaman's ascent skips Pa)</param>
/// <param name="Avaroha">the descent; only its svaras are used when the melody moves down</param>
/// <param name="Vadi">the most emphasised svara: phrases end on it, Sa or the samvadi, and it is held longer</param>
/// <param name="Phrases">characteristic phrases (pakad, prayoga), one svara per melodic unit, '-' holds, ≤ 8 units</param>
/// <param name="Oscillated">svaras that carry the tradition's oscillation (Hindustani andolan, Carnatic kampita)</param>
/// <param name="Drone">the tanpura's first string: Pa, or Ma where the raga omits Pa</param>
public sealed record Raga(string Name, double[] Cents, string Aroha, string Avaroha, char Vadi, char Samvadi,
                          string[] Phrases, string Oscillated = "", char Drone = 'P');

/// <summary>A tala and its theka, the percussion's basic cycle.</summary>
/// <param name="Theka">one token per beat (matra/akshara), vibhags (sections) separated by '|'; a token's strokes,
/// joined by '.', split the beat evenly (<c>Dha.Ge</c>); '-' is a rest. The first stroke is the sam.</param>
public sealed record Tala(string Name, string Theka, double MinBpm, double MaxBpm)
{
    public string[][] Vibhags => Theka.Split('|').Select(v => v.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToArray();
    public int Beats => Vibhags.Sum(v => v.Length);
}

/// <param name="Program">General MIDI program (0-based)</param>
/// <param name="Octave">octaves of the melody's Sa above the drone's Sa</param>
/// <param name="Glides">whether the instrument slides between notes (meend, jaru) and bends (gamaka); a santoor cannot</param>
public sealed record IndianInstrument(string Name, int Program, int Octave, bool Glides);

/// <summary>The choices behind one raga piece; all of them are saved as the piece's parameters.</summary>
/// <param name="SaMidi">the drone's Sa as a fractional MIDI key (Indian music has no fixed pitch; 49–55 = C#3–G3)</param>
/// <param name="BeatsPerMinute">matras (akshara) per minute</param>
/// <param name="NotesPerBeat">melodic units per beat</param>
/// <param name="DronePluckSeconds">time between tanpura plucks</param>
public sealed record RagaSettings(int Seed, int Index, string Raga, string Tala, string Instrument, double SaMidi,
                                  double BeatsPerMinute, int NotesPerBeat, double DronePluckSeconds);

/// <summary>How a tradition oscillates a svara: Hindustani andolan (slow, shallow, below the svara) or Carnatic
/// kampita (quicker, up to the next svara of the raga and back).</summary>
public enum Oscillation { Andolan, Kampita }

/// <summary>One Indian tradition's tables and ornament style.</summary>
/// <param name="Strokes">percussion stroke (bol) → General MIDI drum keys sounded together</param>
/// <param name="GlideChance">chance that a note slides into the next (meend, jaru) on an instrument that glides</param>
public sealed record IndianTradition(string Culture, string Percussion, IReadOnlyList<Raga> Ragas, IReadOnlyList<Tala> Talas,
                                     IReadOnlyList<IndianInstrument> Instruments, IReadOnlyDictionary<string, int[]> Strokes,
                                     Oscillation Oscillation, double GlideChance);

/// <summary>
/// Raga music for Hindustani and Carnatic pieces: a tanpura drone, the tala's theka on hand drums, and a melody in the
/// raga aligned to the tala — each cycle starts on sam with Sa, the vadi or the samvadi, phrases fill vibhags and end on
/// one of those, the pakad-like phrases recur, ascent and descent keep to aroha and avaroha — with glides and
/// oscillations as pitch bends.
/// </summary>
public static class RagaMusic
{
    const string Svaras = "SRGMPDN";
    const int Low = -3, High = 11;      // the melody's range: mandra Pa to taar Pa, positions counted in svaras from Sa

    public static RagaSettings Draw(IndianTradition tradition, int seed, int index)
    {
        var rng = Random(seed, index, 0);
        var raga = rng.Pick(tradition.Ragas);
        var tala = rng.Pick(tradition.Talas);
        var instrument = rng.Pick(tradition.Instruments);
        var sa = Math.Round(rng.Uniform(49, 55), 2);                       // C#3–G3, to the cent
        var bpm = Math.Round(rng.Uniform(tala.MinBpm, tala.MaxBpm), 1);
        // Units per beat so that notes come 1.5–4.5 a second, as a gat or a kriti in madhya laya.
        var units = new[] { 1, 2, 4 }.Where(n => bpm * n / 60 is >= 1.5 and <= 4.5).DefaultIfEmpty(1).ToArray();
        return new RagaSettings(seed, index, raga.Name, tala.Name, instrument.Name, sa, bpm, rng.Pick(units), Math.Round(rng.Uniform(0.9, 1.4), 2));
    }

    public static MusicPiece Compose(IndianTradition tradition, RagaSettings s, double seconds)
    {
        var culture = tradition.Culture;
        CheckSeconds(culture, seconds);
        var raga = Named(tradition.Ragas, r => r.Name, s.Raga, "raga", culture);
        var tala = Named(tradition.Talas, t => t.Name, s.Tala, "tala", culture);
        var instrument = Named(tradition.Instruments, i => i.Name, s.Instrument, "instrument", culture);
        if (s.NotesPerBeat is not (1 or 2 or 4)) throw new ArgumentException($"{culture}: notes per beat must be 1, 2 or 4 (got {s.NotesPerBeat}).");
        var rng = Random(s.Seed, s.Index, 1);
        var score = new Score(s.BeatsPerMinute, tala.Beats, 4);
        var beats = seconds / score.SecondsPerBeat;

        Drone(score, raga, s, beats);
        Theka(score, tradition, tala, beats, s.SaMidi, rng);
        var melodySa = s.SaMidi + 12 * instrument.Octave;
        var notes = new Melody(raga, tala, s.NotesPerBeat, rng).Compose(beats);
        Play(score, tradition, raga, instrument, melodySa, notes, rng);

        var id = Id(culture, s.Seed, s.Index);
        string[] labels = [Tag("raga", raga.Name), Tag("tala", tala.Name), Tag("instrument", instrument.Name),
                           Tag("instrument", "tanpura"), Tag("instrument", tradition.Percussion)];
        var parameters = new Dictionary<string, string>
        {
            ["generator"] = "procedural/raga-v1", ["seed"] = s.Seed.ToString(), ["index"] = s.Index.ToString(),
            ["seconds"] = Format(seconds), ["raga"] = raga.Name, ["tala"] = tala.Name, ["tala_beats"] = tala.Beats.ToString(),
            ["instrument"] = instrument.Name, ["program"] = instrument.Program.ToString(),
            ["sa_midi"] = Format(s.SaMidi), ["sa_hz"] = Format(440 * Math.Pow(2, (s.SaMidi - 69) / 12)),
            ["melody_sa_midi"] = Format(melodySa), ["tempo_bpm"] = Format(s.BeatsPerMinute), ["notes_per_beat"] = s.NotesPerBeat.ToString(),
            ["drum_tuning_cents"] = Format(KitTuning(s.SaMidi)), ["drone"] = $"{raga.Drone}. S S S.", ["drone_pluck_seconds"] = Format(s.DronePluckSeconds),
            ["svara_cents"] = string.Join(' ', raga.Cents.Select(c => double.IsNaN(c) ? "-" : Format(c))),
        };
        return new MusicPiece(culture, id, labels, score.ToMidi(seconds), parameters);
    }

    static double Cents(Raga raga, int position) => raga.Cents[Mod7(position)] + 1200 * Math.Floor(position / 7.0);

    /// <summary>The raga's next svara above <paramref name="position"/>.</summary>
    static int Above(Raga raga, int position)
    {
        do position++; while (double.IsNaN(raga.Cents[Mod7(position)]));
        return position;
    }

    static int Mod7(int position) => ((position % 7) + 7) % 7;

    /// <summary>"N." → −1, "S" → 0, "R'" → 8.</summary>
    static int Position(string svara, Raga raga)
    {
        var degree = Svaras.IndexOf(svara[0]);
        if (degree < 0 || svara[1..].Any(c => c is not ('.' or '\'')) || double.IsNaN(raga.Cents[degree]))
            throw new InvalidDataException($"raga {raga.Name}: '{svara}' is not a svara of the raga (S R G M P D N, then . or ').");
        return degree + 7 * (svara.Count(c => c == '\'') - svara.Count(c => c == '.'));
    }

    /// <summary>Tanpura: four strings — Pa (or Ma) and the kharaj Sa an octave below the others — plucked in a slow
    /// cycle that ignores the tala, each ringing until plucked again. One channel per string, so each keeps its tuning.</summary>
    static void Drone(Score score, Raga raga, RagaSettings s, double beats)
    {
        var first = raga.Cents[Svaras.IndexOf(raga.Drone)] - 1200;
        double[] strings = [first, 0, 0, -1200];
        var pluck = s.DronePluckSeconds / score.SecondsPerBeat;   // beats between plucks
        var cycle = pluck * 4.5;                                  // a breath after the fourth string
        for (var k = 0; k < strings.Length; k++)
        {
            var pitch = s.SaMidi + strings[k] / 100;
            var key = (int)Math.Round(pitch);
            var part = score.Part($"tanpura {k + 1}", 104, (pitch - key) * 100, volume: 70, pan: 40 + 16 * k);   // GM 104 Sitar: a jawari buzz
            for (var t = k * pluck; t < beats; t += cycle) part.Play(t, cycle * 0.98, key, k == 3 ? 66 : 58);
        }
    }

    /// <summary>Pitch class, in cents above C, of the strongest partial of FluidR3_GM's Open Hi Conga (key 63), the
    /// dayan's ringing Tin/Dhin (measured on the rendered note).</summary>
    const double CongaPitchClass = 190;

    /// <summary>Cents that retune the drum kit so that its ringing stroke sounds Sa, as a tabla's dayan and a
    /// mridangam's right head are tuned: to the nearest Sa, within ±600.</summary>
    static double KitTuning(double saMidi)
    {
        var offset = ((saMidi - 60) * 100 - CongaPitchClass) % 1200;
        return offset < -600 ? offset + 1200 : offset >= 600 ? offset - 1200 : offset;
    }

    /// <summary>The theka on every cycle, on a kit tuned to Sa: sam loudest, the first stroke of each vibhag accented,
    /// sub-beat strokes lighter.</summary>
    static void Theka(Score score, IndianTradition tradition, Tala tala, double beats, double saMidi, Random rng)
    {
        var drums = score.Drums(tradition.Percussion, KitTuning(saMidi));
        for (var cycle = 0.0; cycle < beats; cycle += tala.Beats)
        {
            var beat = 0;
            foreach (var vibhag in tala.Vibhags)
                for (var b = 0; b < vibhag.Length; b++, beat++)
                {
                    var strokes = vibhag[b].Split('.');
                    for (var k = 0; k < strokes.Length; k++)
                    {
                        if (strokes[k] == "-") continue;
                        if (!tradition.Strokes.TryGetValue(strokes[k], out var keys))
                            throw new InvalidDataException($"{tradition.Culture} tala {tala.Name}: stroke '{strokes[k]}' has no drum sound.");
                        var velocity = beat == 0 && k == 0 ? 120 : (b == 0 && k == 0 ? 100 : k == 0 ? 84 : 70) + rng.Next(-5, 6);
                        foreach (var key in keys) drums.Play(cycle + beat + (double)k / strokes.Length, 0.25, key, velocity);
                    }
                }
        }
    }

    /// <summary>A melody note: a position in svaras from the melody's Sa, its start and length in beats.</summary>
    internal readonly record struct Note(int Position, double Beat, double Beats, int Velocity);

    /// <summary>The melody's svaras and rhythm, before ornaments.</summary>
    sealed class Melody(Raga raga, Tala tala, int unitsPerBeat, Random rng)
    {
        readonly HashSet<int> up = raga.Aroha.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(t => Mod7(Position(t, raga))).ToHashSet();
        readonly HashSet<int> down = raga.Avaroha.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(t => Mod7(Position(t, raga))).ToHashSet();
        readonly int[] nyas = new[] { "S", raga.Vadi.ToString(), raga.Samvadi.ToString() }.Select(t => Mod7(Position(t, raga))).ToArray();
        readonly List<(int Position, int Units)>[] phrases = raga.Phrases.Select(p => Parse(p, raga)).ToArray();
        int current;

        public List<Note> Compose(double beats)
        {
            var notes = new List<Note>();
            var unit = 1.0 / unitsPerBeat;
            for (var cycle = 0.0; cycle < beats; cycle += tala.Beats)
            {
                var start = cycle;
                foreach (var segment in Segments())
                {
                    var atSam = start == cycle;
                    foreach (var (position, units) in Phrase(segment, atSam))
                    {
                        var velocity = atSam ? 112 : nyas.Contains(Mod7(position)) ? 100 : 88;
                        notes.Add(new Note(position, start, units * unit, velocity + rng.Next(-6, 7)));
                        start += units * unit;
                        atSam = false;
                    }
                }
            }
            return notes;
        }

        /// <summary>The cycle's phrase lengths in units: vibhags, joined until each phrase has at least four units.</summary>
        List<int> Segments()
        {
            var segments = new List<int>();
            var open = 0;
            foreach (var vibhag in tala.Vibhags)
            {
                open += vibhag.Length * unitsPerBeat;
                if (open >= 4) { segments.Add(open); open = 0; }
            }
            if (open > 0) { if (segments.Count > 0) segments[^1] += open; else segments.Add(open); }
            return segments;
        }

        /// <summary>One phrase of exactly <paramref name="units"/> units: a pakad-like phrase led into by a few notes,
        /// or a walk along aroha/avaroha that ends, held, on Sa, the vadi or the samvadi.</summary>
        List<(int, int)> Phrase(int units, bool atSam)
        {
            var fitting = phrases.Where(p => p.Sum(n => n.Units) <= units && (!atSam || nyas.Contains(Mod7(p[0].Position)))).ToList();
            if (fitting.Count > 0 && rng.NextDouble() < 0.4)
            {
                var phrase = rng.Pick(fitting);
                var lead = units - phrase.Sum(n => n.Units);
                var notes = new List<(int, int)>();
                for (var i = 0; i < lead; i++) notes.Add((current = Step(current, phrase[0].Position > current), 1));
                notes.AddRange(phrase);
                current = phrase[^1].Position;
                return notes;
            }
            var hold = units >= 6 ? rng.Next(2, 4) : units >= 3 ? 2 : 1;
            var lengths = new List<int>();
            for (var left = units - hold; left > 0;)
            {
                var n = left >= 2 && rng.NextDouble() < 0.2 ? 2 : 1;
                lengths.Add(n);
                left -= n;
            }
            lengths.Add(hold);
            var target = Nearest(current + rng.Next(-5, 6));
            var walk = new List<(int, int)>();
            for (var i = 0; i < lengths.Count; i++)
            {
                if ((i == 0 && atSam) || i == lengths.Count - 1) current = Nearest(current);
                else
                {
                    var rise = current < target ? rng.NextDouble() < 0.8 : current > target ? rng.NextDouble() < 0.2 : rng.NextDouble() < 0.5;
                    current = Step(current, rise);
                    if (rng.NextDouble() < 0.15) current = Step(current, rise);   // a skip
                }
                walk.Add((current, lengths[i]));
            }
            return walk;
        }

        /// <summary>The next svara up the aroha or down the avaroha, turning back at the range's ends.</summary>
        int Step(int position, bool rise)
        {
            for (var pass = 0; pass < 2; pass++, rise = !rise)
                for (var p = rise ? position + 1 : position - 1; p is >= Low and <= High; p += rise ? 1 : -1)
                    if ((rise ? up : down).Contains(Mod7(p)) && !double.IsNaN(raga.Cents[Mod7(p)])) return p;
            return position;
        }

        /// <summary>The nyas svara (Sa, vadi, samvadi) nearest in pitch to <paramref name="position"/>, within range.</summary>
        int Nearest(int position)
        {
            var reference = Cents(raga, Math.Clamp(position, Low, High));
            return Enumerable.Range(Low, High - Low + 1).Where(p => nyas.Contains(Mod7(p)))
                             .MinBy(p => Math.Abs(Cents(raga, p) - reference) + rng.NextDouble() * 50);   // near-ties broken at random
        }

        static List<(int Position, int Units)> Parse(string phrase, Raga raga)
        {
            var notes = new List<(int Position, int Units)>();
            foreach (var token in phrase.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                if (token == "-")
                {
                    if (notes.Count == 0) throw new InvalidDataException($"raga {raga.Name}: phrase '{phrase}' starts with a hold.");
                    notes[^1] = (notes[^1].Position, notes[^1].Units + 1);
                }
                else notes.Add((Position(token, raga), 1));
            return notes;
        }
    }

    /// <summary>
    /// Plays the melody on a bending line: a glide (meend, jaru) joins a note to the next into one struck note whose
    /// pitch slides over the end of the first; oscillated svaras get andolan or kampita; a Hindustani note may start
    /// with a kan (a touch of the svara above). A santoor cannot bend: it strikes each note, and rolls long ones.
    /// </summary>
    static void Play(Score score, IndianTradition tradition, Raga raga, IndianInstrument instrument, double sa, List<Note> notes, Random rng)
    {
        var line = score.Line(instrument.Name, instrument.Program, bendRange: 12);
        var spb = score.SecondsPerBeat;
        for (var i = 0; i < notes.Count; i++)
        {
            var first = notes[i];
            if (!instrument.Glides)
            {
                var strokes = first.Beats * spb >= 0.8 ? (int)(first.Beats * spb / 0.2) : 1;   // a roll: strokes 0.2 s apart
                for (var k = 0; k < strokes; k++)
                    line.Play(first.Beat + k * first.Beats / strokes, first.Beats / strokes, sa + Cents(raga, first.Position) / 100, first.Velocity - (k > 0 ? 20 : 0));
                continue;
            }
            var chain = new List<Note> { first };
            while (chain.Count < 3 && i + 1 < notes.Count && notes[i + 1].Position != chain[^1].Position
                   && Math.Abs(Cents(raga, notes[i + 1].Position) - Cents(raga, first.Position)) <= 700   // stays well inside ±12 semitones
                   && chain[^1].Beats * spb >= 0.2 && rng.NextDouble() < tradition.GlideChance)
                chain.Add(notes[++i]);
            var kan = tradition.Oscillation == Oscillation.Andolan && rng.NextDouble() < 0.2;
            line.Play(first.Beat, chain.Sum(n => n.Beats), sa + Cents(raga, first.Position) / 100, first.Velocity,
                      Contour(tradition, raga, chain, spb, kan));
        }
    }

    /// <summary>Cents above the chain's first svara, beats into the chain.</summary>
    static Func<double, double> Contour(IndianTradition tradition, Raga raga, List<Note> chain, double spb, bool kan)
    {
        var origin = Cents(raga, chain[0].Position);
        var levels = chain.Select(n => Cents(raga, n.Position) - origin).ToArray();
        // Glides take the end of each note but the last: up to 0.35 s, at most half the note.
        var glides = chain.Select((n, j) => j + 1 < chain.Count ? Math.Min(n.Beats / 2, 0.35 / spb) : 0).ToArray();
        var oscillations = chain.Select(n => Oscillate(tradition, raga, n, spb)).ToArray();
        var grace = kan ? Cents(raga, Above(raga, chain[0].Position)) - origin : 0;
        return t =>
        {
            var j = 0;
            while (j + 1 < chain.Count && t >= chain[j + 1].Beat - chain[0].Beat) j++;
            var local = t - (chain[j].Beat - chain[0].Beat);
            var steady = chain[j].Beats - glides[j];
            if (j == 0 && kan && local * spb < 0.06) return grace;
            if (local >= steady && j + 1 < chain.Count)
            {
                var u = (local - steady) / glides[j];
                return levels[j] + (levels[j + 1] - levels[j]) * (1 - Math.Cos(Math.PI * u)) / 2;   // eased: starts and lands slowly
            }
            return levels[j] + oscillations[j](local / steady);
        };
    }

    /// <summary>The note's oscillation over its steady part (0–1): none, andolan or kampita. Whole periods only, so
    /// it ends on the svara.</summary>
    static Func<double, double> Oscillate(IndianTradition tradition, Raga raga, Note note, double spb)
    {
        var seconds = note.Beats * spb;
        if (!raga.Oscillated.Contains(Svaras[Mod7(note.Position)])) return _ => 0;
        if (tradition.Oscillation == Oscillation.Andolan)
        {
            if (seconds < 0.8) return _ => 0;
            var periods = Math.Max(1, Math.Round(seconds * 1.2));   // ≈ 1.2 Hz, 30 cents below the svara and back
            return u => -30 * (1 - Math.Cos(2 * Math.PI * periods * u)) / 2;
        }
        if (seconds < 0.3) return _ => 0;
        var depth = Cents(raga, Above(raga, note.Position)) - Cents(raga, note.Position);
        var cycles = Math.Max(1, Math.Round(seconds * 4));           // ≈ 4 Hz, up to the next svara and back
        return u => depth * Dwell(cycles * u % 1);
    }

    /// <summary>One kampita cycle, 0 → 1 → 0: the pitch rests on the svara and on the one above and moves quickly between
    /// them (the "stops" that analyses of sung gamakas find), rather than swinging like a sine.</summary>
    static double Dwell(double u)
    {
        double Ease(double v) => (1 - Math.Cos(Math.PI * Math.Clamp(v, 0, 1))) / 2;
        return u < 0.5 ? Ease((u - 0.15) / 0.2) : 1 - Ease((u - 0.65) / 0.2);
    }
}
