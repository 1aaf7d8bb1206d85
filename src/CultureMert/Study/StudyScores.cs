using System.Globalization;
using CultureMert.Corpus.Datasets;
using CultureMert.Evaluation;
using CultureMert.Merging;

namespace CultureMert.Study;

/// <summary>
/// The probing numbers a <see cref="StudyReport"/> compares, with the pre-training run as the unit of replication: for
/// every role (base, control, cpt-multi, …) one number per pre-training seed, each the mean over the probe seeds nested
/// inside it. Group averages follow the paper: the mean of all ROC-AUC and AP numbers of the group's tasks, ×100.
/// Comparisons pair the pre-training seeds (a CPT of seed k with the base of seed k, from which it continued).
/// </summary>
internal sealed class StudyScores
{
    public IReadOnlyList<StudyModel> Models { get; }
    public IReadOnlyList<EvalTask> Tasks { get; }
    /// <summary>(model, task) → the cell's scores, null when it was not scored.</summary>
    public CellScores?[,] Cells { get; }
    public int PretrainSeeds { get; }
    public double Margin { get; }
    /// <summary>The merge sweep's settings, by method, then λ in the grid's order.</summary>
    public IReadOnlyList<StudyMerge> Merges { get; }
    /// <summary>The task-arithmetic merge chosen on the VALIDATION split (best non-Western validation ROC-AUC averaged over
    /// pre-training seeds, the first of equals); null when there is none. Test numbers play no part in the choice.</summary>
    public string? BestTa { get; }
    /// <summary>The merge of any method and λ chosen the same way.</summary>
    public string? BestMerge { get; }

    public StudyScores(string evalDir, IReadOnlyList<StudyModel> models, IReadOnlyList<EvalTask> tasks, IReadOnlyList<EvalCell> results, int pretrainSeeds, double margin)
    {
        (Models, Tasks, PretrainSeeds, Margin) = (models, tasks, pretrainSeeds, margin);
        Cells = new CellScores?[models.Count, tasks.Count];
        for (var m = 0; m < models.Count; m++)
            for (var t = 0; t < tasks.Count; t++)
            {
                var file = Path.Combine(evalDir, "probes", models[m].Name, tasks[t].Name, "results.json");
                if (results.Any(c => c.Model == models[m].Name && c.Task == tasks[t].Name && c.Status is "ok" or "skipped") && File.Exists(file))
                    Cells[m, t] = CellScores.Read(file);
            }
        Merges = [.. models.Select(x => x.Merge).OfType<StudyMerge>().Distinct()];
        BestTa = Best(Merges.Where(m => m.Method == MergeMethod.TaskArithmetic));
        BestMerge = Best(Merges);
    }

    /// <summary>The role of the merge with the best mean validation score over pre-training seeds (the first of equals).</summary>
    public string? Best(IEnumerable<StudyMerge> merges) =>
        merges.Select(m => (m.Role, Valid: Summary.Of(ValidNonWestern(m.Role)).Mean))
              .Where(x => double.IsFinite(x.Valid)).OrderByDescending(x => x.Valid).Select(x => x.Role).FirstOrDefault();

    /// <summary>The sweep's setting of a merge role, null for any other role.</summary>
    public StudyMerge? MergeOf(string role) => Merges.FirstOrDefault(m => m.Role == role);

    public bool Has(string role) => Models.Any(m => m.Role == role);

    /// <summary>Model index of <paramref name="role"/> at pre-training seed <paramref name="seed"/>, −1 when absent.</summary>
    /// <remarks>A seed-independent model (seed −1, the hand-crafted rung) stands at every seed, so comparisons with it pair each seed with it.</remarks>
    public int Index(string role, int seed) => Models.ToList().FindIndex(x => x.Role == role && (x.Seed == seed || x.Seed < 0));

    /// <summary>Whether the role is the same at every pre-training seed (its spread over seeds is 0 by construction).</summary>
    public bool SeedIndependent(string role) => Models.Any(m => m.Role == role && m.Seed < 0);

    /// <summary>The role's group average over the tagging tasks on the test split, one value per pre-training seed (NaN
    /// where a cell is missing).</summary>
    public double[] Group(string role, bool western) => PerSeed(role, m => GroupOf(m, western, t => t.Tagging, c => [c.RocAuc, c.Ap]));

    /// <summary>The role's non-Western average of the VALIDATION score over the tagging tasks (the probe's selection
    /// metric, ×100), per pre-training seed.</summary>
    public double[] ValidNonWestern(string role) => PerSeed(role, m => GroupOf(m, false, t => t.Tagging, c => [c.Valid]));

    /// <summary>A metric's group average (×100) over the tasks of one declared type, per pre-training seed; each cell
    /// contributes the mean of <paramref name="numbers"/> (its probe seeds' values).</summary>
    public double[] Group(string role, bool western, TaskType type, Func<CellScores, double[]> numbers) =>
        PerSeed(role, m => GroupOf(m, western, t => t.Type == type, c => [numbers(c).Average()]));

    /// <summary>Whether any task of the group has the declared type.</summary>
    public bool HasTasks(bool western, TaskType type) => Tasks.Any(t => t.Western == western && t.Type == type);

    /// <summary>Test ROC-AUC ×100 of one task, per pre-training seed.</summary>
    public double[] TaskRocAuc(string role, int task) => PerSeed(role, m => Cells[m, task] is { } c ? 100 * c.RocAuc : double.NaN);

    /// <summary><paramref name="a"/> − <paramref name="b"/> on a group average, paired by pre-training seed, tested against 0 and the margin.</summary>
    public Equivalence Compare(string a, string b, bool western) => Equivalence.Test(Differences(Group(a, western), Group(b, western)), Margin);

    /// <summary>The same for one task's ROC-AUC.</summary>
    public Equivalence CompareTask(string a, string b, int task) => Equivalence.Test(Differences(TaskRocAuc(a, task), TaskRocAuc(b, task)), Margin);

    public static double[] Differences(double[] a, double[] b) => [.. a.Zip(b, (x, y) => x - y)];

    double[] PerSeed(string role, Func<int, double> value) =>
        [.. Enumerable.Range(0, PretrainSeeds).Select(k => Index(role, k) is var m and >= 0 ? value(m) : double.NaN)];

    double GroupOf(int m, bool western, Func<EvalTask, bool> which, Func<CellScores, double[]> numbers)
    {
        var idx = Enumerable.Range(0, Tasks.Count).Where(t => Tasks[t].Western == western && which(Tasks[t])).ToList();
        if (idx.Count == 0 || idx.Any(t => Cells[m, t] is null)) return double.NaN;
        return 100 * idx.SelectMany(t => numbers(Cells[m, t]!)).Average();
    }


    public static string Inv(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
