namespace CultureMert.Corpus.Procedural;

/// <summary>
/// Procedural music of one tradition (issue 8: the traditions with no scores here). Piece i of a run draws its choices
/// from a Random seeded by (seed, i) alone, so any piece can be regenerated on its own; the choices are saved in
/// <see cref="MusicPiece.Parameters"/>.
/// </summary>
public interface IProceduralGenerator
{
    /// <summary><c>hindustani</c>, <c>carnatic</c>, <c>greek</c> or <c>western</c>.</summary>
    string Culture { get; }

    /// <summary>Piece <paramref name="index"/> of run <paramref name="seed"/>, <paramref name="seconds"/> long.</summary>
    MusicPiece Piece(int seed, int index, double seconds);
}
