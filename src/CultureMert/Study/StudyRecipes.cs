using CultureMert.Pretraining;

namespace CultureMert.Study;

/// <summary>
/// The study's pre-training recipes, as <see cref="Recipe"/>s: saved to <c>recipes/RUN.json</c> they are what a user
/// would write for <c>culturemert pretrain</c>. The base is pre-trained from scratch on the Western cultures only (the
/// stand-in for MERT-v1); every CPT is CultureMERT's two stages from that base.
/// </summary>
internal sealed class StudyRecipes(StudyPaths paths, StudyCultures cultures, StudyOptions o)
{
    /// <summary>Stage 1 trains everything but the CNN feature encoder and the positional convolution.</summary>
    private static readonly IReadOnlyList<string> Stage1Trainable =
        ["feature_projection.*", "masked_spec_embed", "encoder.layer_norm.*", "encoder.layers.*", "final_proj.*", "label_embs_concat", "encoder_cqt_model.*"];

    /// <summary>(run name, recipe) in training order, for every pre-training seed: the base, the matched-compute control,
    /// the multi-culture CPT, one CPT per non-Western culture.</summary>
    public IEnumerable<(string Run, Recipe Recipe)> All()
    {
        for (var k = 0; k < o.PretrainSeeds; k++)
        {
            yield return (StudyModel.RunName("base", k), Base(k));
            yield return (StudyModel.RunName("control", k), TwoStage(k, cultures.Western, "the Western cultures again (the matched-compute control: as many steps as CPT, no new culture)"));
            yield return (StudyModel.RunName("cpt-multi", k), TwoStage(k, cultures.Others));
            foreach (var c in cultures.Others) yield return (StudyModel.RunName($"cpt-{c}", k), TwoStage(k, [c]));
        }
    }

    /// <summary>Pre-training seed <paramref name="k"/> sets the base's initial weights and every draw of every run descending from it.</summary>
    private Recipe Base(int k) => Common($"init:{o.Preset}", k) with
    {
        Description = "The base model: a MERT pre-trained from scratch on the Western cultures only (MERT-v1's stand-in).",
        Stages = [Stage("western-base", o.BaseSteps, 2e-3, 0, LrDecay.Linear, cultures.Western.Select(w => (w, 1.0)))],
    };

    private Recipe TwoStage(int k, IReadOnlyList<string> targetCultures, string? what = null)
    {
        var share = 0.8 / targetCultures.Count;
        var replay = cultures.Western.Select(w => (w, 0.2 / cultures.Western.Count));
        return Common(paths.Export(StudyModel.RunName("base", k), "western-base"), k) with
        {
            Description = $"CultureMERT's two stages on {what ?? string.Join(", ", targetCultures)}: stage 1 with the CNN frozen and 20 % Western replay, stage 2 everything on the culture data.",
            Stages =
            [
                Stage("stabilise", o.Stage1Steps, 5e-4, 5e-5, LrDecay.Cosine, targetCultures.Select(c => (c, share)).Concat(replay)) with { Trainable = Stage1Trainable },
                Stage("adapt", o.Stage2Steps, 1e-3, 0, LrDecay.Linear, targetCultures.Select(c => (c, 1.0))),
            ],
        };
    }

    /// <summary>What every run shares: the target cache, every culture's pre-training manifest, crops, batch and seeds.</summary>
    private Recipe Common(string @base, int k) => new()
    {
        Base = @base,
        InitSeed = o.Seed + k,
        Targets = new TargetSpec(Cache: paths.Targets, Teacher: null),
        Sources = cultures.All.ToDictionary(c => c, c => new DataSource(c, Path.Combine(paths.Corpus, "pretrain", $"{c}.csv"), null)),
        Stages = [],
        CropSeconds = o.CropSeconds,
        BatchSize = o.BatchSize,
        Seed = 1337 + o.Seed + k,
        CheckpointEvery = 500,
        NoiseMinSeconds = 0.1 * o.CropSeconds,      // MERT's 0.5–1 s of a 5-s crop
        NoiseMaxSeconds = 0.2 * o.CropSeconds,
    };

    /// <summary>A stage that re-warms over its first tenth; <paramref name="mix"/> weights are normalised on loading.</summary>
    private static StageRecipe Stage(string name, int steps, double peakLr, double floorLr, LrDecay decay, IEnumerable<(string Source, double Weight)> mix) => new()
    {
        Name = name, Steps = steps, WarmupSteps = Math.Max(1, steps / 10), PeakLr = peakLr, FloorLr = floorLr, Decay = decay,
        Mix = mix.GroupBy(x => x.Source).ToDictionary(g => g.Key, g => g.Sum(x => x.Weight)),     // the control names a Western source twice
    };
}
