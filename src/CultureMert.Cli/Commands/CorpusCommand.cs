using System.CommandLine;
using CultureMert.Corpus;

namespace CultureMert.Cli.Commands;

/// <summary><c>culturemert corpus build</c>: the multi-cultural benchmark from real scores and procedural music.</summary>
static class CorpusCommand
{
    public static Command Create() => Examples.Add(new Command("corpus", "The project's multi-cultural music benchmark.") { CreateBuild() }, BuildExamples);

    static readonly (string, string)[] BuildExamples =
    [
        ("Every culture from the repository's corpora and the procedural generators", "culturemert corpus build --out corpus"),
        ("Two cultures, 48 pieces each, another seed", "culturemert corpus build --out corpus-2 --cultures turkish-makam western-folk --pieces-per-culture 48 --seed 1"),
        ("Four 30-second clips per piece", "culturemert corpus build --out corpus-long --seconds-per-clip 30 --clips-per-piece 4"),
    ];

    static Command CreateBuild()
    {
        var output = new Option<string>("--out") { Description = "Corpus folder: audio/, tasks/<culture>.csv, pretrain/<culture>.csv, pieces.csv, corpus.json.", Required = true };
        var symbtr = new Option<string?>("--symbtr") { Description = "Folder laid out like corpora/symbtr (MIDI + metadata.csv); default: the repository's copy." };
        var nottingham = new Option<string?>("--nottingham") { Description = "Folder laid out like corpora/nottingham; default: the repository's copy." };
        var seconds = new Option<double>("--seconds-per-clip") { Description = "Clip length in seconds.", DefaultValueFactory = _ => 10 };
        var clips = new Option<int>("--clips-per-piece") { Description = "Clips cut from the start of each piece, at most.", DefaultValueFactory = _ => 2 };
        var pieces = new Option<int>("--pieces-per-culture") { Description = "Pieces per culture.", DefaultValueFactory = _ => 24 };
        var top = new Option<int>("--top-classes") { Description = "Score corpora: pieces of the N most frequent makams / tune types only.", DefaultValueFactory = _ => 6 };
        var cultures = new Option<string[]>("--cultures") { Description = $"Cultures to build (default all: {string.Join(", ", CorpusSources.AllCultures)}).", AllowMultipleArgumentsPerToken = true };
        var seed = new Option<int>("--seed") { Description = "Seed of every per-piece choice and of the splits.", DefaultValueFactory = _ => 0 };
        var command = new Command("build", "Render SymbTr makam scores, Nottingham folk tunes and procedural Hindustani, Carnatic, Greek and Western music into clips with tagging tasks and pre-training manifests.")
            { output, symbtr, nottingham, seconds, clips, pieces, top, cultures, seed };
        command.SetAction(r => Common.Guard(() =>
        {
            var (secs, perPiece) = (r.GetValue(seconds), r.GetValue(clips));
            var sources = new CorpusSourceOptions(r.GetValue(symbtr), r.GetValue(nottingham), r.GetValue(pieces), r.GetValue(top),
                                                  secs * perPiece + 1, r.GetValue(seed), r.GetValue(cultures) is { Length: > 0 } c ? c : null);
            var all = CorpusSources.Gather(sources, w => Console.Error.WriteLine($"warning: {w}"));
            return Cancellation.RunCommand(cancel =>
            {
                var corpus = Progress.RunGrid("corpus build", all.Count, p => CorpusBuilder.Build(all, r.GetValue(output)!, new CorpusOptions(secs, perPiece, r.GetValue(seed)),
                    (piece, max) => FluidSynth.Render(piece, new FluidSynthOptions { MaxSeconds = max }), p.Report, cancel));
                foreach (var g in corpus.Clips.GroupBy(x => x.Culture))
                    Console.WriteLine($"{g.Key,-14} {g.Select(x => x.PieceId).Distinct().Count(),4} pieces {g.Count(),5} clips {g.Sum(x => x.Seconds) / 60,7:F1} min");
                Console.WriteLine($"{corpus.SkippedPieces.Count} pieces skipped; wrote {Path.Combine(corpus.Dir, "corpus.json")}, tasks/, pretrain/");
                return ExitCodes.Ok;
            }, onStopped: "interrupted: clips written so far are kept; run again to continue.");
        }));
        return Examples.Add(command, BuildExamples);
    }
}
