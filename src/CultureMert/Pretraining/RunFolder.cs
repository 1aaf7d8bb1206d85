using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using CultureMert.Checkpoints;
using CultureMert.IO;
using CultureMert.Model;

namespace CultureMert.Pretraining;

/// <summary>
/// A pre-training run's output folder, and the one place that knows its layout: <c>recipe.json</c> (a copy),
/// <c>log.csv</c>, <c>loss.png</c>, <c>checkpoints/step-NNNNNNN/</c> (model.safetensors + config.json: an HF folder;
/// heads.safetensors; optimizer.safetensors; state.json), <c>stages/NAME/</c> (the HF encoder at the end of each stage,
/// heads.safetensors and training.json beside it), <c>data/</c> (synthesised clips), <c>teacher/</c> (a fitted k-means
/// teacher). Every folder is written whole through <see cref="AtomicFile.WriteDirectory"/>.
/// </summary>
public sealed class RunFolder(string path)
{
    public const string ModelFile = "model.safetensors", HeadsFile = "heads.safetensors", OptimizerFile = "optimizer.safetensors", StateFile = "state.json";

    public string Path { get; } = path;
    public string RecipeCopy => Combine("recipe.json");
    public string Log => Combine("log.csv");
    public string LossPlot => Combine("loss.png");
    public string Checkpoints => Combine("checkpoints");
    public string Data => Combine("data");
    public string KMeansTeacher => Combine("teacher", "kmeans.safetensors");

    string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    /// <summary>Creates the folder; the lead rank (the one that writes) also locks it for the run and clears
    /// temporaries that a killed run left.</summary>
    /// <returns>the lead rank's lock on the folder, held until disposed; null on the other ranks</returns>
    public FolderLock? Create(bool lead)
    {
        Directory.CreateDirectory(Path);
        if (!lead) return null;
        return FolderLock.Acquire(Path);
    }

    /// <summary>Copies the recipe in, unless the run is resumed from that very copy.</summary>
    public void CopyRecipe(Recipe recipe)
    {
        if (System.IO.Path.GetFullPath(RecipeCopy) != recipe.SourceFile) File.Copy(recipe.SourceFile, RecipeCopy, overwrite: true);
    }

    /// <summary>The newest complete checkpoint folder in <paramref name="checkpointsDir"/>, or null.</summary>
    public static string? LatestCheckpoint(string checkpointsDir) =>
        !Directory.Exists(checkpointsDir) ? null :
        Directory.GetDirectories(checkpointsDir, "step-*").Where(d => File.Exists(System.IO.Path.Combine(d, StateFile)))
                 .OrderBy(d => d, StringComparer.Ordinal).LastOrDefault();

    public string? LatestCheckpoint() => LatestCheckpoint(Checkpoints);

    public static TrainingState LoadState(string checkpoint) => TrainingState.Load(System.IO.Path.Combine(checkpoint, StateFile));

    /// <summary>
    /// Writes checkpoints/step-N/ (<paramref name="writeWeights"/> fills it, state.json is added) and deletes all but the
    /// newest <paramref name="keep"/>.
    /// </summary>
    /// <returns>the checkpoint folder</returns>
    public string SaveCheckpoint(TrainingState state, int keep, Action<string> writeWeights)
    {
        var saved = AtomicFile.WriteDirectory(Combine("checkpoints", $"step-{state.Step:D7}"), dir =>
        {
            writeWeights(dir);
            state.Save(System.IO.Path.Combine(dir, StateFile));
        });
        var all = Directory.GetDirectories(Checkpoints, "step-*").OrderBy(d => d, StringComparer.Ordinal).ToList();
        foreach (var old in all.Take(Math.Max(0, all.Count - keep))) Directory.Delete(old, true);
        return saved;
    }

    /// <summary>stages/NAME/: what <paramref name="writeWeights"/> writes (the HF encoder and its heads) with training.json beside it.</summary>
    /// <returns>the stage folder</returns>
    public string ExportStage(Recipe recipe, string stage, int step, IReadOnlyDictionary<string, double> seconds, Action<string> writeWeights) =>
        AtomicFile.WriteDirectory(Combine("stages", stage), dir =>
        {
            writeWeights(dir);
            var info = new JsonObject
            {
                ["stage"] = stage, ["step"] = step, ["base"] = recipe.Base, ["recipe"] = recipe.SourceFile, ["recipe_sha256"] = recipe.Hash,
                ["precision"] = recipe.Precision.Name(),
                ["seconds_per_source"] = new JsonObject(seconds.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(Math.Round(kv.Value, 3))))),
            };
            AtomicFile.WriteText(System.IO.Path.Combine(dir, "training.json"), info.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            Card(recipe, stage, step, seconds).Write(dir);
        });

    /// <summary>The stage's model card: base, recipe, stages so far, data hours per source, steps and the logged step time.</summary>
    ModelCard Card(Recipe recipe, string stage, int step, IReadOnlyDictionary<string, double> seconds)
    {
        var fromFolder = !recipe.Base.StartsWith("init:", StringComparison.Ordinal);
        var index = recipe.Stages.ToList().FindIndex(s => s.Name == stage);
        var ms = 0.0;
        if (File.Exists(Log))
        {
            var (table, rows) = TrainingLog.Read(Log);
            int stepColumn = table.Column("step"), msColumn = table.Column("ms_per_step");
            ms = rows.Where(r => r.Int(stepColumn) <= step).Sum(r => r.Double(msColumn) ?? 0);
        }
        return new ModelCard
        {
            Title = $"{System.IO.Path.GetFileName(System.IO.Path.GetFullPath(Path).TrimEnd('/'))} — stage {stage}",
            Summary = $"{(fromFolder ? $"`{ModelCard.IdOf(recipe.Base)}` continually pre-trained" : $"A MERT model ({recipe.Base["init:".Length..]}) pre-trained from scratch")} " +
                      "with MERT's masked-prediction objective by CultureMERT.NET (`culturemert pretrain`), " +
                      $"up to the end of stage {index + 1} of {recipe.Stages.Count}, `{stage}`.",
            BaseModels = fromFolder ? [ModelCard.IdOf(recipe.Base)] : [],
            Relation = fromFolder ? "finetune" : null,
            License = fromFolder ? ModelCard.LicenseOf(recipe.Base) : null,
            Datasets = [.. seconds.Keys.Order(StringComparer.Ordinal)],
            Tags = ["continual-pretraining"],
            Facts =
            [
                ("base", fromFolder ? $"`{ModelCard.IdOf(recipe.Base)}`" : $"`{recipe.Base}` (seed {recipe.InitSeed})"),
                ("recipe", $"`{System.IO.Path.GetFileName(recipe.SourceFile)}` (sha256 {recipe.Hash})"),
                ("stages", string.Join("; ", recipe.Stages.Take(index + 1).Select(s => $"{s.Name}: {s.Steps} steps"))),
                ("steps", step.ToString(CultureInfo.InvariantCulture)),
                .. seconds.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => ($"data: {kv.Key}", $"{ModelCard.Hours(kv.Value)} of audio drawn")),
                ("precision", recipe.Precision.Name()),
                ("wall time (logged steps, h:mm:ss)", ms > 0 ? TimeSpan.FromMilliseconds(ms).ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : "–"),
                ("provenance", "`training.json` beside this card (recipe hash, seconds per source)"),
            ],
        };
    }
}

/// <summary>state.json of a checkpoint: where the run stands (the weights and moments are beside it).</summary>
/// <param name="Step">steps done</param>
/// <param name="Stage">the stage the next step belongs to</param>
/// <param name="AdamStep">updates the current stage's AdamW has taken (0: the stage starts with fresh moments)</param>
/// <param name="Seconds">seconds of audio drawn from each source so far</param>
/// <param name="Precision">fp32 or bf16 (<see cref="Model.Precisions"/>); absent in checkpoints from before bf16 training: fp32</param>
public sealed record TrainingState(int Step, int Stage, long AdamStep, string RecipeHash, Dictionary<string, double> Seconds, string? Precision = null)
{
    public void Save(string path) => AtomicFile.WriteText(path, JsonSerializer.Serialize(this, Options) + "\n");

    public static TrainingState Load(string path)
    {
        try { return JsonSerializer.Deserialize<TrainingState>(File.ReadAllText(path), Options) ?? throw new InvalidDataException($"{path}: empty."); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not a training state: {e.Message}"); }
    }

    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
}
