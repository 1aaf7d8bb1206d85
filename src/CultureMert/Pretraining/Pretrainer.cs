using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using CultureMert.Audio;
using CultureMert.Checkpoints;
using CultureMert.Distributed;
using CultureMert.Model;
using CultureMert.Teachers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using CultureMert.IO;

namespace CultureMert.Pretraining;

/// <summary>Settings of one <see cref="Pretrainer.Run"/> that are not part of the recipe.</summary>
/// <param name="MaxSteps">stop once this many steps (in total, over all stages) are done, with a resumable checkpoint</param>
/// <param name="Resume">continue from the newest checkpoint in the output folder</param>
/// <param name="World">the ranks of a data-parallel run (MPI), or null for one process</param>
/// <param name="Device">where the model, heads, optimiser state and each step's batch live (null: the CPU); batches are
/// drawn, noised and masked on the CPU from the step's seeded generators, so a seed means the same data on every device</param>
public sealed record PretrainOptions(int? MaxSteps = null, bool Resume = false, ICommunicator? World = null, Device? Device = null);

/// <summary>What a running pre-training reports after each step (and once before the first).</summary>
public sealed record PretrainProgress(int Step, int TotalSteps, int StopAt, string Stage, double Loss, double Accuracy, double Lr,
                                      double AudioSecondsPerSecond, TimeSpan Elapsed, int StepsThisRun)
{
    public TimeSpan? Eta => StepsThisRun == 0 ? null : TimeSpan.FromSeconds(Elapsed.TotalSeconds / StepsThisRun * (StopAt - Step));
}

/// <param name="Step">steps done in total</param>
/// <param name="Finished">every stage is done</param>
/// <param name="Interrupted">stopped by cancellation (a checkpoint was written)</param>
public sealed record PretrainResult(int Step, int TotalSteps, bool Finished, bool Interrupted, IReadOnlyList<string> Exports, string LastCheckpoint);

/// <summary>
/// CultureMERT's continual pre-training: MERT's objective (<see cref="MertObjective"/>) trained stage after stage, each
/// with its data mix, trainable parameters, AdamW and a re-warmed, re-decayed learning rate.
/// </summary>
/// <remarks>
/// Output folder: <c>recipe.json</c> (a copy), <c>log.csv</c>, <c>loss.png</c>, <c>checkpoints/step-NNNNNNN/</c>
/// (model.safetensors + config.json: an HF folder; heads.safetensors; optimizer.safetensors; state.json),
/// <c>stages/NAME/</c> (the HF encoder at the end of each stage, heads.safetensors beside it), <c>data/</c> (synthesised
/// clips), <c>teacher/</c> (a fitted k-means teacher).
/// Reproducibility: every random draw of step s (crops, noise, mask, dropout, LayerDrop) comes from generators seeded
/// by (seed, s, micro-batch), so a checkpoint needs only the step, the weights and the optimiser moments to continue
/// bit for bit. Each stage starts with fresh AdamW moments (its trainable set may differ from the previous stage's).
/// Data parallel (<see cref="PretrainOptions.World"/> of W ranks): rank r runs micro-batches r, r + W, ... of each step
/// with the same seeds as one process would, the gradients and the log's figures are summed over the ranks, and every
/// rank takes the same clipping and AdamW step; rank 0 alone writes files and logs.
/// </remarks>
public static class Pretrainer
{
    public static PretrainResult Run(Recipe recipe, string outDir, PretrainOptions options, Action<string> log,
                                     IProgress<PretrainProgress>? progress = null, CancellationToken cancel = default)
    {
        var world = options.World;
        var device = options.Device ?? CPU;
        var lead = world is null || world.Rank == 0;                            // the rank that writes files and logs
        if (world is not null && recipe.GradAccumulation % world.Size != 0)
            throw new ArgumentException($"{recipe.SourceFile}: grad_accumulation {recipe.GradAccumulation} is not a multiple of the {world.Size} ranks (each rank runs every {world.Size}th micro-batch of a step); set grad_accumulation to a multiple of {world.Size} or launch a divisor of {recipe.GradAccumulation} ranks.");
        if (!lead) (log, progress) = (_ => { }, null);
        Directory.CreateDirectory(outDir);
        if (lead) AtomicFile.CleanStale(outDir);
        var checkpointsDir = Path.Combine(outDir, "checkpoints");
        var latest = LatestCheckpoint(checkpointsDir);
        if (latest is not null && !options.Resume)
            throw new ArgumentException($"{outDir} already holds a run ({latest}); pass --resume to continue it, or choose another --out.");
        if (options.MaxSteps is < 1) throw new ArgumentException($"--max-steps must be ≥ 1, got {options.MaxSteps}.");
        if (latest is null && options.Resume) log($"no checkpoint in {checkpointsDir} yet: starting at step 0");
        var state = latest is null ? null : TrainingState.Load(Path.Combine(latest, "state.json"));
        if (state is not null && state.RecipeHash != recipe.Hash)
            throw new ArgumentException($"{latest}: written under another recipe (hash {state.RecipeHash}, this one {recipe.Hash}); resume with the same recipe file or choose another --out.");
        var copy = Path.Combine(outDir, "recipe.json");
        if (lead && Path.GetFullPath(copy) != recipe.SourceFile) File.Copy(recipe.SourceFile, copy, overwrite: true);   // resuming from the run's own copy

        // 1. data and targets (rank 0 synthesises the clips and fits the teacher; the other ranks then read them)
        if (!lead) world!.Barrier();
        var files = PretrainData.Scan(recipe, Path.Combine(outDir, "data"), w => log("warning: " + w));
        foreach (var (name, list) in files)
            log(FormattableString.Invariant($"source {name}: {list.Count} files, {list.Sum(f => f.Samples) / 24000.0 / 3600:F3} h"));
        using var teacher = OpenTeacher(recipe, files, outDir, device, log);
        if (lead) world?.Barrier();
        var (codebooks, codebookSize) = teacher is not null ? (teacher.Codebooks, teacher.CodebookSize) : CacheShape(files);

        // 2. model and heads
        using var model = LoadBase(recipe, device, out var preprocessor, out var baseDir);
        if (model.Config.TotalStride != RandomCrop.SamplesPerLabelFrame || model.Config.SampleRate != PretrainData.SampleRate)
            throw new InvalidDataException($"{recipe.Base}: the CNN's total stride is {model.Config.TotalStride} at {model.Config.SampleRate} Hz; MERT's targets are at 75 Hz (stride 320 at 24 kHz).");
        if (model.MaskEmbedding is null) throw new InvalidDataException($"{recipe.Base}: the model has no masked_spec_embed (its config has mask_time_prob 0); pre-training needs the mask embedding.");
        manual_seed(recipe.Seed);                                               // the heads' PyTorch-default initialisation, on the CPU
        using var objective = new MertObjective(model.Config, Enumerable.Repeat(codebookSize, codebooks).ToArray()).to(device);
        using var data = new PretrainData(model.Config, preprocessor, files, recipe.CropSeconds, recipe.PadShort, teacher, codebooks, codebookSize);
        if (state is null) log("heads: " + LoadHeads(objective, HeadsFile(recipe, baseDir)));
        else
        {
            var saved = SafeTensors.Load(Path.Combine(latest!, "model.safetensors"));
            try { MertCheckpoint.Assign(model, saved, latest!); }
            finally { foreach (var t in saved.Values) t.Dispose(); }
            LoadHeads(objective, Path.Combine(latest!, "heads.safetensors"));
            log($"resuming from {latest} (step {state.Step} of {recipe.TotalSteps})");
        }

        var named = model.named_parameters().Select(kv => (kv.name, kv.parameter))
            .Concat(objective.NamedHeads()).ToList();
        if (world is not null) TensorCollectives.Broadcast(world, named.Select(p => (Tensor)p.Item2).ToList(), root: 0);
        var sources = recipe.Sources.Keys.Where(files.ContainsKey).OrderBy(s => s, StringComparer.Ordinal).ToList();
        var seconds = state?.Seconds.ToDictionary() ?? sources.ToDictionary(s => s, _ => 0.0);
        var stageStarts = recipe.Stages.Select((s, i) => recipe.Stages.Take(i).Sum(x => x.Steps)).ToArray();
        var stopAt = Math.Min(recipe.TotalSteps, options.MaxSteps ?? int.MaxValue);
        var step = state?.Step ?? 0;
        using var csv = !lead ? null : new TrainingLog(Path.Combine(outDir, "log.csv"), TrainingLog.ColumnsFor(codebooks, sources), step);
        var exports = new List<string>();
        var lastCheckpoint = latest ?? "";
        var clock = Stopwatch.StartNew();
        var stepsThisRun = 0;
        AdamW? optimizer = null;
        var optimizerStage = -1;
        var stopped = false;
        var latched = cancel.IsCancellationRequested;                            // rank 0's decision, taken where it checkpoints
        bool StopRequested()                                                    // rank 0 decides, at a step boundary
        {
            if (world is null) return cancel.IsCancellationRequested;
            Span<float> flag = [lead && latched ? 1 : 0];
            world.Broadcast(flag, root: 0);
            return stopped = flag[0] != 0;
        }
        model.train();
        objective.train();
        try
        {
            progress?.Report(new PretrainProgress(step, recipe.TotalSteps, stopAt, recipe.Stages[Math.Min(StageOf(stageStarts, step), recipe.Stages.Count - 1)].Name,
                                                  double.NaN, double.NaN, 0, 0, TimeSpan.Zero, 0));
            while (step < stopAt && !StopRequested())
            {
                var (stageIndex, lr) = LearningRateSchedule.At(recipe.Schedules, step);
                var stage = recipe.Stages[stageIndex];
                if (optimizerStage != stageIndex)
                {
                    optimizer?.Dispose();
                    optimizer = SetUpStage(stage, stageIndex, named, log);
                    optimizerStage = stageIndex;
                    if (state is not null && state.Stage == stageIndex && state.AdamStep > 0)
                    {
                        var moments = SafeTensors.Load(Path.Combine(latest!, "optimizer.safetensors"));
                        try { optimizer.LoadState(moments, state.AdamStep, latest!); }
                        finally { foreach (var t in moments.Values) t.Dispose(); }
                    }
                }
                optimizer!.LearningRate = lr;

                var timer = Stopwatch.StartNew();
                var row = TrainStep(recipe, stage, data, model, objective, optimizer, step, codebooks, seconds, world, device);
                timer.Stop();
                step++;
                stepsThisRun++;
                var audioSeconds = recipe.BatchSize * recipe.GradAccumulation * recipe.CropSeconds;
                row["step"] = step - 1;
                row["stage"] = stage.Name;
                row["lr"] = lr;
                row["ms_per_step"] = timer.Elapsed.TotalMilliseconds;
                row["audio_s_per_s"] = audioSeconds / timer.Elapsed.TotalSeconds;
                row["rss_mib"] = Environment.WorkingSet / (1024.0 * 1024);
                foreach (var s in sources) row[$"seconds_{s}"] = seconds[s];
                csv?.Write(row);
                progress?.Report(new PretrainProgress(step, recipe.TotalSteps, stopAt, stage.Name, (double)row["loss"],
                    Enumerable.Range(0, codebooks).Average(i => (double)row[$"acc_{i}"]), lr, (double)row["audio_s_per_s"], clock.Elapsed, stepsThisRun));

                var stageEnd = stageStarts[stageIndex] + stage.Steps;
                var atStageEnd = step == stageEnd;
                if (!lead) continue;
                if (world is not null) latched = cancel.IsCancellationRequested;  // so a stop always follows a checkpoint
                if (atStageEnd || step % recipe.CheckpointEvery == 0 || step == stopAt || (world is null ? cancel.IsCancellationRequested : latched))
                    lastCheckpoint = SaveCheckpoint(checkpointsDir, recipe, model, objective, optimizer, preprocessor, baseDir, step,
                                                    atStageEnd ? stageIndex + 1 : stageIndex, atStageEnd ? 0 : optimizer.Updates, seconds);
                if (atStageEnd)
                {
                    exports.Add(ExportStage(outDir, stage, recipe, model, objective, preprocessor, baseDir, step, seconds));
                    log($"stage {stage.Name} done at step {step}: exported {exports[^1]}");
                }
            }
        }
        finally
        {
            optimizer?.Dispose();
            csv?.Dispose();
            if (lead) TrainingLog.Plot(Path.Combine(outDir, "log.csv"), Path.Combine(outDir, "loss.png"),
                             recipe.Stages.Select((s, i) => (s.Name, stageStarts[i])).ToList());
        }
        var interrupted = world is null ? cancel.IsCancellationRequested : stopped;
        return new PretrainResult(step, recipe.TotalSteps, step >= recipe.TotalSteps, interrupted && step < stopAt, exports, lastCheckpoint);
    }

    /// <summary>
    /// One optimiser step: <c>grad_accumulation</c> micro-batches (crops → clean targets → in-batch noise → span mask →
    /// loss/accumulation → backward), gradient clipping over the trained parameters, AdamW. Returns the log row's figures.
    /// With a <paramref name="world"/>, this rank runs its share of the micro-batches and the sums are all-reduced before clipping.
    /// The batch, its noise and its mask are drawn on the CPU (seeded .NET generators) and moved to <paramref name="device"/>
    /// for the forward; the log's statistics are read on the CPU.
    /// </summary>
    private static Dictionary<string, object> TrainStep(Recipe recipe, StageRecipe stage, PretrainData data, MertModel model, MertObjective objective,
                                                        AdamW optimizer, int step, int codebooks, Dictionary<string, double> seconds,
                                                        ICommunicator? world, Device device)
    {
        using var scope = NewDisposeScope();                                  // every tensor of this step dies here
        var accum = recipe.GradAccumulation;
        double loss = 0, pen = 0, mse = 0, masked = 0;
        var ce = new double[codebooks];
        var acc = new double[codebooks];
        var chance = new double[codebooks];
        var (first, stride) = world is null ? (0, 1) : (world.Rank, world.Size);
        var drawn = world is null ? seconds : new Dictionary<string, double>();   // this rank's seconds, summed below
        for (var micro = first; micro < accum; micro += stride)
        {
            var rng = new Random(StepSeed(recipe.Seed, step, micro));
            manual_seed(StepSeed(recipe.Seed, step, micro) ^ 0x5DEECE66DL);   // dropout and LayerDrop
            using var batch = data.Draw(stage.Mix, recipe.BatchSize, rng);
            foreach (var (s, v) in batch.Seconds) drawn[s] = drawn.GetValueOrDefault(s) + v;
            var audio = batch.Audio;
            if (recipe.NoiseProbability > 0)
                audio = NoiseMixture.Apply(audio, rng, mixtureProb: 1 - recipe.NoiseProbability,
                    minLength: (int)(recipe.NoiseMinSeconds * PretrainData.SampleRate), maxLength: (int)(recipe.NoiseMaxSeconds * PretrainData.SampleRate),
                    maxNoises: recipe.NoiseMaxSegments).Mixed;
            var mask = SpanMasking.ComputeMaskIndices(recipe.BatchSize, data.CropFrames, rng, recipe.MaskProb, recipe.MaskLength)
                       .logical_and(batch.Valid);                                                  // (B, T); padding never masked
            using var terms = objective.Loss(model, audio.to(device), mask.to(device), batch.Codes.to(device), batch.Cqt.to(device));
            using (var a = ((double)accum).ToScalar()) terms.Total.div(a).backward();    // Scalar held: see FeaturePenalty.ScaleGradient
            using (no_grad())
            {
                loss += terms.Total.item<float>() / accum;
                pen += terms.FeaturePenalty.item<float>() / accum;
                mse += terms.CqtMse.item<float>() / accum;
                var per = terms.PerCodebook.cpu().data<float>().ToArray();
                var a = terms.Accuracy.cpu().data<float>().ToArray();
                var tm = batch.Codes[mask];                                                         // (S, n_q)
                masked += tm.size(0);
                for (var i = 0; i < codebooks; i++)
                {
                    ce[i] += per[i] / accum;
                    acc[i] += a[i] / accum;
                    chance[i] += bincount(tm[.., i]).max().item<long>() / (double)tm.size(0) / accum;
                }
            }
        }
        if (world is not null)
        {
            var keys = seconds.Keys.Order(StringComparer.Ordinal).ToList();
            double[] sums = [loss, pen, mse, masked, .. ce, .. acc, .. chance, .. keys.Select(k => drawn.GetValueOrDefault(k))];
            world.AllReduceSum(sums);                                           // each rank's share of the step's figures
            (loss, pen, mse, masked) = (sums[0], sums[1], sums[2], sums[3]);
            for (var i = 0; i < codebooks; i++) (ce[i], acc[i], chance[i]) = (sums[4 + i], sums[4 + codebooks + i], sums[4 + 2 * codebooks + i]);
            for (var k = 0; k < keys.Count; k++) seconds[keys[k]] += sums[4 + 3 * codebooks + k];
            TensorCollectives.AllReduceGradients(world, optimizer.Parameters);   // each already divided by accum
        }
        if (!double.IsFinite(loss))
            throw new InvalidDataException($"step {step}: the loss is {loss} (diverged); lower the learning rate or check the data. The last checkpoint is intact.");
        var gradNorm = ClipGradNorm(optimizer.Parameters, stage.GradClip);
        optimizer.Take();
        optimizer.ZeroGrad();

        var row = new Dictionary<string, object>
        {
            ["loss"] = loss, ["ce"] = ce.Sum(), ["features_pen"] = pen, ["cqt_mse"] = mse, ["grad_norm"] = gradNorm, ["masked_frames"] = (long)masked,
        };
        for (var i = 0; i < codebooks; i++) { row[$"ce_{i}"] = ce[i]; row[$"acc_{i}"] = acc[i]; row[$"chance_{i}"] = chance[i]; }
        return row;
    }

    /// <summary>
    /// PyTorch's <c>clip_grad_norm_</c> (2-norm over all gradients; scale by max / (norm + 1e-6) when above) over the
    /// parameters that have a gradient this step — a layer that LayerDrop skipped has none.
    /// </summary>
    /// <returns>the total norm before clipping</returns>
    public static double ClipGradNorm(IEnumerable<Tensor> parameters, double maxNorm)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var grads = parameters.Select(p => p.grad).OfType<Tensor>().ToList();
        if (grads.Count == 0) return 0;
        var total = stack(grads.Select(g => g.norm().to_type(ScalarType.Float64)).ToArray()).norm().item<double>();
        var coef = maxNorm / (total + 1e-6);
        using var c = coef.ToScalar();                                                    // held: see FeaturePenalty.ScaleGradient
        if (coef < 1) foreach (var g in grads) g.mul_(c);
        return total;
    }

    /// <summary>Seed of step <paramref name="step"/>'s micro-batch (SplitMix64 of the three numbers; never 0).</summary>
    public static int StepSeed(int seed, int step, int micro)
    {
        var z = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)step * 0xBF58476D1CE4E5B9UL + (ulong)micro * 0x94D049BB133111EBUL + 0x2545F4914F6CDD1DUL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (int)(z & 0x7FFFFFFF) | 1;
    }

    private static int StageOf(int[] starts, int step) => starts.Count(s => s <= step) - 1;

    /// <summary>Marks the stage's parameters trainable (the rest frozen: no gradient, no optimiser state) and builds its AdamW.</summary>
    private static AdamW SetUpStage(StageRecipe stage, int index, List<(string Name, Parameter Param)> named, Action<string> log)
    {
        foreach (var pattern in stage.Trainable)
            if (!named.Any(p => Recipe.GlobMatch(pattern, p.Name)))
                throw new ArgumentException($"stages[{index}].trainable: '{pattern}' matches no parameter (names look like encoder.layers.0.attention.q_proj.weight, final_proj.weight).");
        var trained = new List<(string, Tensor)>();
        long count = 0, total = 0;
        foreach (var (name, p) in named)
        {
            var train = stage.Trainable.Any(g => Recipe.GlobMatch(g, name));
            p.requires_grad = train;
            total += p.numel();
            if (!train) continue;
            trained.Add((name, p));
            count += p.numel();
        }
        log(FormattableString.Invariant($"stage {stage.Name}: {stage.Steps} steps, {count:N0} of {total:N0} parameters trained ({trained.Count} of {named.Count} tensors), peak LR {stage.PeakLr:G3}, mix {string.Join(", ", stage.Mix.Select(kv => $"{kv.Key} {kv.Value:P0}"))}"));
        return new AdamW(trained, stage.PeakLr, stage.Beta1, stage.Beta2, stage.Eps, stage.WeightDecay);
    }

    private static MertModel LoadBase(Recipe recipe, Device device, out PreprocessorConfig preprocessor, out string? baseDir)
    {
        if (recipe.Base.StartsWith("init:"))
        {
            var config = MertConfig.Preset(recipe.Base["init:".Length..]);
            preprocessor = new PreprocessorConfig(false, config.SampleRate);
            baseDir = null;
            return new MertModel(config).to(device).InitializeWeights(recipe.InitSeed);
        }
        var loaded = MertCheckpoint.Load(recipe.Base, device);
        if (loaded.Model.Config.SampleRate != PretrainData.SampleRate)
            throw new InvalidDataException($"{recipe.Base}: sample_rate {loaded.Model.Config.SampleRate}; MERT pre-training reads {PretrainData.SampleRate} Hz.");
        preprocessor = loaded.Preprocessor;
        baseDir = recipe.Base;
        return loaded.Model;
    }

    private static string? HeadsFile(Recipe recipe, string? baseDir) =>
        recipe.BaseHeads ?? (baseDir is not null && File.Exists(Path.Combine(baseDir, "heads.safetensors")) ? Path.Combine(baseDir, "heads.safetensors") : null);

    /// <summary>Loads the heads from <paramref name="file"/> (all of them, shapes checked) or keeps the fresh ones.</summary>
    /// <returns>what happened, for the log</returns>
    public static string LoadHeads(MertObjective objective, string? file)
    {
        var heads = objective.NamedHeads().ToList();
        if (file is null)
            return $"initialised ({string.Join(", ", heads.Select(h => $"{h.Name} [{string.Join(", ", h.Param.shape)}]"))}); the base checkpoint has none (released HF checkpoints never do)";
        var state = SafeTensors.Load(file);
        try
        {
            var problems = new List<string>();
            foreach (var (name, p) in heads)
                if (!state.TryGetValue(name, out var t)) problems.Add($"missing {name}");
                else if (!t.shape.SequenceEqual(p.shape)) problems.Add($"{name} has shape [{string.Join(", ", t.shape)}], expected [{string.Join(", ", p.shape)}] (another teacher's codebooks?)");
            problems.AddRange(state.Keys.Where(k => heads.All(h => h.Name != k)).Select(k => $"unexpected {k}"));
            if (problems.Count > 0) throw new InvalidDataException($"{file}: the heads do not fit this run:\n  {string.Join("\n  ", problems)}");
            using (no_grad())
                foreach (var (name, p) in heads) p.copy_(state[name]);
            return $"loaded from {file}";
        }
        finally { foreach (var t in state.Values) t.Dispose(); }
    }

    private static ITokenTeacher? OpenTeacher(Recipe recipe, Dictionary<string, List<TrainingFile>> files, string outDir, Device device, Action<string> log)
    {
        if (recipe.Targets.Teacher is not { } spec) return null;
        if (spec != "kmeans-fit") return Teacher.Open(spec, recipe.Targets.BandwidthKbps, device);
        var path = Path.Combine(outDir, "teacher", "kmeans.safetensors");
        if (File.Exists(path)) return KMeansTeacher.Load(path, device);
        log($"fitting a k-means teacher (k = {recipe.Targets.KMeansK}) on the training data → {path}");
        var fitted = KMeansTeacher.Fit(files.Values.SelectMany(f => f).Select(f => f.Path).ToList(),
                                       new KMeansFitOptions { K = recipe.Targets.KMeansK, Seed = recipe.Seed }.Validate(), null, device);
        fitted.Save(path);
        return fitted;
    }

    private static (int Codebooks, int Size) CacheShape(Dictionary<string, List<TrainingFile>> files)
    {
        var first = files.Values.SelectMany(f => f).First().Targets!;
        var (_, meta, _) = SafeTensors.ReadHeader(first);
        if (meta.TryGetValue("codebooks", out var c) && meta.TryGetValue("codebook_size", out var k) &&
            int.TryParse(c, CultureInfo.InvariantCulture, out var n) && int.TryParse(k, CultureInfo.InvariantCulture, out var size))
            return (n, size);
        throw new InvalidDataException($"{first}: no 'codebooks'/'codebook_size' metadata (a target cache written by culturemert tokenize has them).");
    }

    // ---- checkpoints and exports -------------------------------------------------------------------------------------

    /// <summary>The newest complete checkpoint folder, or null.</summary>
    public static string? LatestCheckpoint(string checkpointsDir) =>
        !Directory.Exists(checkpointsDir) ? null :
        Directory.GetDirectories(checkpointsDir, "step-*").Where(d => File.Exists(Path.Combine(d, "state.json")))
                 .OrderBy(d => d, StringComparer.Ordinal).LastOrDefault();

    /// <summary>Writes checkpoints/step-N/ atomically (a temporary folder renamed into place) and keeps the newest few.</summary>
    private static string SaveCheckpoint(string checkpointsDir, Recipe recipe, MertModel model, MertObjective objective, AdamW optimizer,
                                         PreprocessorConfig preprocessor, string? baseDir, int step, int stage, long adamStep, Dictionary<string, double> seconds)
    {
        var final = Path.Combine(checkpointsDir, $"step-{step:D7}");
        var tmp = Path.Combine(checkpointsDir, $".cmtmp.{Environment.ProcessId}.step-{step:D7}");
        if (Directory.Exists(tmp)) Directory.Delete(tmp, true);
        MertCheckpoint.Save(model, tmp, preprocessor, baseDir);
        SaveHeads(objective, Path.Combine(tmp, "heads.safetensors"));
        using (NewDisposeScope())
            SafeTensors.Save(Path.Combine(tmp, "optimizer.safetensors"), adamStep == 0 ? [] : optimizer.StateTensors(),
                             new Dictionary<string, string> { ["updates"] = adamStep.ToString(CultureInfo.InvariantCulture) });
        new TrainingState(step, stage, adamStep, recipe.Hash, new Dictionary<string, double>(seconds)).Save(Path.Combine(tmp, "state.json"));
        if (Directory.Exists(final)) Directory.Delete(final, true);
        Directory.Move(tmp, final);
        var all = Directory.GetDirectories(checkpointsDir, "step-*").OrderBy(d => d, StringComparer.Ordinal).ToList();
        foreach (var old in all.Take(Math.Max(0, all.Count - recipe.KeepCheckpoints))) Directory.Delete(old, true);
        return final;
    }

    private static void SaveHeads(MertObjective objective, string path) =>
        SafeTensors.Save(path, objective.NamedHeads().Select(h => KeyValuePair.Create(h.Name, (Tensor)h.Param)),
                         new Dictionary<string, string> { ["format"] = "pt", ["heads"] = "fairseq MERTModel pre-training heads" });

    /// <summary>stages/NAME/: the HF encoder (what transformers loads) with heads.safetensors and training.json beside it.</summary>
    private static string ExportStage(string outDir, StageRecipe stage, Recipe recipe, MertModel model, MertObjective objective,
                                      PreprocessorConfig preprocessor, string? baseDir, int step, Dictionary<string, double> seconds)
    {
        var final = Path.Combine(outDir, "stages", stage.Name);
        var tmp = Path.Combine(outDir, "stages", $".cmtmp.{Environment.ProcessId}.{stage.Name}");
        if (Directory.Exists(tmp)) Directory.Delete(tmp, true);
        MertCheckpoint.Save(model, tmp, preprocessor, baseDir);
        SaveHeads(objective, Path.Combine(tmp, "heads.safetensors"));
        var info = new JsonObject
        {
            ["stage"] = stage.Name, ["step"] = step, ["base"] = recipe.Base, ["recipe"] = recipe.SourceFile, ["recipe_sha256"] = recipe.Hash,
            ["seconds_per_source"] = new JsonObject(seconds.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(Math.Round(kv.Value, 3))))),
        };
        AtomicFile.WriteText(Path.Combine(tmp, "training.json"), info.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        if (Directory.Exists(final)) Directory.Delete(final, true);
        Directory.Move(tmp, final);
        return final;
    }
}

/// <summary>state.json of a checkpoint: where the run stands (the weights and moments are beside it).</summary>
/// <param name="Step">steps done</param>
/// <param name="Stage">the stage the next step belongs to</param>
/// <param name="AdamStep">updates the current stage's AdamW has taken (0: the stage starts with fresh moments)</param>
public sealed record TrainingState(int Step, int Stage, long AdamStep, string RecipeHash, Dictionary<string, double> Seconds)
{
    public void Save(string path) => AtomicFile.WriteText(path, JsonSerializer.Serialize(this, Options) + "\n");

    public static TrainingState Load(string path)
    {
        try { return JsonSerializer.Deserialize<TrainingState>(File.ReadAllText(path), Options) ?? throw new InvalidDataException($"{path}: empty."); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not a training state: {e.Message}"); }
    }

    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
}
