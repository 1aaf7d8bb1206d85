using System.Diagnostics;
using CultureMert.Corpus;
using CultureMert.Merging;

namespace CultureMert.Study;

/// <summary>Where a study keeps each step's outputs under its folder; every step resumes from what is there.</summary>
/// <param name="Shared">where corpus, teacher, targets and token statistics live when several studies share them (a scale
/// sweep); null: under <paramref name="Root"/></param>
internal sealed record StudyPaths(string Root, string? Shared = null)
{
    string Data => Shared ?? Root;
    public string Corpus => Path.Combine(Data, "corpus");
    public string Teacher => Path.Combine(Data, "teacher", "kmeans.safetensors");
    public string Targets => Path.Combine(Data, "targets");
    /// <summary>The token statistics (<c>culturemert tokens stats</c>): divergences and the JSD heat map.</summary>
    public string Tokens => Path.Combine(Data, "tokens");
    public string Runs => Path.Combine(Root, "runs");
    public string Merges => Path.Combine(Root, "merges");
    public string Evaluation => Path.Combine(Root, "evaluation");
    public string Report => Path.Combine(Root, "REPORT.md");
    /// <summary>What the study fixed before its first run (seeds, equivalence margin, teacher data); later runs must agree.</summary>
    public string Plan => Path.Combine(Root, "plan.json");
    /// <summary>Every probe run's numbers, one row per model × task × probe seed: what every interval is recomputed from.</summary>
    public string ScoresCsv => Path.Combine(Root, "scores.csv");
    /// <summary>Every paired comparison's per-pre-training-seed differences: the rows behind each Δ and its interval.</summary>
    public string ComparisonsCsv => Path.Combine(Root, "comparisons.csv");
    /// <summary>A randomly initialised model of the base's shape, with the base's initial weights of seed <paramref name="seed"/>.</summary>
    public string RandomInit(int seed) => Path.Combine(Root, "random-init", $"s{seed}");

    /// <summary>A pre-training run's recipe, as <c>culturemert pretrain --recipe</c> reads it.</summary>
    public string Recipe(string run) => Path.Combine(Root, "recipes", run + ".json");
    public string Run(string run) => Path.Combine(Runs, run);
    /// <summary>The HF folder a run exported at the end of a stage.</summary>
    public string Export(string run, string stage) => Path.Combine(Runs, run, "stages", stage);
}

/// <summary>What a model of the study is: its role in the comparison and the pre-training seed it descends from.</summary>
/// <remarks>Roles: <c>random</c> (the base's initial weights), <c>base</c>, <c>control</c> (the base continued on Western
/// data for as many steps as CPT), <c>cpt-multi</c>, <c>ta-λ</c> (task-arithmetic merges), <c>cpt-CULTURE</c>.</remarks>
/// <param name="Merge">the merge that made it, for a merge of the sweep (null for every other model)</param>
internal sealed record StudyModel(string Role, int Seed, string Dir, StudyMerge? Merge = null)
{
    /// <summary>The model's name in the evaluation (its folder under <c>evaluation/probes/</c>).</summary>
    /// <summary>Seed −1: a rung with nothing pre-trained (the hand-crafted features), the same at every pre-training seed.</summary>
    public string Name => Seed < 0 ? Role : $"{Role}-s{Seed}";
    public static string RunName(string role, int seed) => $"{role}-s{seed}";
}

/// <summary>A merge setting of the study's sweep: its method and λ, and its role name ("ta-0.2" for task arithmetic, as
/// in the paper's figures; "ties-0.5", "iso-c-0.2" … for the others).</summary>
internal sealed record StudyMerge(MergeMethod Method, double Lambda)
{
    public string Role => $"{(Method == MergeMethod.TaskArithmetic ? "ta" : Method.Name())}-{Lambda.ToString(System.Globalization.CultureInfo.InvariantCulture)}";

    /// <summary>"task-arithmetic, λ = 0.2", for tables.</summary>
    public string Label => $"{Method.Name()}, λ = {Lambda.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
}

/// <summary>The corpus's cultures as the study uses them: the Western ones (the base model's data, replayed in
/// stage 1) and the others (what continual pre-training adapts to); each list in ordinal order.</summary>
internal sealed record StudyCultures(IReadOnlyList<string> All, IReadOnlyList<string> Western, IReadOnlyList<string> Others)
{
    public static StudyCultures Of(CorpusSummary corpus, CorpusOptions options)
    {
        var all = corpus.Clips.Select(c => c.Culture).Distinct().Order(StringComparer.Ordinal).ToList();
        var western = all.Where(options.Western.Contains).ToList();
        var others = all.Except(western).ToList();
        if (western.Count == 0 || others.Count == 0) throw new InvalidDataException("the study needs Western and non-Western cultures in the corpus.");
        return new StudyCultures(all, western, others);
    }
}

/// <summary>The study's phases in order: each is announced in the log, timed for the report, and followed by a stop
/// when cancellation was requested (the next run resumes from the phase's outputs).</summary>
internal sealed class StudyPhases(Action<string> log, CancellationToken cancel)
{
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private readonly List<(string Phase, TimeSpan Time)> times = [];

    public IReadOnlyList<(string Phase, TimeSpan Time)> Times => times;
    public TimeSpan Elapsed => clock.Elapsed;

    public T Run<T>(string name, Func<T> body)
    {
        log($"== {name}");
        var start = clock.Elapsed;
        var result = body();
        times.Add((name, clock.Elapsed - start));
        cancel.ThrowIfCancellationRequested();
        return result;
    }

    public void Run(string name, Action body) => Run(name, () => { body(); return 0; });
}

/// <summary>
/// <c>plan.json</c>: what the study commits to before any model is trained — the equivalence margin, the seeds, the
/// teacher's data and the λ grid. Written at the first run; a later run into the same folder must agree, so a margin
/// cannot be widened after the numbers are in.
/// </summary>
internal static class StudyPlanFile
{
    public static void FixOrCheck(string path, StudyOptions o)
    {
        var plan = new System.Text.Json.Nodes.JsonObject
        {
            ["equivalence_margin"] = o.EquivalenceMargin,
            ["pretrain_seeds"] = o.PretrainSeeds,
            ["probe_seeds"] = o.Seeds,
            ["transfer_map_seeds"] = o.TransferSeeds ?? o.PretrainSeeds,
            ["teacher_data"] = o.TeacherData.ToString().ToLowerInvariant(),
            ["lambdas"] = new System.Text.Json.Nodes.JsonArray([.. o.Lambdas.Select(l => (System.Text.Json.Nodes.JsonNode?)l)]),
            ["merge_methods"] = new System.Text.Json.Nodes.JsonArray([.. o.MergeMethods.Select(m => (System.Text.Json.Nodes.JsonNode?)m.Name())]),
            ["remerge_rounds"] = o.RemergeRounds,
            ["selection"] = "merge method, lambda, probe layer and learning rate on the validation split; the test split is read once",
        };
        var text = plan.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n";
        if (!File.Exists(path)) { IO.AtomicFile.WriteText(path, text); return; }
        if (File.ReadAllText(path) != text)
            throw new InvalidDataException($"{path}: this study was begun with another plan (equivalence margin, seeds, teacher data or λ grid); " +
                                           "a plan is fixed before the results are seen. Use a new --out folder to change it.");
    }
}
