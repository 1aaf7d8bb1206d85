using System.Text.Json.Nodes;
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
        Assert.Equal(CultureMert.Model.Precision.Float32, r.Precision);
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
    [InlineData("\"precision\": \"fp16\", \"stages\": [ { \"steps\": 10, \"peak_lr\": 1e-3, \"mix\": { \"a\": 1 } } ]", "precision: expected fp32 or bf16, got 'fp16'")]
    // JSON of the wrong type: refused naming the key and what was found, never a crash or a silent default.
    [InlineData("\"stages\": [ { \"steps\": 10, \"peak_lr\": 1e-3, \"mix\": { \"a\": 1 }, \"betas\": [\"a\", 0.98] } ]", "stages[0].betas[0]: expected a number, found a string (\"a\")")]
    [InlineData("\"stages\": [ { \"steps\": 10, \"peak_lr\": 1e-3, \"mix\": { \"a\": 1 }, \"betas\": 0.5 } ]", "stages[0].betas: expected [beta1, beta2], found a number (0.5)")]
    [InlineData("\"stages\": [ { \"steps\": 10, \"peak_lr\": 1e-3, \"mix\": { \"a\": 1 }, \"betas\": [0.9] } ]", "stages[0].betas: expected [beta1, beta2], found a list of 1")]
    [InlineData("\"stages\": [ { \"steps\": 10, \"peak_lr\": 1e-3, \"mix\": { \"a\": 1 }, \"trainable\": \"masked_spec_embed\" } ]", "stages[0].trainable: expected a list of parameter-name globs")]
    [InlineData("\"stages\": [ { \"steps\": 10, \"peak_lr\": 1e-3, \"mix\": { \"a\": 1 }, \"trainable\": [\"x\", 3] } ]", "stages[0].trainable[1]: expected a string, found a number (3)")]
    [InlineData("\"stages\": [ { \"steps\": 10, \"peak_lr\": 1e-3, \"mix\": [\"a\"] } ]", "stages[0].mix: expected an object (source name → weight), found a list")]
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

    [Fact]
    public void Load_UnknownDecay_ListsTheValidOnes()
    {
        using var dir = new Fixtures.TempDir();
        var e = Assert.Throws<InvalidDataException>(() => LoadText(dir, Minimal.Replace("\"peak_lr\": 1e-3,", "\"peak_lr\": 1e-3, \"decay\": \"step\",")));
        Assert.Contains("stages[0].decay: expected one of linear, cosine, got 'step'", e.Message);
    }

    /// <summary>Recipes that use every kind of setting; their mixes sum to 1 exactly (the reader normalises a mix).</summary>
    public static TheoryData<string> Written => ["defaults", "everything", "synthesised"];

    static Recipe Example(string name, string root) => name switch
    {
        "defaults" => new Recipe
        {
            Base = "init:tiny",
            Targets = new TargetSpec(null, "kmeans-fit"),
            Sources = new Dictionary<string, DataSource> { ["a"] = new("a", Path.Combine(root, "a.csv"), null) },
            Stages = [new StageRecipe { Name = "only", Steps = 10, PeakLr = 1e-3, Mix = new Dictionary<string, double> { ["a"] = 1 } }],
        },
        "everything" => new Recipe
        {
            Description = "every setting away from its default",
            Base = Path.Combine(root, "models", "base"), InitSeed = 4, BaseHeads = Path.Combine(root, "models", "base", "heads.safetensors"),
            Targets = new TargetSpec(null, "encodec:" + Path.Combine(root, "models", "encodec"), 32, 12),
            Sources = new Dictionary<string, DataSource>
            {
                ["west"] = new("west", Path.GetFullPath(Path.Combine(root, "..", "shared", "west.csv")), null),
                ["east"] = new("east", Path.Combine(root, "manifests", "east.csv"), null),
            },
            Stages =
            [
                new StageRecipe
                {
                    Name = "first", Description = "frozen CNN", Steps = 100, WarmupSteps = 10, PeakLr = 5e-4, FloorLr = 5e-5, Decay = LrDecay.Cosine,
                    Mix = new Dictionary<string, double> { ["east"] = 0.75, ["west"] = 0.25 }, Trainable = ["encoder.layers.*", "final_proj.*"],
                    Beta1 = 0.8, Beta2 = 0.99, Eps = 1e-8, WeightDecay = 0, GradClip = 1,
                },
                new StageRecipe { Name = "second", Steps = 50, PeakLr = 1e-4, Mix = new Dictionary<string, double> { ["east"] = 1 } },
            ],
            CropSeconds = 2.5, PadShort = true, BatchSize = 3, GradAccumulation = 2, Seed = 7, CheckpointEvery = 20, KeepCheckpoints = 5,
            MaskProb = 0.65, MaskLength = 10, NoiseProbability = 0, NoiseMinSeconds = 0.25, NoiseMaxSeconds = 0.75, NoiseMaxSegments = 1,
            Precision = CultureMert.Model.Precision.BFloat16,
        },
        _ => new Recipe
        {
            Base = "init:tiny",
            Targets = new TargetSpec(Path.Combine(root, "targets"), null),
            Sources = new Dictionary<string, DataSource>
            {
                ["makam"] = new("makam", null, new SynthesisSpec("makam-hicaz", 3, 2.5, 9)),
                ["western"] = new("western", null, new SynthesisSpec("western-major")),
            },
            Stages = [new StageRecipe { Name = "mix", Steps = 10, PeakLr = 1e-3, Mix = new Dictionary<string, double> { ["makam"] = 0.5, ["western"] = 0.5 } }],
        },
    };

    [Theory]
    [MemberData(nameof(Written))]
    public void Save_ThenLoad_GivesTheRecipeBack(string name)
    {
        using var dir = new Fixtures.TempDir();
        var recipe = Example(name, dir.Path);
        var file = dir["recipes/r.json"];                                     // a subfolder: every path is written relative to it
        Directory.CreateDirectory(dir["recipes"]);
        recipe.Save(file);
        AssertSame(recipe, Recipe.Load(file), name);
    }

    [Theory]
    [InlineData("tiny-two-stage.json")]
    [InlineData("culturemert-95m.json")]
    public void ShippedRecipes_SavedAgain_LoadTheSame(string name)
    {
        using var dir = new Fixtures.TempDir();
        var shipped = Recipe.Load(RepoRecipe(name));
        var file = dir["again.json"];                                         // another folder: the relative paths must change
        shipped.Save(file);
        AssertSame(shipped, Recipe.Load(file), name);
    }

    [Fact]
    public void ToJson_WritesWhatAUserWould()
    {
        using var dir = new Fixtures.TempDir();
        var json = JsonNode.Parse(LoadText(dir, Minimal).ToJson(dir.Path))!.AsObject();
        Assert.Equal(["base", "targets", "sources", "stages"], json.Select(kv => kv.Key));   // every optional setting is at its default
        Assert.Equal("init:tiny", (string)json["base"]!);
        Assert.Equal("sub/w.csv", (string)json["sources"]!["w"]!["manifest"]!);
        var stage = json["stages"]![0]!.AsObject();
        Assert.Equal(["name", "steps", "warmup_steps", "peak_lr", "floor_lr", "decay", "mix"], stage.Select(kv => kv.Key));   // the schedule in full
        Assert.Equal(("stage1", "linear", 0.75), ((string)stage["name"]!, (string)stage["decay"]!, (double)stage["mix"]!["a"]!));

        var other = JsonNode.Parse(LoadText(dir, Minimal.Replace("\"stages\"", "\"batch_size\": 4, \"stages\"")).ToJson(dir["elsewhere"]))!;
        Assert.Equal(4, (int)other["batch_size"]!);
        Assert.Equal("../sub/w.csv", (string)other["sources"]!["w"]!["manifest"]!);
    }

    [Fact]
    public void Save_SameText_LeavesTheFileUntouched()
    {
        using var dir = new Fixtures.TempDir();
        var recipe = Example("defaults", dir.Path);
        recipe.Save(dir["r.json"]);
        var past = new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        File.SetLastWriteTimeUtc(dir["r.json"], past);
        recipe.Save(dir["r.json"]);
        Assert.Equal(past, File.GetLastWriteTimeUtc(dir["r.json"]));          // a resumed run sees the same file (and hash)
        (recipe with { BatchSize = 4 }).Save(dir["r.json"]);
        Assert.NotEqual(past, File.GetLastWriteTimeUtc(dir["r.json"]));
    }

    /// <summary>Every public property compared, collections element by element (in order); the file's hash and name aside.</summary>
    static void AssertSame(object? expected, object? actual, string where)
    {
        switch (expected)
        {
            case null:
                Assert.True(actual is null, $"{where}: expected null, got {actual}");
                return;
            case string or ValueType:
                Assert.True(Equals(expected, actual), $"{where}: expected {expected}, got {actual}");
                return;
            case System.Collections.IDictionary e:
                var a = Assert.IsAssignableFrom<System.Collections.IDictionary>(actual);
                Assert.Equal(e.Keys.Cast<object>(), a.Keys.Cast<object>());
                foreach (var k in e.Keys) AssertSame(e[k], a[k], $"{where}.{k}");
                return;
            case System.Collections.IEnumerable e:
                var (xs, ys) = (e.Cast<object>().ToList(), Assert.IsAssignableFrom<System.Collections.IEnumerable>(actual).Cast<object>().ToList());
                Assert.True(xs.Count == ys.Count, $"{where}: {xs.Count} items expected, got {ys.Count}");
                for (var i = 0; i < xs.Count; i++) AssertSame(xs[i], ys[i], $"{where}[{i}]");
                return;
        }
        Assert.NotNull(actual);
        foreach (var p in expected.GetType().GetProperties().Where(p => p.Name is not (nameof(Recipe.Hash) or nameof(Recipe.SourceFile))))
            AssertSame(p.GetValue(expected), p.GetValue(actual), $"{where}.{p.Name}");
    }
}
