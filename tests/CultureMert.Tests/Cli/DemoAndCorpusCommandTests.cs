using System.Text.Json.Nodes;
using CultureMert.Audio;
using CultureMert.Corpus.Datasets;
using CultureMert.Tests.Merging;

namespace CultureMert.Tests.Cli;

/// <summary>`corpus build` with real rendering, and the reduced demo end to end.</summary>
[Collection(ProcessWideMeasurements.Name)]
public class DemoAndCorpusCommandTests
{
    [Fact]
    public void CorpusBuild_RealScoresAndProceduralMusic_AreDeterministic24kHzClipsWithLeakFreeSplits()
    {
        using var dir = new Fixtures.TempDir();
        string[] Args(string outDir) => ["corpus", "build", "--out", outDir, "--cultures", "turkish-makam", "hindustani",
                                         "--pieces-per-culture", "6", "--top-classes", "2", "--seconds-per-clip", "2", "--clips-per-piece", "2", "--seed", "3"];
        var (code, err) = MergeFixtures.Run(Args(dir["a"]));
        Assert.True(code == 0, err);
        (code, err) = MergeFixtures.Run(Args(dir["b"]));
        Assert.True(code == 0, err);

        foreach (var culture in new[] { "turkish-makam", "hindustani" })
        {
            var task = TaskManifest.Read(dir[$"a/tasks/{culture}.csv"]);
            Assert.InRange(task.Rows.Count, 10, 12);                                       // 6 pieces × 2 clips, a rest-only clip may drop
            foreach (var row in task.Rows)
            {
                var path = Path.Combine(dir[$"a/tasks"], row.Path);
                var bytes = File.ReadAllBytes(path);
                Assert.Equal(24000, BitConverter.ToInt32(bytes, 24));                      // WAV fmt chunk: sample rate
                Assert.Equal(48000, AudioFile.ReadMono(path, 24000).Length);               // exactly 2 s
                Assert.True(bytes.SequenceEqual(File.ReadAllBytes(Path.Combine(dir["b/tasks"], row.Path))), $"{row.Path} differs between two builds");
                Assert.All(row.Labels, l => Assert.Matches("^[a-z_]+--.+$", l));
                Assert.Equal(culture, row.Culture);
            }
            foreach (var piece in task.Rows.GroupBy(r => r.Track)) Assert.Single(piece.Select(r => r.Split).Distinct());   // no leakage
            Assert.Contains(task.Rows, r => r.Split == "test");
            Assert.Contains(task.Rows, r => r.Split == "train");
        }
        Assert.Contains(TaskManifest.Read(dir["a/tasks/turkish-makam.csv"]).Vocabulary, l => l.StartsWith("makam--"));
        Assert.Contains(TaskManifest.Read(dir["a/tasks/hindustani.csv"]).Vocabulary, l => l.StartsWith("raga--"));
        var summary = JsonNode.Parse(File.ReadAllText(dir["a/corpus.json"]))!;
        var clips = summary["cultures"]!["hindustani"]!["clips"]!.GetValue<int>();
        Assert.Equal(clips * 2.0 / 3600, summary["cultures"]!["hindustani"]!["hours"]!.GetValue<double>(), 4);
    }

    [Fact]
    public void Demo_Quick_RunsTheWholeStudyAndWritesTheReport()
    {
        using var dir = new Fixtures.TempDir();
        var (code, err) = MergeFixtures.Run("demo", "--quick", "--out", dir["demo"]);
        Assert.True(code == 0, err);
        var report = File.ReadAllText(dir["demo/REPORT.md"]);
        foreach (var section in new[] { "## Corpus", "## Probing: the paper's table", "## Deltas to the base model", "## Task arithmetic: λ sweep",
                                        "## Culture × culture transfer", "## Token similarity across cultures", "## Pre-training", "## Reading", "## Time" })
            Assert.Contains(section, report);
        foreach (var model in new[] { "base (Western-only pre-training)", "CPT multi-culture", "ta-0.2", "cpt-hindustani", "cpt-turkish-makam" })
            Assert.Contains(model, report);
        var json = JsonNode.Parse(File.ReadAllText(dir["demo/report.json"]))!;
        Assert.True(json["wall_seconds"]!.GetValue<double>() > 0);
        Assert.Equal(4, json["findings"]!.AsArray().Count);
        // Every model the report compares exists as an HF folder that embed loads; every run logged its steps.
        foreach (var run in new[] { "base", "cpt-multi", "cpt-greek" })
            Assert.True(File.Exists(dir[$"demo/runs/{run}/log.csv"]));
        Assert.True(File.Exists(dir["demo/runs/cpt-multi/stages/adapt/model.safetensors"]));
        Assert.True(File.Exists(dir["demo/evaluation/report.md"]));
        Assert.True(File.Exists(dir["demo/tokens/jsd-heatmap.png"]));

        // A second run resumes: nothing is recomputed, the report is written again.
        var before = File.GetLastWriteTimeUtc(dir["demo/runs/base/stages/western-base/model.safetensors"]);
        (code, err) = MergeFixtures.Run("demo", "--quick", "--out", dir["demo"]);
        Assert.True(code == 0, err);
        Assert.Equal(before, File.GetLastWriteTimeUtc(dir["demo/runs/base/stages/western-base/model.safetensors"]));
    }
}
