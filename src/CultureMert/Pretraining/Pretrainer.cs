using System.Diagnostics;
using CultureMert.Checkpoints;
using CultureMert.Distributed;
using CultureMert.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Pretraining;

/// <summary>Settings of one <see cref="Pretrainer.Run"/> that are not part of the recipe.</summary>
/// <param name="MaxSteps">stop once this many steps (in total, over all stages) are done, with a resumable checkpoint</param>
/// <param name="Resume">continue from the newest checkpoint in the output folder</param>
/// <param name="World">the ranks of a data-parallel run (MPI), or null for one process</param>
/// <param name="Device">where the model, heads, optimiser state and each step's batch live (null: the CPU); batches are
/// drawn, noised and masked on the CPU from the step's seeded generators, so a seed means the same data on every device</param>
/// <param name="AllowSlowBf16">train a bf16 recipe even on a CPU without native bf16, where it is slower than fp32
/// (<see cref="MixedPrecision.SlowerThanFp32"/>): for checking numerics, not for speed</param>
public sealed record PretrainOptions(int? MaxSteps = null, bool Resume = false, ICommunicator? World = null, Device? Device = null, bool AllowSlowBf16 = false);

/// <summary>What a running pre-training reports after each step (and once before the first).</summary>
public sealed record PretrainProgress(int Step, int TotalSteps, int StopAt, string Stage, double Loss, double Accuracy, double Lr,
                                      double AudioSecondsPerSecond, TimeSpan Elapsed, int StepsThisRun)
{
    /// <summary>Steps per second over this run (since start or resume), start-up excluded.</summary>
    public double StepsPerSecond => StepsThisRun == 0 ? double.NaN : StepsThisRun / Elapsed.TotalSeconds;
    /// <summary>Time to <see cref="StopAt"/> at this run's mean step time.</summary>
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
/// The loop is <see cref="Run"/>; its parts: <see cref="PretrainSession"/> (data, teacher, model, heads, resume; one
/// step), <see cref="StagePlan"/> (stage and LR of a step), <see cref="StageOptimizer"/> (each stage's AdamW),
/// <see cref="RunFolder"/> (the output folder: checkpoints, stage exports, log), <see cref="StepStats"/> (a step's figures).
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
        if (options.World is { Rank: > 0 }) (log, progress) = (_ => { }, null);   // rank 0 alone logs
        NativeHeap.ReuseTensorBuffers();
        using var session = new PretrainSession(recipe, outDir, options, log);
        var (run, lead, plan) = (session.Run, session.Lead, new StagePlan(recipe));
        var step = session.Resumed?.State.Step ?? 0;
        var stopAt = Math.Min(recipe.TotalSteps, options.MaxSteps ?? int.MaxValue);
        var seconds = session.Resumed?.State.Seconds.ToDictionary() ?? session.Sources.ToDictionary(s => s, _ => 0.0);
        using var csv = !lead ? null : new TrainingLog(run.Log, TrainingLog.ColumnsFor(session.Codebooks, session.Sources), step);
        var (exports, lastCheckpoint, clock, stepsThisRun) = (new List<string>(), session.Resumed?.Folder ?? "", Stopwatch.StartNew(), 0);
        var stop = new StopSignal(options.World, cancel);
        var optimizers = new StageOptimizer(session.Named, session.Resumed, log);
        session.Train();
        try
        {
            progress?.Report(new PretrainProgress(step, recipe.TotalSteps, stopAt, plan.NameAt(step), double.NaN, double.NaN, 0, 0, TimeSpan.Zero, 0));
            while (step < stopAt && !stop.Requested())
            {
                var (index, stage, lr) = plan.At(step);
                var optimizer = optimizers.For(index, stage);
                optimizer.LearningRate = lr;
                var timer = Stopwatch.StartNew();
                var stats = session.TrainStep(stage, optimizer, step, seconds);
                timer.Stop();
                var audioPerSecond = recipe.BatchSize * recipe.GradAccumulation * recipe.CropSeconds / timer.Elapsed.TotalSeconds;
                (step, stepsThisRun) = (step + 1, stepsThisRun + 1);
                var done = new PretrainProgress(step, recipe.TotalSteps, stopAt, stage.Name, stats.Loss, stats.Acc.Average(), lr,
                                                audioPerSecond, clock.Elapsed, stepsThisRun);
                csv?.Write(new TrainingLogRow(step - 1, stage.Name, lr, stats, timer.Elapsed.TotalMilliseconds, audioPerSecond, done.Eta?.TotalSeconds ?? 0,
                                              Environment.WorkingSet / (1024.0 * 1024), session.Sources.Select(s => (s, seconds[s])).ToList()));
                progress?.Report(done);
                if (!lead) continue;
                var atStageEnd = step == plan.EndOf(index);
                var stopping = stop.Latch();                                       // decided where a checkpoint can precede it
                if (atStageEnd || step % recipe.CheckpointEvery == 0 || step == stopAt || stopping)
                {
                    var adamStep = atStageEnd ? 0 : optimizer.Updates;                                 // 0: the next stage starts afresh
                    lastCheckpoint = run.SaveCheckpoint(new TrainingState(step, atStageEnd ? index + 1 : index, adamStep, recipe.Hash, new(seconds), recipe.Precision.Name()),
                                                        recipe.KeepCheckpoints, dir => { session.WriteWeights(dir); optimizers.Save(dir, adamStep); });
                }
                if (!atStageEnd) continue;
                exports.Add(run.ExportStage(recipe, stage.Name, step, seconds, session.WriteWeights));
                log($"stage {stage.Name} done at step {step}: exported {exports[^1]}");
            }
        }
        finally
        {
            optimizers.Dispose();
            csv?.Dispose();
            if (lead) TrainingLog.Plot(run.Log, run.LossPlot, plan.FirstSteps);
        }
        return new PretrainResult(step, recipe.TotalSteps, step >= recipe.TotalSteps, stop.Interrupted && step < stopAt, exports, lastCheckpoint);
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

    /// <summary>The newest complete checkpoint folder, or null.</summary>
    public static string? LatestCheckpoint(string checkpointsDir) => RunFolder.LatestCheckpoint(checkpointsDir);
}
