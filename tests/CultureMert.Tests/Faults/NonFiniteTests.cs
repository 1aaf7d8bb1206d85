using CultureMert.Audio;
using CultureMert.Batch;
using CultureMert.Checkpoints;

namespace CultureMert.Tests.Faults;

/// <summary>NaN and infinity that arise in the computation (not in the inputs): an error for that file or step, never a silent ok.</summary>
public class NonFiniteTests
{
    [Fact]
    public void Embed_ModelWhoseActivationsOverflow_ErrorForTheFile_NothingWritten()
    {
        using var dir = new Fixtures.TempDir();
        var model = dir["overflow"];
        Directory.CreateDirectory(model);
        foreach (var f in new[] { "config.json", "preprocessor_config.json" }) File.Copy(Path.Combine(Fixtures.Dir("mert-tiny"), f), Path.Combine(model, f));
        // Finite weights (the load check passes) whose first convolution overflows float32: 10 taps × 0.3 × 3e38 > 3.4e38.
        var weights = SafeTensors.Load(Path.Combine(Fixtures.Dir("mert-tiny"), "model.safetensors"));
        weights["feature_extractor.conv_layers.0.conv.weight"] = TorchSharp.torch.full_like(weights["feature_extractor.conv_layers.0.conv.weight"], 3e38f);
        SafeTensors.Save(Path.Combine(model, "model.safetensors"), weights);
        AudioFile.WriteWav(dir["a.wav"], [.. Enumerable.Range(0, 48000).Select(i => (float)(0.3 * Math.Sin(i * 0.02)))], 24000);

        foreach (var pool in new[] { "mean", "none" })
        {
            var (code, err) = CliProcess.Run(["embed", "--model", model, "--pool", pool, "--out", dir[pool], dir["a.wav"]]);
            Assert.True(code == 1, err);
            var row = Assert.Single(Manifest.ReadIndex(dir[$"{pool}/index.csv"]));
            Assert.Equal("error", row.Status);
            Assert.Contains($"{dir["a.wav"]}: the {(pool == "mean" ? "embeddings" : "hidden states")} contain NaN or infinite values", row.Error);
            Assert.False(File.Exists(dir[$"{pool}/a.safetensors"]));
        }
    }

    [Fact]
    public void Pretrain_LossDiverges_StopsAtThatStep_LastCheckpointIntact()
    {
        using var dir = new Fixtures.TempDir();
        File.WriteAllText(dir["recipe.json"], """
            { "base": "init:tiny", "init_seed": 0, "targets": { "teacher": "kmeans-fit", "k": 8 },
              "sources": { "a": { "synthesize": { "piece": "makam-hicaz", "clips": 4, "seconds": 4, "seed": 1 } } },
              "crop_seconds": 1, "batch_size": 4, "seed": 7, "checkpoint_every": 2,
              "stages": [ { "name": "one", "steps": 40, "warmup_steps": 0, "peak_lr": 1e30, "floor_lr": 1e30, "decay": "linear", "mix": { "a": 1 } } ] }
            """);
        var (code, err) = CliProcess.Run(["pretrain", "--recipe", dir["recipe.json"], "--out", dir["run"]]);
        Assert.True(code == 3, err);
        var step = int.Parse(System.Text.RegularExpressions.Regex.Match(err, @"step (\d+): the loss is (NaN|∞|-∞|Infinity)").Groups[1].Value);
        Assert.Contains("(diverged); lower the learning rate", err);
        Assert.All(Directory.Exists(dir["run/checkpoints"]) ? Directory.GetDirectories(dir["run/checkpoints"]) : [], c => Assert.True(int.Parse(Path.GetFileName(c)[5..]) < step, c));
    }
}
