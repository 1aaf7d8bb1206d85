using CultureMert.Pretraining;

namespace CultureMert.Tests.Pretraining;

public class RecipeTests
{
    static string RepoRecipe(string name) => Path.Combine(AppContext.BaseDirectory, "recipes", name);

    static Recipe LoadText(Fixtures.TempDir dir, string json)
    {
        File.WriteAllText(dir["r.json"], json);
        return Recipe.Load(dir["r.json"]);
    }

    const string Minimal = """
        { "base": "init:tiny", "targets": { "teacher": "kmeans-fit" },
          "sources": { "a": { "manifest": "a.csv" }, "w": { "manifest": "sub/w.csv" } },
          "stages": [ { "steps": 10, "peak_lr": 1e-3, "mix": { "a": 3, "w": 1 } } ] }
        """;

    [Fact]
    public void Load_Minimal_AppliesMertDefaultsAndNormalisesTheMix()
    {
        using var dir = new Fixtures.TempDir();
        var r = LoadText(dir, Minimal);
        var s = r.Stages.Single();
        Assert.Equal(("stage1", 0.75, 0.25), (s.Name, s.Mix["a"], s.Mix["w"]));
        Assert.Equal((0.9, 0.98, 1e-6, 0.01, 10.0), (s.Beta1, s.Beta2, s.Eps, s.WeightDecay, s.GradClip));   // MERT-v1's fairseq settings
        Assert.Equal(["*"], s.Trainable);
        Assert.Equal((5.0, 0.8, 5, 0.5), (r.CropSeconds, r.MaskProb, r.MaskLength, r.NoiseProbability));
        Assert.Equal(Path.Combine(dir.Path, "sub", "w.csv"), r.Sources["w"].Manifest);            // relative to the recipe
        Assert.Equal(16, r.Hash.Length);
    }

    [Theory]
    [InlineData("\"stages\": [ { \"steps\": 10, \"peak_lr\": 1e-3, \"mix\": { \"a\": 1 }, \"peak_lrr\": 1 } ]", "stages[0].peak_lrr: unknown setting")]
    [InlineData("\"stages\": [ { \"steps\": 10, \"peak_lr\": 1e-3, \"mix\": { \"nope\": 1 } } ]", "stages[0].mix.nope: no such source")]
    [InlineData("\"stages\": [ { \"steps\": 10, \"peak_lr\": 1e-3, \"mix\": { \"a\": 0 } } ]", "stages[0].mix.a: weight must be > 0")]
    [InlineData("\"stages\": [ { \"steps\": 10, \"peak_lr\": -1, \"mix\": { \"a\": 1 } } ]", "stages[0]: PeakLr must be finite and > 0")]
    [InlineData("\"stages\": [ { \"steps\": 10, \"warmup_steps\": 11, \"peak_lr\": 1e-3, \"mix\": { \"a\": 1 } } ]", "stages[0]: WarmupSteps must be in [0, Steps=10]")]
    [InlineData("\"stages\": [ { \"steps\": \"ten\", \"peak_lr\": 1e-3, \"mix\": { \"a\": 1 } } ]", "stages[0].steps: expected a number")]
    [InlineData("\"stages\": []", "stages: at least one stage is required")]
    [InlineData("\"batch_size\": 0, \"stages\": [ { \"steps\": 10, \"peak_lr\": 1e-3, \"mix\": { \"a\": 1 } } ]", "batch_size must be ≥ 1")]
    public void Load_BadSetting_NamesTheFileAndKey(string stagesAndMore, string expected)
    {
        using var dir = new Fixtures.TempDir();
        var json = "{ \"base\": \"init:tiny\", \"targets\": { \"teacher\": \"kmeans-fit\" }, \"sources\": { \"a\": { \"manifest\": \"a.csv\" } }, " + stagesAndMore + " }";
        var e = Assert.Throws<InvalidDataException>(() => LoadText(dir, json));
        Assert.Contains(dir["r.json"], e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Load_BothCacheAndTeacher_IsAnError()
    {
        using var dir = new Fixtures.TempDir();
        var e = Assert.Throws<InvalidDataException>(() => LoadText(dir, Minimal.Replace("{ \"teacher\": \"kmeans-fit\" }", "{ \"teacher\": \"kmeans-fit\", \"cache\": \"t\" }")));
        Assert.Contains("targets: give exactly one of cache", e.Message);
    }

    [Theory]
    [InlineData("encoder.layers.*", "encoder.layers.0.attention.q_proj.weight", true)]
    [InlineData("encoder.layers.*", "encoder.layer_norm.weight", false)]
    [InlineData("*", "label_embs_concat", true)]
    [InlineData("final_proj.*", "final_proj.bias", true)]
    [InlineData("encoder.layers.1.*.weight", "encoder.layers.1.feed_forward.output_dense.weight", true)]
    [InlineData("encoder.layers.1.*.weight", "encoder.layers.11.feed_forward.output_dense.weight", false)]
    [InlineData("masked_spec_embed", "masked_spec_embedding", false)]
    public void GlobMatch_DotsAreLiteralAndStarMatchesAnyRun(string pattern, string name, bool expected) =>
        Assert.Equal(expected, Recipe.GlobMatch(pattern, name));

    [Theory]
    [InlineData("tiny-two-stage.json")]
    [InlineData("culturemert-95m.json")]
    public void ShippedRecipes_Load(string name)
    {
        var r = Recipe.Load(RepoRecipe(name));
        var (stage1, stage2) = (r.Stages[^2], r.Stages[^1]);                  // CultureMERT's two stages (tiny: after its from-scratch base stage)
        Assert.Equal(0.2, stage1.Mix["western"], 3);                           // 20 % Western replay in stage 1 ...
        Assert.False(stage2.Mix.ContainsKey("western"));                      // ... and none in stage 2
        Assert.DoesNotContain(stage1.Trainable, g => Recipe.GlobMatch(g, "feature_extractor.conv_layers.0.conv.weight") || Recipe.GlobMatch(g, "encoder.pos_conv_embed.conv.weight_v"));
        Assert.Contains(stage1.Trainable, g => Recipe.GlobMatch(g, "encoder.layers.0.attention.q_proj.weight"));
        Assert.Contains(stage2.Trainable, g => Recipe.GlobMatch(g, "feature_extractor.conv_layers.0.conv.weight"));
        Assert.True(stage1.WarmupSteps > 0 && stage2.WarmupSteps > 0);        // both stages re-warm
    }
}
