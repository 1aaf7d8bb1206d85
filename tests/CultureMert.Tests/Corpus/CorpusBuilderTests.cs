using System.Text.Json.Nodes;
using CultureMert.Audio;
using CultureMert.Batch;
using CultureMert.Corpus;
using CultureMert.Corpus.Datasets;

namespace CultureMert.Tests.Corpus;

public class CorpusBuilderTests
{
    /// <summary>Pieces whose "rendering" is a sine at a frequency from the piece's index: known audio without FluidSynth.</summary>
    static List<MusicPiece> Pieces(string culture, int n, string label) =>
        [.. Enumerable.Range(0, n).Select(i => new MusicPiece(culture, $"{culture}-{i:D2}", [$"kind--{label}{i % 2}", $"culture--{culture}"], [(byte)i, 1, 2],
                                                               new Dictionary<string, string> { ["index"] = $"{i}" }))];

    static float[] Sine(MusicPiece p, double seconds, double pieceSeconds)
    {
        var n = (int)(Math.Min(seconds, pieceSeconds) * 24000);
        var f = 200 + 10 * p.Midi[0];
        return [.. Enumerable.Range(0, n).Select(t => (float)(0.3 * Math.Sin(2 * Math.PI * f * t / 24000)))];
    }

    [Fact]
    public void Build_TwoCultures_WritesClipsSplitsByPieceManifestsAndSummary()
    {
        using var dir = new Fixtures.TempDir();
        var pieces = Pieces("makam", 10, "m").Concat(Pieces("western", 6, "w")).ToList();
        var renders = 0;
        var options = new CorpusOptions(SecondsPerClip: 1, ClipsPerPiece: 3, Seed: 4);
        // makam pieces last 2.5 s (2 whole clips), western 5 s (3 clips, the most asked for)
        float[] Render(MusicPiece p, double s) { Interlocked.Increment(ref renders); return Sine(p, s, p.Culture == "makam" ? 2.5 : 5); }
        var corpus = CorpusBuilder.Build(pieces, dir.Path, options, Render);

        Assert.Equal(10 * 2 + 6 * 3, corpus.Clips.Count);
        Assert.All(corpus.Clips, c =>
        {
            var audio = AudioFile.ReadMono(c.Path, 24000);
            Assert.Equal(24000, audio.Length);
            var piece = pieces.Single(p => p.Id == c.PieceId);
            var f = 200 + 10 * piece.Midi[0];                                          // the clip is the piece's own audio, at its offset
            var t0 = c.Index * 24000;
            Assert.Equal(0.3 * Math.Sin(2 * Math.PI * f * (t0 + 100) / 24000), audio[100], 5);
        });
        // Splits: every piece's clips in one split; 70/10/20 of the pieces; no split empty.
        foreach (var g in corpus.Clips.GroupBy(c => c.PieceId)) Assert.Single(g.Select(c => c.Split).Distinct());
        var makamSplits = corpus.Clips.Where(c => c.Culture == "makam").GroupBy(c => c.PieceId).Select(g => g.First().Split).ToList();
        Assert.Equal((7, 1, 2), (makamSplits.Count(s => s == "train"), makamSplits.Count(s => s == "valid"), makamSplits.Count(s => s == "test")));
        var westernSplits = corpus.Clips.Where(c => c.Culture == "western").GroupBy(c => c.PieceId).Select(g => g.First().Split).ToList();
        Assert.All(TaskManifest.Splits, s => Assert.Contains(s, westernSplits));

        // Task manifests: evaluation format, track = piece, culture column says western for the Western task.
        var makam = TaskManifest.Read(dir["tasks/makam.csv"]);
        Assert.Equal(20, makam.Rows.Count);
        Assert.All(makam.Rows, r => Assert.Equal("makam", r.Culture));
        Assert.Contains("kind--m0", makam.Vocabulary);
        Assert.All(TaskManifest.Read(dir["tasks/western.csv"]).Rows, r => Assert.Equal("western", r.Culture));
        // Pre-training manifests: the train split's clips only.
        var pre = Manifest.ReadPaths(dir["pretrain/makam.csv"]);
        Assert.Equal(14, pre.Count);
        var trainPaths = corpus.Clips.Where(c => c.Culture == "makam" && c.Split == "train").Select(c => Path.GetFullPath(c.Path)).Order().ToList();
        Assert.Equal(trainPaths, pre.Select(p => Path.GetFullPath(Path.Combine(dir["pretrain"], p))).Order().ToList());

        var summary = JsonNode.Parse(File.ReadAllText(dir["corpus.json"]))!;
        Assert.Equal(20.0 / 3600, summary["cultures"]!["makam"]!["hours"]!.GetValue<double>(), 4);
        Assert.Equal(10, summary["cultures"]!["makam"]!["label_counts_per_clip"]!["kind--m0"]!.GetValue<int>());   // 5 even pieces × 2 clips
        Assert.True(summary["cultures"]!["western"]!["western"]!.GetValue<bool>());

        // Re-running with the same settings renders nothing and gives the same corpus; other settings are refused.
        var before = renders;
        var again = CorpusBuilder.Build(pieces, dir.Path, options, Render);
        Assert.Equal(before, renders);
        Assert.Equal(corpus.Clips.Select(c => (c.Path, c.Split)), again.Clips.Select(c => (c.Path, c.Split)));
        Assert.Throws<ArgumentException>(() => CorpusBuilder.Build(pieces, dir.Path, options with { Seed = 5 }, Render));
    }

    [Fact]
    public void Build_SilentShortOrFailingPieces_AreSkippedAndReported()
    {
        using var dir = new Fixtures.TempDir();
        var pieces = Pieces("x", 4, "a");
        var warnings = new List<string>();
        float[] Render(MusicPiece p, double s) => p.Id switch
        {
            "x-00" => new float[48000],                                                     // silence
            "x-01" => Sine(p, s, 0.5),                                                      // shorter than one clip
            "x-02" => throw new InvalidDataException("x-02.mid: not a MIDI file"),
            _ => Sine(p, s, 3),
        };
        var corpus = CorpusBuilder.Build(pieces, dir.Path, new CorpusOptions(1, 2), Render, warnings.Add);
        Assert.Equal(2, corpus.Clips.Count);
        Assert.Equal(3, corpus.SkippedPieces.Count);
        Assert.Contains(warnings, w => w.Contains("x-02") && w.Contains("not a MIDI file"));
        Assert.Contains(warnings, w => w.Contains("x-00") && w.Contains("silent"));
    }

    [Fact]
    public void Splits_SameSeed_SameSplitsWhateverThePieceOrder()
    {
        var pieces = Pieces("c", 20, "a");
        var a = CorpusBuilder.Splits(pieces, new CorpusOptions(Seed: 1));
        var b = CorpusBuilder.Splits(Enumerable.Reverse(pieces).ToList(), new CorpusOptions(Seed: 1));
        Assert.Equal(a.OrderBy(kv => kv.Key.Id), b.OrderBy(kv => kv.Key.Id));
        Assert.NotEqual(a.OrderBy(kv => kv.Key.Id), CorpusBuilder.Splits(pieces, new CorpusOptions(Seed: 2)).OrderBy(kv => kv.Key.Id));
    }
}
