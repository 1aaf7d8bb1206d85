namespace CultureMert.Pretraining;

/// <summary>How a stage's LR falls from its peak to its floor after the warm-up. Recipes spell it in lower case
/// (<c>"linear"</c>, <c>"cosine"</c>); <see cref="Recipe.Load"/> parses it.</summary>
public enum LrDecay { Linear, Cosine }

/// <summary>One stage of a multi-stage continual-pre-training schedule (spec mert.md §7: MERT itself is one stage,
/// linear warm-up over 32,000 updates to 5e-4, then linear decay to 0).</summary>
/// <param name="Steps">updates in this stage (warm-up included), &gt; 0</param>
/// <param name="WarmupSteps">re-warm-up updates at the start of the stage, 0 ≤ WarmupSteps ≤ Steps</param>
/// <param name="PeakLr">LR reached at the end of the warm-up</param>
/// <param name="FloorLr">LR reached at the last step of the stage (0 ≤ FloorLr ≤ PeakLr)</param>
public sealed record StageSchedule(int Steps, int WarmupSteps, double PeakLr, double FloorLr, LrDecay Decay);

/// <summary>The learning rate as a pure function of the global (0-based) step (spec style.md, "A training loop that fits on one screen").</summary>
/// <remarks>
/// Convention: the LR used for 0-based local step s equals fairseq <c>polynomial_decay</c> (power 1) evaluated at
/// update count s + 1, i.e. the step is counted <em>after</em> it is taken. So warm-up step s gives peak·(s+1)/warmup
/// (first step peak/warmup — fairseq's own first update also uses peak/warmup — last warm-up step exactly peak), and the
/// decay part reaches the floor exactly on the last step of the stage. fairseq writes lr = peak·step/warmup with
/// step = completed updates; ours is that shifted by one so no step trains with LR 0.
/// Every stage re-warms from ~0 and re-decays: continual pre-training restarts the schedule per stage.
/// </remarks>
public static class LearningRateSchedule
{
    /// <returns>(index of the stage that <paramref name="globalStep"/> falls into, learning rate); past the last
    /// stage: (last index, last stage's floor).</returns>
    public static (int Stage, double Lr) At(IReadOnlyList<StageSchedule> stages, int globalStep)
    {
        Validate(stages);
        if (globalStep < 0) throw new ArgumentException($"globalStep must be ≥ 0, got {globalStep}.", nameof(globalStep));

        var start = 0;
        for (var i = 0; i < stages.Count; i++)
        {
            var st = stages[i];
            if (globalStep < start + st.Steps) return (i, WithinStage(st, globalStep - start));
            start += st.Steps;
        }
        // 3. floor: past the end of the last stage
        return (stages.Count - 1, stages[^1].FloorLr);
    }

    private static double WithinStage(StageSchedule st, int s)
    {
        // 1. warm-up: linear from 0 (exclusive) to peak (inclusive)
        if (s < st.WarmupSteps) return st.PeakLr * (s + 1) / st.WarmupSteps;

        // 2. decay: p = progress through the decay part, (0, 1]; p = 1 on the last step of the stage
        var decaySteps = st.Steps - st.WarmupSteps;
        var p = (double)(s - st.WarmupSteps + 1) / decaySteps;
        var span = st.PeakLr - st.FloorLr;
        return st.Decay switch
        {
            LrDecay.Linear => st.FloorLr + span * (1 - p),
            LrDecay.Cosine => st.FloorLr + span * (1 + Math.Cos(Math.PI * p)) / 2,
            _ => throw new ArgumentException($"unknown decay {st.Decay}"),
        };
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad stage.</summary>
    public static void Validate(IReadOnlyList<StageSchedule> stages)
    {
        ArgumentNullException.ThrowIfNull(stages);
        if (stages.Count == 0) throw new ArgumentException("at least one stage is required.", nameof(stages));
        for (var i = 0; i < stages.Count; i++)
        {
            var st = stages[i] ?? throw new ArgumentException($"stage {i} is null.", nameof(stages));
            string? why =
                st.Steps <= 0 ? $"Steps must be > 0 (got {st.Steps})" :
                st.WarmupSteps < 0 || st.WarmupSteps > st.Steps ? $"WarmupSteps must be in [0, Steps={st.Steps}] (got {st.WarmupSteps})" :
                !double.IsFinite(st.PeakLr) || st.PeakLr <= 0 ? $"PeakLr must be finite and > 0 (got {st.PeakLr})" :
                !double.IsFinite(st.FloorLr) || st.FloorLr < 0 || st.FloorLr > st.PeakLr ? $"FloorLr must be in [0, PeakLr={st.PeakLr}] (got {st.FloorLr})" :
                !Enum.IsDefined(st.Decay) ? $"Decay must be one of {string.Join(", ", Enum.GetNames<LrDecay>())} (got {(int)st.Decay})" :
                null;
            if (why is not null) throw new ArgumentException($"stage {i}: {why}.", nameof(stages));
        }
    }
}
