using System.Globalization;
using CultureMert.Audio;
using CultureMert.Checkpoints;
using CultureMert.Distributed;
using CultureMert.Model;
using CultureMert.Teachers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CultureMert.Pretraining;

/// <summary>
/// What a pre-training run holds open while it trains, set up in order: the run folder checked (and the checkpoint to
/// resume from found), the data and its targets (the teacher), the model and its heads (fresh, or the checkpoint's) —
/// and one optimiser step over them (<see cref="TrainStep"/>).
/// </summary>
internal sealed class PretrainSession : IDisposable
{
    public Recipe Recipe { get; }
    public RunFolder Run { get; }
    /// <summary>rank 0 of a data-parallel run, or the one process: the one that writes files and logs</summary>
    public bool Lead { get; }
    /// <summary>the checkpoint this run continues from and its state.json, or null for a run from step 0</summary>
    public (string Folder, TrainingState State)? Resumed { get; }
    public int Codebooks { get; }
    /// <summary>the sources with files, in ordinal order (log.csv's seconds_ columns)</summary>
    public IReadOnlyList<string> Sources { get; }
    /// <summary>every parameter of the model and the heads, by name (the stages choose the trainable ones from these)</summary>
    public IReadOnlyList<(string Name, Parameter Param)> Named { get; }

    readonly ICommunicator? world;
    readonly Device device;
    readonly ITokenTeacher? teacher;
    readonly MertModel model;
    readonly MertObjective objective;
    readonly PretrainData data;
    readonly PreprocessorConfig preprocessor;
    readonly string? baseDir;
    readonly StagePlan plan;
    readonly int stopAt;
    readonly BatchPrefetch prefetch;

    public PretrainSession(Recipe recipe, string outDir, PretrainOptions options, Action<string> log)
    {
        (Recipe, Run, world, device) = (recipe, new RunFolder(outDir), options.World, options.Device ?? CPU);
        Lead = world is null || world.Rank == 0;
        (plan, stopAt, prefetch) = (new StagePlan(recipe), Math.Min(recipe.TotalSteps, options.MaxSteps ?? int.MaxValue), new BatchPrefetch(Prepare));
        try
        {
            Resumed = FindResumePoint(options, log);                               // locks the run folder: released on a throw below
            // 1. data and targets (rank 0 synthesises the clips and fits the teacher; the other ranks then read them)
            if (!Lead) world!.Barrier();
            var files = PretrainData.Scan(recipe, Run.Data, w => log("warning: " + w));
            foreach (var (name, list) in files)
                log(FormattableString.Invariant($"source {name}: {list.Count} files, {list.Sum(f => f.Samples) / 24000.0 / 3600:F3} h"));
            teacher = OpenTeacher(files, log);
            if (Lead) world?.Barrier();
            (Codebooks, var codebookSize) = teacher is not null ? (teacher.Codebooks, teacher.CodebookSize) : CacheShape(files);

            // 2. model and heads
            model = LoadBase(recipe, device, out preprocessor, out baseDir);
            manual_seed(recipe.Seed);                                               // the heads' PyTorch-default initialisation, on the CPU
            objective = new MertObjective(model.Config, Enumerable.Repeat(codebookSize, Codebooks).ToArray()).to(device);
            data = new PretrainData(model.Config, preprocessor, files, recipe.CropSeconds, recipe.PadShort, teacher, Codebooks, codebookSize);
            LoadWeights(log);
            Named = model.named_parameters().Select(kv => (kv.name, kv.parameter)).Concat(objective.NamedHeads()).ToList();
            if (world is not null) TensorCollectives.Broadcast(world, Named.Select(p => (Tensor)p.Param).ToList(), root: 0);
            if (recipe.Precision == Precision.BFloat16) log("precision: bf16 mixed (matrix products in bf16; norms, softmax, heads, loss, weights and AdamW in fp32)");
            Sources = recipe.Sources.Keys.Where(files.ContainsKey).OrderBy(s => s, StringComparer.Ordinal).ToList();
        }
        catch { Dispose(); throw; }
    }

    /// <summary>Checks the run folder against the options; the newest checkpoint and its state when resuming.</summary>
    (string, TrainingState)? FindResumePoint(PretrainOptions options, Action<string> log)
    {
        if (Recipe.Precision == Precision.BFloat16 && !options.AllowSlowBf16 && MixedPrecision.SlowerThanFp32(device, ComputeDevice.CpuHasNativeBf16()) is { } why)
            throw new ArgumentException($"{Recipe.SourceFile}: precision bf16 refused: {why} Train in fp32 (the default), or pass --allow-slow-bf16 to check bf16's numerics anyway.");
        if (world is not null && Recipe.GradAccumulation % world.Size != 0)
            throw new ArgumentException($"{Recipe.SourceFile}: grad_accumulation {Recipe.GradAccumulation} is not a multiple of the {world.Size} ranks (each rank runs every {world.Size}th micro-batch of a step); set grad_accumulation to a multiple of {world.Size} or launch a divisor of {Recipe.GradAccumulation} ranks.");
        folderLock = Run.Create(Lead);
        var latest = Run.LatestCheckpoint();
        if (latest is not null && !options.Resume)
            throw new ArgumentException($"{Run.Path} already holds a run ({latest}); pass --resume to continue it, or choose another --out.");
        if (options.MaxSteps is < 1) throw new ArgumentException($"--max-steps must be ≥ 1, got {options.MaxSteps}.");
        if (latest is null && options.Resume) log($"no checkpoint in {Run.Checkpoints} yet: starting at step 0");
        var state = latest is null ? null : RunFolder.LoadState(latest);
        if (state is not null && (state.Precision ?? Precision.Float32.Name()) != Recipe.Precision.Name())
            throw new ArgumentException($"{latest}: trained in {state.Precision ?? "fp32"}, and this run asks for {Recipe.Precision.Name()}; resume in {state.Precision ?? "fp32"} (a resumed run repeats the uninterrupted one bit for bit only in its own precision), or choose another --out.");
        if (state is not null && state.RecipeHash != Recipe.Hash)
            throw new ArgumentException($"{latest}: written under another recipe (hash {state.RecipeHash}, this one {Recipe.Hash}); resume with the same recipe file or choose another --out.");
        if (Lead) Run.CopyRecipe(Recipe);
        return state is null ? null : (latest!, state);
    }

    /// <summary>The heads from the base (or fresh); when resuming, the model and heads from the checkpoint.</summary>
    void LoadWeights(Action<string> log)
    {
        if (Resumed is not (string folder, TrainingState state)) { log("heads: " + Pretrainer.LoadHeads(objective, HeadsFile(Recipe, baseDir))); return; }
        var saved = SafeTensors.Load(Path.Combine(folder, RunFolder.ModelFile));
        try { MertCheckpoint.Assign(model, saved, folder); }
        finally { foreach (var t in saved.Values) t.Dispose(); }
        Pretrainer.LoadHeads(objective, Path.Combine(folder, RunFolder.HeadsFile));
        log($"resuming from {folder} (step {state.Step} of {Recipe.TotalSteps})");
    }

    /// <summary>Dropout and LayerDrop on (the model and heads train from here on).</summary>
    public void Train()
    {
        model.train();
        objective.train();
    }

    /// <summary>The HF folder of the model (model.safetensors + config.json) with heads.safetensors beside it, in <paramref name="dir"/>.</summary>
    public void WriteWeights(string dir)
    {
        MertCheckpoint.Save(model, dir, preprocessor, baseDir);
        SafeTensors.Save(Path.Combine(dir, RunFolder.HeadsFile), objective.NamedHeads().Select(h => KeyValuePair.Create(h.Name, (Tensor)h.Param)),
                         new Dictionary<string, string> { ["format"] = "pt", ["heads"] = "fairseq MERTModel pre-training heads" });
    }

    /// <summary>
    /// One optimiser step: <c>grad_accumulation</c> micro-batches (<see cref="MicroBatch"/>), gradient clipping over the
    /// trained parameters, AdamW. With a world, this rank runs micro-batches rank, rank + size, ... and the figures and
    /// gradients are summed over the ranks before clipping.
    /// </summary>
    /// <param name="seconds">the run's seconds drawn per source, brought up to date</param>
    public StepStats TrainStep(StageRecipe stage, AdamW optimizer, int step, Dictionary<string, double> seconds)
    {
        using var scope = NewDisposeScope();                                  // every tensor of this step dies here
        var stats = new StepStats(Codebooks);
        // One process adds each micro-batch's seconds straight into the run's totals; a rank collects its share, summed
        // over the ranks below. The two orders of float additions differ, and each is what its kind of run repeats on resume.
        var drawn = world is null ? seconds : stats.Drawn;
        var (first, stride) = world is null ? (0, 1) : (world.Rank, world.Size);
        for (var micro = first; micro < Recipe.GradAccumulation; micro += stride)
            MicroBatch(step, micro, stats, drawn);
        var times = stats.Times;
        if (world is not null)
        {
            var keys = seconds.Keys.Order(StringComparer.Ordinal).ToList();
            stats = times.Time(StepTimes.Phase.AllReduce, () => stats.SumOver(world, keys));   // each rank's share of the step's figures
            foreach (var k in keys) seconds[k] += stats.Drawn[k];
            times.Time(StepTimes.Phase.AllReduce, () => TensorCollectives.AllReduceGradients(world, optimizer.Parameters));   // each already divided by accum
        }
        if (!double.IsFinite(stats.Loss))
            throw new InvalidDataException($"step {step}: the loss is {stats.Loss} (diverged); lower the learning rate or check the data. The last checkpoint is intact.");
        stats.GradNorm = times.Time(StepTimes.Phase.Clip, () => Pretrainer.ClipGradNorm(optimizer.Parameters, stage.GradClip));
        times.Time(StepTimes.Phase.Optimizer, () => { optimizer.Take(); optimizer.ZeroGrad(); });
        return stats;
    }

    /// <summary>
    /// Micro-batch <paramref name="micro"/> of step <paramref name="step"/>: its crops, clean targets, in-batch noise and
    /// span mask (prepared on the CPU by <see cref="Prepare"/>, on the prefetch worker while the previous one trained),
    /// moved to the device → loss / accum → backward; the figures are read back on the CPU.
    /// </summary>
    void MicroBatch(int step, int micro, StepStats stats, Dictionary<string, double> drawn)
    {
        var (recipe, accum, times) = (Recipe, Recipe.GradAccumulation, stats.Times);
        using var prepared = times.Time(StepTimes.Phase.Data, () => prefetch.Take(step, micro, After(step, micro)));   // the wait for it
        var (batch, audio, mask) = prepared;
        foreach (var (s, v) in batch.Seconds) drawn[s] = drawn.GetValueOrDefault(s) + v;
        manual_seed(Pretrainer.StepSeed(recipe.Seed, step, micro) ^ 0x5DEECE66DL);   // dropout and LayerDrop
        using var terms = times.Time(StepTimes.Phase.Forward, () =>
        {
            using var precision = MixedPrecision.Enter(recipe.Precision);                       // backward replays the recorded casts
            return objective.Loss(model, audio.to(device), mask.to(device), batch.Codes.to(device), batch.Cqt.to(device));
        });
        times.Time(StepTimes.Phase.Backward, () =>
        {
            using var a = ((double)accum).ToScalar();                                          // held: see FeaturePenalty.ScaleGradient
            terms.Total.div(a).backward();
        });
        using (no_grad())
            stats.Add(terms, batch.Codes[mask], accum);                                         // targets (S, n_q) of the S masked frames
    }

    /// <summary>Micro-batch <paramref name="micro"/> of <paramref name="step"/>, drawn from its own seeded generator (on the prefetch worker).</summary>
    PreparedBatch Prepare(int step, int micro)
    {
        var rng = new Random(Pretrainer.StepSeed(Recipe.Seed, step, micro));
        var batch = data.Draw(plan.At(step).Stage.Mix, Recipe.BatchSize, rng);
        var (audio, mask) = NoiseAndMask(batch, rng);
        return new PreparedBatch(batch, audio, mask);
    }

    /// <summary>The micro-batch this rank runs after (step, micro), or null after the run's last.</summary>
    (int Step, int Micro)? After(int step, int micro)
    {
        var stride = world?.Size ?? 1;
        if (micro + stride < Recipe.GradAccumulation) return (step, micro + stride);
        return step + 1 < stopAt ? (step + 1, world?.Rank ?? 0) : null;
    }

    /// <summary>The batch's audio with in-batch noise mixed in (recipe permitting), and its span mask (B, T); padding never masked.</summary>
    (Tensor Audio, Tensor Mask) NoiseAndMask(TrainingBatch batch, Random rng)
    {
        var recipe = Recipe;
        var audio = batch.Audio;
        if (recipe.NoiseProbability > 0)
            audio = NoiseMixture.Apply(audio, rng, mixtureProb: 1 - recipe.NoiseProbability,
                minLength: (int)(recipe.NoiseMinSeconds * PretrainData.SampleRate), maxLength: (int)(recipe.NoiseMaxSeconds * PretrainData.SampleRate),
                maxNoises: recipe.NoiseMaxSegments).Mixed;
        var mask = SpanMasking.ComputeMaskIndices(recipe.BatchSize, data.CropFrames, rng, recipe.MaskProb, recipe.MaskLength)
                   .logical_and(batch.Valid);
        return (audio, mask);
    }

    // ---- set-up helpers ----------------------------------------------------------------------------------------------

    static MertModel LoadBase(Recipe recipe, Device device, out PreprocessorConfig preprocessor, out string? baseDir)
    {
        MertModel model;
        if (recipe.Base.StartsWith("init:"))
        {
            var config = MertConfig.Preset(recipe.Base["init:".Length..]);
            (preprocessor, baseDir) = (new PreprocessorConfig(false, config.SampleRate), null);
            model = new MertModel(config).to(device).InitializeWeights(recipe.InitSeed);
        }
        else
        {
            var loaded = MertCheckpoint.Load(recipe.Base, device);
            if (loaded.Model.Config.SampleRate != PretrainData.SampleRate)
                throw new InvalidDataException($"{recipe.Base}: sample_rate {loaded.Model.Config.SampleRate}; MERT pre-training reads {PretrainData.SampleRate} Hz.");
            (preprocessor, baseDir, model) = (loaded.Preprocessor, recipe.Base, loaded.Model);
        }
        if (model.Config.TotalStride != RandomCrop.SamplesPerLabelFrame || model.Config.SampleRate != PretrainData.SampleRate)
            throw new InvalidDataException($"{recipe.Base}: the CNN's total stride is {model.Config.TotalStride} at {model.Config.SampleRate} Hz; MERT's targets are at 75 Hz (stride 320 at 24 kHz).");
        if (model.MaskEmbedding is null) throw new InvalidDataException($"{recipe.Base}: the model has no masked_spec_embed (its config has mask_time_prob 0); pre-training needs the mask embedding.");
        return model;
    }

    static string? HeadsFile(Recipe recipe, string? baseDir) =>
        recipe.BaseHeads ?? (baseDir is not null && File.Exists(Path.Combine(baseDir, RunFolder.HeadsFile)) ? Path.Combine(baseDir, RunFolder.HeadsFile) : null);

    ITokenTeacher? OpenTeacher(Dictionary<string, List<TrainingFile>> files, Action<string> log)
    {
        if (Recipe.Targets.Teacher is not { } spec) return null;
        if (spec != "kmeans-fit") return Teacher.Open(spec, Recipe.Targets.BandwidthKbps, device);
        var path = Run.KMeansTeacher;
        if (File.Exists(path)) return KMeansTeacher.Load(path, device);
        log($"fitting a k-means teacher (k = {Recipe.Targets.KMeansK}) on the training data → {path}");
        var fitted = KMeansTeacher.Fit(files.Values.SelectMany(f => f).Select(f => f.Path).ToList(),
                                       new KMeansFitOptions { K = Recipe.Targets.KMeansK, Seed = Recipe.Seed }.Validate(), null, device);
        fitted.Save(path);
        return fitted;
    }

    static (int Codebooks, int Size) CacheShape(Dictionary<string, List<TrainingFile>> files)
    {
        var first = files.Values.SelectMany(f => f).First().Targets!;
        var (_, meta, _) = SafeTensors.ReadHeader(first);
        if (meta.TryGetValue("codebooks", out var c) && meta.TryGetValue("codebook_size", out var k) &&
            int.TryParse(c, CultureInfo.InvariantCulture, out var n) && int.TryParse(k, CultureInfo.InvariantCulture, out var size))
            return (n, size);
        throw new InvalidDataException($"{first}: no 'codebooks'/'codebook_size' metadata (a target cache written by culturemert tokenize has them).");
    }

    public void Dispose()
    {
        prefetch.Dispose();                                                  // before the data it draws from
        data?.Dispose();
        objective?.Dispose();
        model?.Dispose();
        teacher?.Dispose();
        folderLock?.Dispose();
    }

    IO.FolderLock? folderLock;
}
