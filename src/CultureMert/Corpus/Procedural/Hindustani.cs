namespace CultureMert.Corpus.Procedural;

/// <summary>
/// Hindustani raga music: sitar, bansuri, shehnai, sarangi or santoor over a tanpura, with a tabla theka. Ornaments:
/// meend (slides between svaras), andolan on the svaras that carry it (Bhairav's komal Re and Dha), kan (grace notes).
/// Labels: <c>raga--</c>, <c>tala--</c>, <c>instrument--</c> (lead, tanpura, tabla), as in Dunya's Hindustani corpus.
/// </summary>
public sealed class Hindustani : IProceduralGenerator
{
    // Svara cents are just-intonation positions (komal Re of Bhairav and Todi at 90, the low "ati komal" shade).
    public static readonly IndianTradition Tradition = new(
        Culture: "hindustani",
        Percussion: "tabla",
        Ragas:
        [
            new("yaman", [0, 204, 386, 590, 702, 884, 1088], "N. R G M D N S'", "S' N D P M G R S", 'G', 'N',
                ["N. R G - R S - -", "N. R G M P - - -", "G M D N S' - - -", "P M G R G - R S", "M D N D P - - -"]),
            new("bhairav", [0, 90, 386, 498, 702, 792, 1088], "S R G M P D N S'", "S' N D P M G R S", 'D', 'R',
                ["S G M P - D - P", "G M R - - S - -", "D - - P M G R S", "G M D N S' - - -", "S' N D - P - - -"],
                Oscillated: "RD"),
            new("kafi", [0, 204, 316, 498, 702, 884, 996], "S R G M P D N S'", "S' N D P M G R S", 'P', 'S',
                ["S S R R G G M M", "R G M P - - - -", "M P D N S' - - -", "P M G R - - - -", "R N. S - - - - -"]),
            new("bhairavi", [0, 112, 316, 498, 702, 814, 996], "S R G M P D N S'", "S' N D P M G R S", 'M', 'S',
                ["M G R G - - R S", "S R S - D. N. S -", "G M D P - - - -", "P D N S' - - - -", "D P M G R S - -"]),
            new("todi", [0, 90, 294, 590, 702, 792, 1088], "S R G M D N S'", "S' N D P M G R S", 'D', 'G',
                ["D. N. S R G - - -", "R G R S - - - -", "M G R G R S - -", "G M D N S' - - -", "S' N D - P - - -"]),
            // Malkauns omits Re and Pa: the tanpura's first string goes to Ma.
            new("malkauns", [0, double.NaN, 316, 498, double.NaN, 792, 996], "S G M D N S'", "S' N D M G S", 'M', 'S',
                ["M G M D N D M -", "G M G S - - - -", "N. S G M - - - -", "D N S' - - N D M", "S G S N. D. N. S -"],
                Oscillated: "GD", Drone: 'M'),
        ],
        // Thekas as tabla players recite them; the khali vibhag (Teentaal's third, Jhaptaal's third) drops the bayan.
        Talas:
        [
            new("teentaal", "Dha Dhin Dhin Dha | Dha Dhin Dhin Dha | Dha Tin Tin Ta | Ta Dhin Dhin Dha", 160, 320),
            new("jhaptaal", "Dhi Na | Dhi Dhi Na | Ti Na | Dhi Dhi Na", 140, 260),
            new("rupak", "Tin Tin Na | Dhi Na | Dhi Na", 120, 220),
            new("ektaal", "Dhin Dhin | Dha.Ge Ti.Ra.Ki.Ta | Tu Na | Kat Ta | Dha.Ge Ti.Ra.Ki.Ta | Dhi Na", 160, 300),
        ],
        Instruments:
        [
            new("sitar", 104, 0, true), new("bansuri", 73, 1, true), new("shehnai", 111, 1, true),
            new("sarangi", 110, 1, true), new("santoor", 15, 1, false),   // GM 110 Fiddle, 15 Dulcimer
        ],
        // General MIDI drums: the dayan's ringing strokes on bongo and conga heads, the bayan's deep open Ge on the low
        // floor tom (41). Khali vibhags lose it, which is how a listener hears where the cycle is.
        Strokes: new Dictionary<string, int[]>
        {
            ["Dha"] = [60, 41], ["Dhin"] = [63, 41], ["Dhi"] = [63, 41], ["Ge"] = [41],
            ["Na"] = [60], ["Ta"] = [60], ["Tin"] = [63], ["Tu"] = [63],
            ["Ti"] = [62], ["Ra"] = [62], ["Ki"] = [61], ["Kat"] = [61],
        },
        Oscillation: Oscillation.Andolan,
        GlideChance: 0.3);

    public string Culture => Tradition.Culture;

    public static RagaSettings Draw(int seed, int index) => RagaMusic.Draw(Tradition, seed, index);

    public static MusicPiece Compose(RagaSettings settings, double seconds) => RagaMusic.Compose(Tradition, settings, seconds);

    public MusicPiece Piece(int seed, int index, double seconds) => Compose(Draw(seed, index), seconds);
}
