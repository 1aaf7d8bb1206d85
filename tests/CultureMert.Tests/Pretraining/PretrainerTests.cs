using System.Globalization;
using CultureMert.Batch;
using CultureMert.Checkpoints;
using CultureMert.Cli;
using CultureMert.Model;
using CultureMert.Pretraining;
using TorchSharp;
using static TorchSharp.torch;
using CultureMert.IO;

namespace CultureMert.Tests.Pretraining;

/// <summary>
/// Short pre-training runs on the tiny model. They seed libtorch's global generator (dropout, LayerDrop), so they run
/// alone: a test in parallel drawing from it would change the draws.
/// </summary>
[Collection(ProcessWideMeasurements.Name)]
public class PretrainerTests
{
    const string CptStage1 = "[\"feature_projection.*\", \"masked_spec_embed\", \"encoder.layer_norm.*\", \"encoder.layers.*\", \"final_proj.*\", \"label_embs_concat\", \"encoder_cqt_model.*\"]";

    /// <summary>Two stages of 6 steps of 2 × 4 crops: stage 1 with the CNN frozen on a 80/20 mix, stage 2 everything on one source.</summary>
    static Recipe TwoStage(Fixtures.TempDir dir, string name = "r.json", string precision = "fp32") => Write(dir, name, $$"""
        { "base": "init:tiny", "precision": "{{precision}}", "targets": { "teacher": "kmeans-fit", "k": 8 },
          "sources": { "a": { "synthesize": { "piece": "makam-hicaz", "clips": 3, "seconds": 3, "seed": 1 } },
                       "w": { "synthesize": { "piece": "western-major", "clips": 3, "seconds": 3, "seed": 2 } } },
          "crop_seconds": 1, "batch_size": 4, "grad_accumulation": 2, "seed": 7, "checkpoint_every": 4,
          "stages": [ { "name": "s1", "steps": 6, "warmup_steps": 2, "peak_lr": 1e-3, "floor_lr": 1e-4, "decay": "cosine",
                        "mix": { "a": 0.8, "w": 0.2 }, "trainable": {{CptStage1}} },
                      { "name": "s2", "steps": 6, "warmup_steps": 2, "peak_lr": 1e-3, "mix": { "a": 1 } } ] }
        """);

    static Recipe Write(Fixtures.TempDir dir, string name, string json)
    {
        File.WriteAllText(dir[name], json);
        return Recipe.Load(dir[name]);
    }

    static List<Dictionary<string, string>> Log(string runDir)
    {
        var log = Csv.Read(Path.Combine(runDir, "log.csv"));
        return log.Rows.Select(r => log.Header.Zip(r.Fields).ToDictionary(x => x.First, x => x.Second)).ToList();
    }

    static double D(string s) => double.Parse(s, CultureInfo.InvariantCulture);

    static byte[] Bytes(string path) => File.ReadAllBytes(path);

    /// <summary>bf16 runs here even on a CPU without native bf16 (<see cref="PretrainOptions.AllowSlowBf16"/>): the numerics are the same.</summary>
    [Theory]
    [InlineData("fp32")]
    [InlineData("bf16")]
    public void Pretrain_InterruptedAndResumedTwice_EqualsOneStraightRunBitForBit(string precision)
    {
        using var dir = new Fixtures.TempDir();
        var recipe = TwoStage(dir, precision: precision);
        var options = new PretrainOptions(AllowSlowBf16: true);
        var logLines = new List<string>();
        var straight = Pretrainer.Run(recipe, dir["a"], options, logLines.Add);
        Assert.True(straight.Finished);
        Assert.Equal(12, straight.Step);

        // Interrupted (Ctrl-C) after step 4 of stage 1, resumed with --max-steps 9 (into stage 2), resumed to the end.
        using var cancel = new CancellationTokenSource();
        var first = Pretrainer.Run(recipe, dir["b"], options, _ => { },
                                   new SyncProgress<PretrainProgress>(p => { if (p.Step == 4) cancel.Cancel(); }), cancel.Token);
        Assert.True(first.Interrupted);
        Assert.Equal(4, first.Step);
        Assert.EndsWith("step-0000004", first.LastCheckpoint);
        var second = Pretrainer.Run(recipe, dir["b"], options with { MaxSteps = 9, Resume = true }, _ => { });
        Assert.Equal((9, false, false), (second.Step, second.Finished, second.Interrupted));
        var third = Pretrainer.Run(recipe, dir["b"], options with { Resume = true }, _ => { });
        Assert.True(third.Finished);

        foreach (var stage in new[] { "s1", "s2" })
            foreach (var file in new[] { "model.safetensors", "heads.safetensors" })
                Assert.True(Bytes(Path.Combine(dir["a"], "stages", stage, file)).SequenceEqual(Bytes(Path.Combine(dir["b"], "stages", stage, file))),
                            $"stages/{stage}/{file} differs between the straight and the resumed run");
        // The log of the resumed run is the straight run's, row for row (timings aside).
        var (la, lb) = (Log(dir["a"]), Log(dir["b"]));
        Assert.Equal(12, lb.Count);
        foreach (var (ra, rb) in la.Zip(lb))
            foreach (var col in ra.Keys.Where(c => !c.StartsWith("ms_") && c is not ("steps_per_s" or "audio_s_per_s" or "eta_s" or "rss_mib")))
                Assert.True(ra[col] == rb[col], $"log.csv step {ra["step"]}, column {col}: {ra[col]} vs {rb[col]}");
        Assert.True(File.Exists(Path.Combine(dir["a"], "loss.png")));
        Assert.Equal(precision, RunFolder.LoadState(third.LastCheckpoint).Precision);
        Assert.Contains($"\"precision\": \"{precision}\"", File.ReadAllText(Path.Combine(dir["a"], "stages", "s2", "training.json")));
        // Each stage's model card states the steps and the hours of audio drawn per source, as training.json records them.
        var training = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(dir["b"], "stages", "s2", "training.json")))!;
        var card = File.ReadAllText(Path.Combine(dir["b"], "stages", "s2", "README.md"));
        Assert.StartsWith("---\nlicense: other\n", card);
        Assert.Contains("| steps | 12 |", card);
        Assert.Contains("s1: 6 steps; s2: 6 steps", card);
        foreach (var (source, seconds) in training["seconds_per_source"]!.AsObject())
            Assert.Contains($"| data: {source} | {(seconds!.GetValue<double>() / 3600).ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)} h of audio drawn |", card);
    }

    [Fact]
    public void Pretrain_ResumeInAnotherPrecision_IsRefused()
    {
        using var dir = new Fixtures.TempDir();
        var recipe = TwoStage(dir);
        Pretrainer.Run(recipe, dir["run"], new PretrainOptions(MaxSteps: 1), _ => { });
        var e = Assert.Throws<ArgumentException>(() =>
            Pretrainer.Run(recipe with { Precision = Precision.BFloat16 }, dir["run"], new PretrainOptions(Resume: true, AllowSlowBf16: true), _ => { }));
        Assert.Contains("trained in fp32, and this run asks for bf16", e.Message);
    }

    /// <summary>Without <see cref="PretrainOptions.AllowSlowBf16"/>, bf16 trains only where <see cref="MixedPrecision.SlowerThanFp32"/> finds no reason against it.</summary>
    [Fact]
    public void Pretrain_Bf16_RefusedBeforeAnyWorkWhereSlowerThanFp32()
    {
        using var dir = new Fixtures.TempDir();
        var recipe = TwoStage(dir, precision: "bf16");
        if (MixedPrecision.SlowerThanFp32(CPU, ComputeDevice.CpuHasNativeBf16()) is { } why)
        {
            var e = Assert.Throws<ArgumentException>(() => Pretrainer.Run(recipe, dir["run"], new PretrainOptions(MaxSteps: 1), _ => { }));
            Assert.Contains("precision bf16 refused: " + why, e.Message);
            Assert.Contains("--allow-slow-bf16", e.Message);
            Assert.False(Directory.Exists(dir["run"]), "a refused run must not create its folder");
        }
        else Assert.Equal(1, Pretrainer.Run(recipe, dir["run"], new PretrainOptions(MaxSteps: 1), _ => { }).Step);
    }

    [Fact]
    public void Pretrain_TwoStages_FreezesReWarmsMixesAndExportsLoadableModels()
    {
        using var dir = new Fixtures.TempDir();
        var recipe = TwoStage(dir);
        var lines = new List<string>();
        Pretrainer.Run(recipe, dir["run"], new PretrainOptions(), lines.Add);
        Assert.Contains(lines, l => l.StartsWith("heads: initialised"));

        // LR by hand: stage 1 warm-up 1e-3·(s+1)/2, then cosine from 1e-3 to 1e-4 over 4 steps; stage 2 re-warms from 5e-4.
        var log = Log(dir["run"]);
        Assert.Equal(new[] { 5e-4, 1e-3, 1e-4 + 9e-4 * (1 + Math.Cos(Math.PI * 0.25)) / 2 }, log.Take(3).Select(r => D(r["lr"])).ToArray(), new ToleranceComparer(1e-9));
        Assert.Equal(1e-4, D(log[5]["lr"]), 9);
        Assert.Equal((5e-4, "s2"), (D(log[6]["lr"]), log[6]["stage"]));
        Assert.Equal(0.0, D(log[11]["lr"]), 12);
        // Seconds drawn: 2 micro-batches of 4 crops of 1 s per step; stage 2 draws from "a" only.
        Assert.Equal(48.0, D(log[5]["seconds_a"]) + D(log[5]["seconds_w"]), 6);
        Assert.Equal(D(log[5]["seconds_w"]), D(log[11]["seconds_w"]), 6);
        Assert.Equal(96.0, D(log[11]["seconds_a"]) + D(log[11]["seconds_w"]), 6);
        Assert.All(log, r => Assert.True(D(r["loss"]) > 0 && double.IsFinite(D(r["grad_norm"]))));

        // Frozen in stage 1: the CNN equals the initialised model's; trained: the layers. Stage 2 trains the CNN too.
        using var init = new MertModel(MertConfig.Preset("tiny")).InitializeWeights(0);
        var initCnn = init.state_dict()["feature_extractor.conv_layers.0.conv.weight"];
        var initLayer = init.state_dict()["encoder.layers.0.attention.q_proj.weight"];
        Tensor Stored(string stage, string name) => SafeTensors.LoadTensor(Path.Combine(dir["run"], "stages", stage, "model.safetensors"), name);
        Assert.Equal(0.0, Fixtures.MaxAbsDiff(Stored("s1", "feature_extractor.conv_layers.0.conv.weight"), initCnn));
        Assert.Equal(0.0, Fixtures.MaxAbsDiff(Stored("s1", "encoder.pos_conv_embed.conv.weight_v"), init.state_dict()["encoder.pos_conv_embed.conv.weight_v"]));
        Assert.True(Fixtures.MaxAbsDiff(Stored("s1", "encoder.layers.0.attention.q_proj.weight"), initLayer) > 1e-5);
        Assert.True(Fixtures.MaxAbsDiff(Stored("s2", "feature_extractor.conv_layers.0.conv.weight"), initCnn) > 1e-6);

        // The export is an HF folder without heads (what transformers loads); the heads sit beside it under fairseq's names.
        var s2 = Path.Combine(dir["run"], "stages", "s2");
        Assert.DoesNotContain(SafeTensors.ReadHeader(Path.Combine(s2, "model.safetensors")).Tensors, t => t.Name.Contains("final_proj") || t.Name.Contains("label_embs"));
        Assert.Equal(["encoder_cqt_model.fc.bias", "encoder_cqt_model.fc.weight", "final_proj.bias", "final_proj.weight", "label_embs_concat"],
                     SafeTensors.ReadHeader(Path.Combine(s2, "heads.safetensors")).Tensors.Select(t => t.Name).Order(StringComparer.Ordinal));
        Assert.Contains("\"model_type\": \"hubert\"", File.ReadAllText(Path.Combine(s2, "config.json")));
        var clip = Path.Combine(dir["run"], "data", "a", Directory.GetFiles(Path.Combine(dir["run"], "data", "a"))[0]);
        Assert.Equal(0, CliApp.Run(["embed", "--model", s2, "--out", dir["emb"], clip]));
        Assert.Single(Manifest.ReadIndex(dir["emb/index.csv"]), r => r.Status == "ok");

        // A further pre-training run from the export picks its heads up.
        var next = Write(dir, "next.json", $$"""
            { "base": "{{s2}}", "targets": { "teacher": "kmeans:{{Path.Combine(dir["run"], "teacher", "kmeans.safetensors")}}" },
              "sources": { "a": { "manifest": "m.csv" } }, "crop_seconds": 1, "batch_size": 2,
              "stages": [ { "steps": 1, "peak_lr": 1e-4, "mix": { "a": 1 } } ] }
            """);
        File.WriteAllText(dir["m.csv"], $"path\n{clip}\n");
        lines.Clear();
        Pretrainer.Run(next, dir["run2"], new PretrainOptions(), lines.Add);
        Assert.Contains(lines, l => l == $"heads: loaded from {Path.Combine(s2, "heads.safetensors")}");
    }

    [Fact]
    public void Pretrain_ExistingRunWithoutResumeOrWithAnotherRecipe_IsRefused()
    {
        using var dir = new Fixtures.TempDir();
        var recipe = TwoStage(dir);
        Pretrainer.Run(recipe, dir["run"], new PretrainOptions(MaxSteps: 1), _ => { });
        var again = Assert.Throws<ArgumentException>(() => Pretrainer.Run(recipe, dir["run"], new PretrainOptions(), _ => { }));
        Assert.Contains("--resume", again.Message);
        var other = Write(dir, "other.json", File.ReadAllText(dir["r.json"]).Replace("\"seed\": 7", "\"seed\": 8"));
        var changed = Assert.Throws<ArgumentException>(() => Pretrainer.Run(other, dir["run"], new PretrainOptions(Resume: true), _ => { }));
        Assert.Contains("another recipe", changed.Message);
    }

    [Fact]
    public void Pretrain_TinyModel_LossFallsAndMaskedAccuracyBeatsTheMostFrequentToken()
    {
        using var dir = new Fixtures.TempDir();
        var recipe = Write(dir, "r.json", """
            { "base": "init:tiny", "targets": { "teacher": "kmeans-fit", "k": 16 },
              "sources": { "w": { "synthesize": { "piece": "western-major", "clips": 6, "seconds": 6, "seed": 3 } } },
              "crop_seconds": 1.5, "batch_size": 8, "seed": 11, "checkpoint_every": 1000, "noise_probability": 0,
              "stages": [ { "steps": 400, "warmup_steps": 20, "peak_lr": 3e-3, "mix": { "w": 1 } } ] }
            """);
        Pretrainer.Run(recipe, dir["run"], new PretrainOptions(), _ => { });
        var log = Log(dir["run"]);
        double Mean(IEnumerable<Dictionary<string, string>> rows, string col) => rows.Average(r => D(r[col]));
        var (head, tail) = (log.Take(30).ToList(), log.TakeLast(30).ToList());
        Assert.True(Mean(tail, "ce") < Mean(head, "ce") - 0.5, $"CE {Mean(head, "ce"):F3} → {Mean(tail, "ce"):F3}");
        Assert.True(Mean(tail, "loss") < Mean(head, "loss") - 0.5, $"loss {Mean(head, "loss"):F3} → {Mean(tail, "loss"):F3}");
        Assert.True(Mean(tail, "acc_0") > Mean(tail, "chance_0") + 0.05,
                    $"masked accuracy {Mean(tail, "acc_0"):P1} vs {Mean(tail, "chance_0"):P1} for always guessing the most frequent token");
    }

    sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;
        public int GetHashCode(double obj) => 0;
    }
}
