namespace CultureMert.Corpus;

/// <summary>
/// A piece of music ready to render, with its labels: a real score (SymbTr, Nottingham) after the corpus's per-piece
/// choices (instruments, transposition, tempo), or the output of a procedural generator.
/// </summary>
/// <param name="Culture">the tradition, which names the pre-training source and the task: <c>turkish-makam</c>,
/// <c>western-folk</c>, <c>hindustani</c>, <c>carnatic</c>, <c>greek</c>, <c>western</c></param>
/// <param name="Id">unique within the culture; clips of one piece never cross splits</param>
/// <param name="Labels">multi-label tags, <c>type--value</c> (e.g. <c>makam--hicaz</c>, <c>tala--teentaal</c>)</param>
/// <param name="Midi">a Standard MIDI File (format 0 or 1) to render as it is</param>
/// <param name="Parameters">how the piece was made (source file, seed, transposition, tempo factor, programs, ...),
/// saved as metadata so that every clip can be traced and regenerated</param>
public sealed record MusicPiece(string Culture, string Id, IReadOnlyList<string> Labels, byte[] Midi, IReadOnlyDictionary<string, string> Parameters);
