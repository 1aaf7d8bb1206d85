namespace CultureMert.Corpus.Procedural;

/// <summary>
/// Carnatic raga music: veena, violin, flute or nadaswaram over a tanpura, with a mridangam pattern on the tala.
/// Ornaments: kampita (the svara oscillating up to the next one and back) on each raga's gamaka svaras, jaru (slides).
/// Labels: <c>raga--</c>, <c>tala--</c>, <c>instrument--</c> (lead, tanpura, mridangam), as in Dunya's Carnatic corpus.
/// </summary>
public sealed class Carnatic : IProceduralGenerator
{
    // Melakarta scales in just-intonation cents; vadi/samvadi here are the jiva svaras phrases rest on.
    public static readonly IndianTradition Tradition = new(
        Culture: "carnatic",
        Percussion: "mridangam",
        Ragas:
        [
            new("shankarabharanam", [0, 204, 386, 498, 702, 884, 1088], "S R G M P D N S'", "S' N D P M G R S", 'G', 'P',
                ["S R G M P - - -", "P D N S' - - -", "S' N D P M G R S", "G M P D P M G -", "N. S R G M G R S"],
                Oscillated: "GN"),
            new("kalyani", [0, 204, 386, 590, 702, 884, 1088], "S R G M P D N S'", "S' N D P M G R S", 'N', 'G',
                ["N. R G M P - - -", "G M D N S' - - -", "S' N D P M G R S", "M D N R' S' - - -", "P M G R S - - -"],
                Oscillated: "GN"),
            new("mayamalavagowla", [0, 90, 386, 498, 702, 792, 1088], "S R G M P D N S'", "S' N D P M G R S", 'G', 'N',
                ["S R G M P - - -", "P D N S' - - -", "S' N D P M G R S", "G M P D P M G R", "R G M G R S - -"],
                Oscillated: "GN"),
            new("kharaharapriya", [0, 204, 316, 498, 702, 884, 996], "S R G M P D N S'", "S' N D P M G R S", 'G', 'N',
                ["S R G M P - - -", "R G M P D N D P", "P D N S' - - -", "S' N D P M G R S", "G M R G R S - -"],
                Oscillated: "RGN"),
            // Hanumatodi ("Todi"): gamakas on almost every svara, phrases that skirt Pa.
            new("todi", [0, 90, 294, 498, 702, 792, 996], "S R G M P D N S'", "S' N D P M G R S", 'G', 'D',
                ["G M D N D P M G", "D N S' - - - - -", "S' N D P M G R S", "G M P D P M G R", "R G M G R S - -"],
                Oscillated: "GMDN"),
            new("hindolam", [0, double.NaN, 316, 498, double.NaN, 792, 996], "S G M D N S'", "S' N D M G S", 'M', 'S',
                ["S G M D N S' - -", "S' N D M G S - -", "G M D M G - S -", "N. S G M - - - -"],
                Oscillated: "GN", Drone: 'M'),
        ],
        // Sarvalaghu-like patterns; Adi is laghu 4 + drutam 2 + drutam 2, the chapu talas are recited
        // "tha ki ta | tha ka | dhi mi" (3+2+2) and "tha ka | tha ki ta" (2+3).
        Talas:
        [
            new("adi", "Tham.Ki Nam.Ki Dhin.Nam Tha.Ki | Tham.Ki Dhin.Nam | Tha.Ki Dheem.Nam", 60, 96),
            new("rupaka", "Tham.Ki.Nam.Ki | Dhin.Ki.Nam.Ki Tha.Ki.Dheem.Ki", 50, 80),
            new("misra-chapu", "Tham Ki Ta | Tha Ka | Dheem Nam", 150, 240),
            new("khanda-chapu", "Tham Ka | Dhin Ki Ta", 150, 240),
        ],
        Instruments:
        [
            new("veena", 104, 0, true), new("violin", 40, 1, true), new("flute", 73, 1, true),
            new("nadaswaram", 111, 1, true),   // GM 104 Sitar for the veena's plucked, buzzing string; 111 Shanai
        ],
        // General MIDI drums: the right head's ringing strokes (Nam, Dhin) on bongo and conga, the left head's open bass
        // (Thom) on the low floor tom (41), its closed slap (Tha) on the low bongo.
        Strokes: new Dictionary<string, int[]>
        {
            ["Tham"] = [41, 60], ["Dheem"] = [41, 63], ["Thom"] = [41], ["Tha"] = [61],
            ["Nam"] = [60], ["Dhin"] = [63], ["Ki"] = [62], ["Ta"] = [62], ["Ka"] = [61],
        },
        Oscillation: Oscillation.Kampita,
        GlideChance: 0.25);

    public string Culture => Tradition.Culture;

    public static RagaSettings Draw(int seed, int index) => RagaMusic.Draw(Tradition, seed, index);

    public static MusicPiece Compose(RagaSettings settings, double seconds) => RagaMusic.Compose(Tradition, settings, seconds);

    public MusicPiece Piece(int seed, int index, double seconds) => Compose(Draw(seed, index), seconds);
}
