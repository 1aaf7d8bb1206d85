using CultureMert.Audio;
using CultureMert.Cli;
using CultureMert.Corpus;

namespace CultureMert.Tests.Evaluate;

/// <summary><c>evaluate --shard</c>: shards only embed; one unsharded run afterwards probes with the cached embeddings.</summary>
public class EvaluateShardTests
{
    [Fact]
    public void Evaluate_TwoShardsThenUnsharded_EmbedsOnceAndProbes()
    {
        using var dir = new Fixtures.TempDir();
        Directory.CreateDirectory(dir["audio"]);
        var rows = new List<string> { "path,split,labels" };
        var splits = new[] { "train", "train", "train", "valid", "test" };
        for (var i = 0; i < splits.Length; i++)
            foreach (var (piece, label) in new[] { (DemoAudio.Pieces[0], "makam"), (DemoAudio.Pieces[2], "western") })
            {
                var p = piece with { Seconds = 1.5, SampleRate = 16000 };
                AudioFile.WriteWav(dir[$"audio/{label}{i}.wav"], DemoAudio.Render(p, 10 + i), p.SampleRate);
                rows.Add($"audio/{label}{i}.wav,{splits[i]},{label}");
            }
        File.WriteAllLines(dir["task.csv"], rows);
        string[] args = ["evaluate", "--models", $"base={Fixtures.Dir("mert-tiny")}", "--tasks", dir["task.csv"], "--out", dir["eval"],
                         "--seeds", "1", "--max-epochs", "2", "--hidden", "0", "--chunk-seconds", "1", "--threads", "2"];
        var emb = dir["eval/embeddings/base/task"];

        Assert.Equal(0, CliApp.Run([.. args, "--shard", "0/2"]));
        Assert.True(File.Exists(Path.Combine(emb, "index.shard-0-of-2.csv")));
        Assert.False(Directory.Exists(dir["eval/probes"]));
        Assert.False(File.Exists(dir["eval/report.md"]));
        Assert.Equal(0, CliApp.Run([.. args, "--shard", "1/2"]));
        var embedded = Directory.EnumerateFiles(emb, "*.safetensors", SearchOption.AllDirectories).ToDictionary(f => f, File.GetLastWriteTimeUtc);
        Assert.Equal(10, embedded.Count);

        Assert.Equal(0, CliApp.Run([.. args, "--shard", "0/1"]));
        Assert.True(File.Exists(dir["eval/probes/base/task/results.json"]));
        Assert.True(File.Exists(dir["eval/report.md"]));
        Assert.All(embedded, kv => Assert.Equal(kv.Value, File.GetLastWriteTimeUtc(kv.Key)));   // reused, not recomputed
        Assert.All(CultureMert.Batch.Manifest.ReadIndex(Path.Combine(emb, "index.csv")), r => Assert.Equal("skipped", r.Status));
    }
}
