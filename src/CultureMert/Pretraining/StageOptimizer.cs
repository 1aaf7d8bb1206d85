using System.Globalization;
using CultureMert.Checkpoints;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CultureMert.Pretraining;

/// <summary>
/// The AdamW of the stage being trained. Each stage starts with fresh moments (its trainable set may differ from the
/// previous stage's), except the stage a run resumes in mid-way: that one reloads the moments its checkpoint saved.
/// </summary>
/// <param name="named">every parameter of the model and the heads, by name</param>
/// <param name="resumed">the checkpoint a run resumes from and its state, or null</param>
public sealed class StageOptimizer(IReadOnlyList<(string Name, Parameter Param)> named, (string Folder, TrainingState State)? resumed,
                                   Action<string> log) : IDisposable
{
    AdamW? current;
    int currentStage = -1;

    /// <summary>Stage <paramref name="index"/>'s AdamW: the one in use, or, when the stage changes, a new one.</summary>
    public AdamW For(int index, StageRecipe stage)
    {
        if (currentStage == index) return current!;
        current?.Dispose();
        current = SetUp(stage, index);
        currentStage = index;
        if (resumed is (string folder, TrainingState state) && state.Stage == index && state.AdamStep > 0)
        {
            var moments = SafeTensors.Load(Path.Combine(folder, RunFolder.OptimizerFile));
            try { current.LoadState(moments, state.AdamStep, folder); }
            finally { foreach (var t in moments.Values) t.Dispose(); }
        }
        return current;
    }

    /// <summary>optimizer.safetensors in <paramref name="dir"/>: the moments after <paramref name="adamStep"/> updates (none when 0).</summary>
    public void Save(string dir, long adamStep)
    {
        using (NewDisposeScope())
            SafeTensors.Save(Path.Combine(dir, RunFolder.OptimizerFile), adamStep == 0 ? [] : current!.StateTensors(),
                             new Dictionary<string, string> { ["updates"] = adamStep.ToString(CultureInfo.InvariantCulture) });
    }

    /// <summary>Marks the stage's parameters trainable (the rest frozen: no gradient, no optimiser state) and builds its AdamW.</summary>
    AdamW SetUp(StageRecipe stage, int index)
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

    public void Dispose() => current?.Dispose();
}
