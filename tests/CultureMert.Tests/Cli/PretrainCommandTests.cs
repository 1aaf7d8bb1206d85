using CultureMert.IO;
using CultureMert.Tests.Merging;

namespace CultureMert.Tests.Cli;

/// <summary>The pretrain command on the shipped tiny recipe (a few steps) and on bad input.</summary>
[Collection(ProcessWideMeasurements.Name)]
public class PretrainCommandTests
{
    static string TinyRecipe => Path.Combine(AppContext.BaseDirectory, "recipes", "tiny-two-stage.json");

    static int LogRows(string run) => Csv.Read(Path.Combine(run, "log.csv")).Rows.Count;

    [Fact]
    public void Pretrain_ShippedTinyRecipe_RunsStopsAtMaxStepsAndResumes()
    {
        using var dir = new Fixtures.TempDir();
        var (code, err) = MergeFixtures.Run("pretrain", "--recipe", TinyRecipe, "--out", dir["run"], "--max-steps", "6");
        Assert.True(code == 0, err);
        Assert.Equal(6, LogRows(dir["run"]));
        Assert.True(Directory.Exists(dir["run/checkpoints/step-0000006"]));
        Assert.True(File.Exists(dir["run/teacher/kmeans.safetensors"]));
        Assert.Equal(36, Directory.GetFiles(dir["run/data"], "*.wav", SearchOption.AllDirectories).Length);   // 3 sources × 12 clips

        (code, err) = MergeFixtures.Run("pretrain", "--recipe", TinyRecipe, "--out", dir["run"], "--max-steps", "6");
        Assert.Equal(2, code);
        Assert.Contains("--resume", err);
        (code, err) = MergeFixtures.Run("pretrain", "--recipe", TinyRecipe, "--out", dir["run"], "--resume", "--max-steps", "9");
        Assert.True(code == 0, err);
        Assert.Equal(9, LogRows(dir["run"]));
        Assert.True(File.Exists(dir["run/loss.png"]));
    }

    [Fact]
    public void Pretrain_MisspeltSettingOrMissingManifest_ExitsWithTheFileAndTheProblem()
    {
        using var dir = new Fixtures.TempDir();
        File.WriteAllText(dir["bad.json"], File.ReadAllText(TinyRecipe).Replace("\"batch_size\"", "\"batchsize\""));
        var (code, err) = MergeFixtures.Run("pretrain", "--recipe", dir["bad.json"], "--out", dir["run"]);
        Assert.Equal(3, code);
        Assert.Contains($"{dir["bad.json"]}: batchsize: unknown setting", err);

        File.WriteAllText(dir["m.json"], """
            { "base": "init:tiny", "targets": { "teacher": "kmeans-fit" }, "sources": { "a": { "manifest": "missing.csv" } },
              "stages": [ { "steps": 1, "peak_lr": 1e-3, "mix": { "a": 1 } } ] }
            """);
        (code, err) = MergeFixtures.Run("pretrain", "--recipe", dir["m.json"], "--out", dir["run2"]);
        Assert.Equal(3, code);
        Assert.Contains($"{dir["missing.csv"]}: manifest of source 'a' not found", err);
    }
}
