using System.Globalization;

namespace CultureMert.Corpus.Procedural;

/// <summary>The four generators, and what they share: seeding, argument checks, parameter formatting.</summary>
public static class ProceduralMusic
{
    public static readonly IReadOnlyList<IProceduralGenerator> All = [new Hindustani(), new Carnatic(), new Greek(), new Western()];

    /// <summary>Pieces 0 … count−1 of run <paramref name="seed"/>.</summary>
    public static IEnumerable<MusicPiece> Generate(this IProceduralGenerator generator, int count, int seed, double seconds)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), $"{generator.Culture}: piece count must be ≥ 0 (got {count}).");
        CheckSeconds(generator.Culture, seconds);
        for (var i = 0; i < count; i++) yield return generator.Piece(seed, i, seconds);
    }

    /// <summary>
    /// The Random for stream <paramref name="stream"/> (0: the piece's choices, 1: its notes) of piece
    /// <paramref name="index"/> in run <paramref name="seed"/>: SplitMix64 of the three, because
    /// <see cref="HashCode"/> is salted per process and would break reproducibility.
    /// </summary>
    public static Random Random(int seed, int index, int stream)
    {
        var z = ((ulong)(uint)seed << 32 | (uint)index) + 0x9E3779B97F4A7C15UL * (ulong)(stream + 1);
        z = (z ^ z >> 30) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ z >> 27) * 0x94D049BB133111EBUL;
        return new Random((int)((z ^ z >> 31) & int.MaxValue));   // a seeded Random's sequence is fixed across .NET versions
    }

    public static void CheckSeconds(string culture, double seconds)
    {
        if (seconds is not (> 0 and <= 3600)) throw new ArgumentOutOfRangeException(nameof(seconds), $"{culture}: piece length must be in (0, 3600] s (got {seconds}).");
    }

    /// <summary>The piece id: unique within the culture, and names the run and index that regenerate it.</summary>
    public static string Id(string culture, int seed, int index) => $"{culture}-s{seed}-{index:D5}";

    /// <summary>A label value as a tag: lower case, words joined by '-' (<c>Misra Chapu</c> → <c>misra-chapu</c>).</summary>
    public static string Tag(string type, string value) => $"{type}--{value.ToLowerInvariant().Replace(' ', '-')}";

    public static string Format(double value) => value.ToString("0.####", CultureInfo.InvariantCulture);

    internal static T Pick<T>(this Random rng, IReadOnlyList<T> items) => items[rng.Next(items.Count)];

    internal static double Uniform(this Random rng, double low, double high) => low + (high - low) * rng.NextDouble();

    /// <summary>The item called <paramref name="name"/>, or an error that lists the known ones.</summary>
    internal static T Named<T>(IEnumerable<T> items, Func<T, string> nameOf, string name, string what, string culture)
    {
        foreach (var item in items) if (nameOf(item) == name) return item;
        throw new ArgumentException($"{culture}: unknown {what} '{name}'; known: {string.Join(", ", items.Select(nameOf))}.");
    }
}
