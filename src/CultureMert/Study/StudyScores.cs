using CultureMert.Evaluation;

namespace CultureMert.Study;

/// <summary>
/// The probing numbers a <see cref="StudyReport"/> compares: every model × task cell read back from its results.json,
/// the group averages (the paper's convention: the mean of all ROC-AUC and AP numbers of the group's tasks, ×100) and
/// paired per-seed deltas between models. A model index of −1 means "not in this study".
/// </summary>
internal sealed class StudyScores
{
    public IReadOnlyList<EvalModel> Models { get; }
    public IReadOnlyList<EvalTask> Tasks { get; }
    /// <summary>(model, task) → the cell's scores, null when it was not scored.</summary>
    public CellScores?[,] Cells { get; }
    /// <summary>The task-arithmetic merges ("ta-λ") with their model index, in the models' order.</summary>
    public IReadOnlyList<(string Name, int i)> LambdaModels { get; }
    public int Base { get; }
    public int Multi { get; }
    /// <summary>The merge with the best non-Western average (the first of equals), −1 when there is none.</summary>
    public int BestTa { get; }
    private readonly List<EvaluateReport.Column> columns;

    public StudyScores(string evalDir, IReadOnlyList<EvalModel> models, IReadOnlyList<EvalTask> tasks, IReadOnlyList<EvalCell> results)
    {
        (Models, Tasks) = (models, tasks);
        Cells = new CellScores?[models.Count, tasks.Count];
        for (var m = 0; m < models.Count; m++)
            for (var t = 0; t < tasks.Count; t++)
            {
                var file = Path.Combine(evalDir, "probes", models[m].Name, tasks[t].Name, "results.json");
                if (results.Any(c => c.Model == models[m].Name && c.Task == tasks[t].Name && c.Status is "ok" or "skipped") && File.Exists(file))
                    Cells[m, t] = CellScores.Read(file);
            }
        columns = EvaluateReport.Columns(models, tasks, Cells);
        LambdaModels = models.Select((x, i) => (x.Name, i)).Where(x => x.Name.StartsWith("ta-")).ToList();
        BestTa = LambdaModels.Count == 0 ? -1 : LambdaModels.OrderByDescending(x => double.IsFinite(Avg(x.i, false)) ? Avg(x.i, false) : double.MinValue).First().i;
        (Base, Multi) = (Index("base"), Index("cpt-multi"));
    }

    public int Index(string model) => Models.ToList().FindIndex(x => x.Name == model);

    /// <summary>Model <paramref name="m"/>'s Western or non-Western group average (×100; NaN when a cell is missing).</summary>
    public double Avg(int m, bool western) =>
        columns.FirstOrDefault(c => c.Metric == (western ? "western_avg" : "non_western_avg"))?.Values[m] ?? double.NaN;

    /// <summary>The group average per probe seed (×100); empty when a cell of the group is missing.</summary>
    public double[] SeedAvg(int m, bool western)
    {
        var idx = Enumerable.Range(0, Tasks.Count).Where(t => Tasks[t].Western == western).ToList();
        if (idx.Any(t => Cells[m, t] is null)) return [];
        var n = idx.Min(t => Cells[m, t]!.SeedRocAuc.Length);
        return [.. Enumerable.Range(0, n).Select(s => 100 * idx.SelectMany(t => new[] { Cells[m, t]!.SeedRocAuc[s], Cells[m, t]!.SeedAp[s] }).Average())];
    }

    /// <summary>Model <paramref name="m"/> − model <paramref name="b"/> on a group average, paired by probe seed, with its t interval.</summary>
    public Summary DeltaOf(int m, int b, bool western)
    {
        var (x, y) = (SeedAvg(m, western), SeedAvg(b, western));
        return Summary.Of(x.Zip(y, (p, q) => p - q));
    }
}
