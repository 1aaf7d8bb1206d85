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
        // Each culture's class label (the first label type every clip has once) as a single-label and a retrieval task over the same clips.
        foreach (var (culture, type) in new[] { ("turkish-makam", "makam"), ("hindustani", "raga") })
        {
            var tagging = TaskManifest.Read(dir[$"a/tasks/{culture}.csv"]);
            var single = TaskManifest.Read(dir[$"a/tasks/{culture}-{type}.csv"]);
            var retrieval = TaskManifest.Read(dir[$"a/tasks/{culture}-{type}-retrieval.csv"]);
            Assert.Equal((TaskType.SingleLabel, TaskType.Retrieval), (single.Type!.Value, retrieval.Type!.Value));
            Assert.Null(tagging.Type);
            Assert.Equal(tagging.Rows.Select(r => (r.Path, r.Split, r.Labels.Single(l => l.StartsWith(type + "--")))),
                         single.Rows.Select(r => (r.Path, r.Split, Assert.Single(r.Labels))));
            Assert.Equal(single.Rows.Select(r => (r.Path, r.Labels[0])), retrieval.Rows.Select(r => (r.Path, r.Labels[0])));
        }
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
        // Not on a terminal: one line per phase on stderr (numbered, with the time), none per step.
        var stages = err.Split('\n').Where(l => l.StartsWith("[stage ")).ToList();
        Assert.Equal(CultureMert.Study.CultureStudy.PhaseCount, stages.Count);
        Assert.StartsWith($"[stage 1/{CultureMert.Study.CultureStudy.PhaseCount}, 00:00:0", stages[0]);
        Assert.EndsWith("probing the chosen and repeated merges", stages[^1].TrimEnd());
        Assert.DoesNotContain(": done", err);
        var report = File.ReadAllText(dir["demo/REPORT.md"]);
        foreach (var section in new[] { "## Corpus", "## Sanity ladder", "## Paired comparisons", "## Per-task deltas", "## Classification and retrieval",
                                        "## Merging: methods and λ", "## Repeated merges", "## Culture × culture transfer", "## Token similarity across cultures",
                                        "## Pre-training", "## Reading", "## Time" })
            Assert.Contains(section, report);
        foreach (var row in new[] { "(a) random-init", "(b) hand-crafted", "base − handcrafted", "(c) base", "(d) matched-compute control", "(e) multi-culture CPT",
                                    "cpt-multi − control", "(chosen: task arithmetic", "| iso-c | 0.5", "re-merge round 3", "last |" })
            Assert.Contains(row, report);
        foreach (var png in new[] { "merge-sweep.png", "repeated-distance.png", "repeated-roc-auc.png" }) Assert.True(File.Exists(dir[$"demo/{png}"]), png);
        // REPORT.html as a browser shows it: every plot of REPORT.md inline and drawn, the sections and the ladder's rows.
        var page = Reports.RenderedPage.Load(dir["demo/REPORT.html"]);
        page.AssertSelfContainedWithVisiblePlots(images: System.Text.RegularExpressions.Regex.Count(report, @"!\[[^\]]*\]\([^)]+\.png\)"));
        Assert.Contains("Sanity ladder", page.Text);
        Assert.Contains("(c) base", page.Text);
        Assert.True(page.Images.Count >= 8, $"{page.Images.Count} plots");
        var json = JsonNode.Parse(File.ReadAllText(dir["demo/report.json"]))!;
        // The repeated merges' rows are recomputable: round 2 of task arithmetic is θ_base + λ(1 + λ)Στ, so its effective λ is λ(1 + λ).
        var repeated = CultureMert.IO.Csv.Read(dir["demo/repeated-merges.csv"]);
        var lambda = json["chosen_lambda"]!.GetValue<double>();
        foreach (var r in repeated.Rows.Where(r => r[repeated.Column("merge")] == "remerge-2"))
            Assert.Equal(lambda * (1 + lambda), double.Parse(r[repeated.Column("effective_lambda")], System.Globalization.CultureInfo.InvariantCulture), 4);
        Assert.True(json["wall_seconds"]!.GetValue<double>() > 0);
        Assert.Equal(5, json["findings"]!.AsArray().Count);
        Assert.Equal(2, json["pretrain_seeds"]!.GetValue<int>());
        // Every model the report compares exists as an HF folder, per pre-training seed; every run logged its steps.
        foreach (var run in new[] { "base-s0", "base-s1", "control-s1", "cpt-multi-s0", "cpt-greek-s1" })
            Assert.True(File.Exists(dir[$"demo/runs/{run}/log.csv"]), run);
        Assert.True(File.Exists(dir["demo/random-init/s1/model.safetensors"]));
        Assert.True(File.Exists(dir["demo/evaluation/report.md"]));
        Assert.True(File.Exists(dir["demo/tokens/jsd-heatmap.png"]));
        // The teacher heard the Western cultures only; the control trained on them only.
        var plan = JsonNode.Parse(File.ReadAllText(dir["demo/plan.json"]))!;
        Assert.Equal("western", plan["teacher_data"]!.GetValue<string>());
        var control = JsonNode.Parse(File.ReadAllText(dir["demo/recipes/control-s0.json"]))!;
        Assert.All(control["stages"]!.AsArray(), st => Assert.All(st!["mix"]!.AsObject(), kv => Assert.StartsWith("western", kv.Key)));
        // Each interval can be recomputed from the per-seed CSV beside the report.
        var table = CultureMert.IO.Csv.Read(dir["demo/comparisons.csv"]);
        var (cmp, grp, diff) = (table.Column("comparison"), table.Column("group"), table.Column("difference"));
        var diffs = table.Rows.Where(r => r[cmp] == "cpt-multi - control" && r[grp] == "non-Western")
                         .Select(r => double.Parse(r[diff], System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(2, diffs.Length);
        var expected = json["comparisons"]!.AsArray().Single(c => c!["a"]!.GetValue<string>() == "cpt-multi" && c["b"]!.GetValue<string>() == "control" && c["group"]!.GetValue<string>() == "non-Western")!;
        Assert.Equal(Math.Round(diffs.Average(), 3), expected["diff"]!["mean"]!.GetValue<double>(), 6);

        // The plan is fixed at the first run: a wider margin afterwards is refused, naming plan.json.
        var (refused, why) = MergeFixtures.Run("demo", "--quick", "--equivalence-margin", "5", "--out", dir["demo"]);
        Assert.NotEqual(0, refused);
        Assert.Contains("plan.json", why);

        // A second run resumes: nothing is recomputed, the report is written again.
        var before = File.GetLastWriteTimeUtc(dir["demo/runs/base-s0/stages/western-base/model.safetensors"]);
        (code, err) = MergeFixtures.Run("demo", "--quick", "--out", dir["demo"]);
        Assert.True(code == 0, err);
        Assert.Equal(before, File.GetLastWriteTimeUtc(dir["demo/runs/base-s0/stages/western-base/model.safetensors"]));
    }

    [Fact]
    public void Demo_ScaleSweep_RunsEachPointOnOneCorpusAndPlotsTheGain()
    {
        using var dir = new Fixtures.TempDir();
        var (code, err) = MergeFixtures.Run("demo", "--quick", "--scale", "1,0", "--out", dir["s"]);
        Assert.Equal(2, code);                                                           // a zero factor is refused before any work
        Assert.Contains("--scale", err);
        Assert.False(Directory.Exists(dir["s/shared"]));

        (code, err) = MergeFixtures.Run("demo", "--quick", "--scale", "1,2", "--out", dir["s"]);
        Assert.True(code == 0, err);
        var scale = File.ReadAllText(dir["s/SCALE.md"]);
        Assert.Contains("[x1](x1/REPORT.md)", scale);
        Assert.Contains("[x2](x2/REPORT.md)", scale);
        Assert.True(File.Exists(dir["s/x2/REPORT.md"]));
        Assert.True(Directory.Exists(dir["s/shared/corpus"]));
        Assert.False(Directory.Exists(dir["s/x1/corpus"]));                               // one corpus and teacher for every point
        // Point x2 trained twice the steps of x1: its base recipe says so.
        var steps = (string p) => JsonNode.Parse(File.ReadAllText(dir[$"s/{p}/recipes/base-s0.json"]))!["stages"]![0]!["steps"]!.GetValue<int>();
        Assert.Equal(2 * steps("x1"), steps("x2"));
        var table = CultureMert.IO.Csv.Read(dir["s/scale.csv"]);
        Assert.Equal(2, table.Rows.Count);
        var hours = table.Column("training_audio_hours");
        Assert.True(double.Parse(table.Rows[1][hours], System.Globalization.CultureInfo.InvariantCulture) > double.Parse(table.Rows[0][hours], System.Globalization.CultureInfo.InvariantCulture));
    }
}
