namespace CultureMert.Pretraining;

/// <summary>
/// The recipe's stages laid end to end on the step axis: which stage and learning rate a step has, and where each
/// stage starts and ends. Steps count from 0 over the whole run.
/// </summary>
public sealed class StagePlan(Recipe recipe)
{
    readonly IReadOnlyList<StageSchedule> schedules = recipe.Schedules;
    readonly int[] starts = recipe.Stages.Select((s, i) => recipe.Stages.Take(i).Sum(x => x.Steps)).ToArray();

    /// <summary>The stage of <paramref name="step"/> and its learning rate (re-warmed and re-decayed in every stage).</summary>
    public (int Index, StageRecipe Stage, double Lr) At(int step)
    {
        var (index, lr) = LearningRateSchedule.At(schedules, step);
        return (index, recipe.Stages[index], lr);
    }

    /// <summary>Steps done once stage <paramref name="index"/> is finished.</summary>
    public int EndOf(int index) => starts[index] + recipe.Stages[index].Steps;

    /// <summary>The name of the stage <paramref name="step"/> falls in (the last one past the end).</summary>
    public string NameAt(int step) => recipe.Stages[Math.Min(starts.Count(s => s <= step) - 1, recipe.Stages.Count - 1)].Name;

    /// <summary>Each stage's name and first step, for the plot's stage boundaries.</summary>
    public IReadOnlyList<(string Name, int FirstStep)> FirstSteps => recipe.Stages.Select((s, i) => (s.Name, starts[i])).ToList();
}
