using System.Globalization;
using System.Text;
using CultureMert.Batch;
using CultureMert.Corpus;
using CultureMert.Embedding;
using CultureMert.Evaluation;
using CultureMert.Merging;
using CultureMert.Pretraining;
using CultureMert.Teachers;
using CultureMert.IO;

namespace CultureMert.Study;

/// <summary>The sizes of a study run: the demo's default, <c>--quick</c> (tests) and <c>--full</c> (hours); and where it computes.</summary>
public sealed record StudyOptions
{
    public string Preset { get; init; } = "tiny";
    public int PiecesPerCulture { get; init; } = 60;
    public int TopClasses { get; init; } = 6;
    public double SecondsPerClip { get; init; } = 10;
    public int ClipsPerPiece { get; init; } = 2;
    public int KMeansK { get; init; } = 64;
    public double CropSeconds { get; init; } = 2;
    public int BatchSize { get; init; } = 8;
    public int BaseSteps { get; init; } = 1200;
    public int Stage1Steps { get; init; } = 200;
    public int Stage2Steps { get; init; } = 400;
    public double[] Lambdas { get; init; } = [0.1, 0.2, 0.3, 0.5];
    public int Seeds { get; init; } = 5;
    public int MaxEpochs { get; init; } = 100;
    public int Seed { get; init; } = 0;
    /// <summary>Where every step computes: teacher, pre-training, merging, embedding and probing (null: the CPU).</summary>
    public TorchSharp.torch.Device? Device { get; init; }

    public static StudyOptions Default => new();

    public static StudyOptions Quick => new()
    {
        PiecesPerCulture = 10, TopClasses = 2, SecondsPerClip = 3, ClipsPerPiece = 1, KMeansK = 16, CropSeconds = 1, BatchSize = 4,
        BaseSteps = 12, Stage1Steps = 4, Stage2Steps = 6, Lambdas = [0.2], Seeds = 2, MaxEpochs = 10,
    };

    public static StudyOptions Full => new()
    {
        Preset = "small", PiecesPerCulture = 150, TopClasses = 10, ClipsPerPiece = 6, KMeansK = 256, CropSeconds = 5, BatchSize = 8, BaseSteps = 20000, Stage1Steps = 3000, Stage2Steps = 6000,
    };
}

/// <summary>What a study wrote and found.</summary>
public sealed record StudyResult(string Report, TimeSpan WallTime, IReadOnlyList<string> Findings);

/// <summary>
/// CultureMERT's study in miniature, end to end: corpus → k-means teacher and target cache → a base MERT pre-trained
/// from scratch on the Western cultures only (the stand-in for MERT-v1) → multi-culture two-stage continual pre-training
/// with 20 % Western replay → one single-culture CPT per non-Western culture → task-arithmetic merges of those (λ sweep)
/// → probing of every model on every culture's task over seeds → <c>REPORT.md</c>.
/// </summary>
/// <remarks>
/// Every step is a library call that the CLI also exposes (<c>corpus build</c>, <c>teacher fit-kmeans</c>,
/// <c>tokenize</c>, <c>tokens stats</c>, <c>pretrain</c>, <c>merge</c>, <c>evaluate</c>) and keeps its own outputs, so
/// a second run resumes: finished pre-training runs, clips, token files and probe cells are reused.
/// </remarks>
public static class CultureStudy
{
    public static StudyResult Run(IReadOnlyList<MusicPiece> pieces, string outDir, StudyOptions o, Func<MusicPiece, double, float[]> render,
                                  Action<string> log, CancellationToken cancel = default)
    {
        var phases = new StudyPhases(log, cancel);
        var paths = new StudyPaths(outDir);
        Directory.CreateDirectory(outDir);
        var corpusOptions = new CorpusOptions(o.SecondsPerClip, o.ClipsPerPiece, o.Seed);
        var corpus = phases.Run("corpus", () => CorpusBuilder.Build(pieces, paths.Corpus, corpusOptions, render, log, cancel));
        var cultures = StudyCultures.Of(corpus, corpusOptions);
        phases.Run("teacher and targets", () => TeacherAndTargets(corpus, paths, o, log, cancel));
        phases.Run("pre-training", () =>
        {
            foreach (var (run, recipe) in new StudyRecipes(paths, cultures, o).All()) Pretrain(run, recipe, paths, o, log, cancel);
        });
        var mergeDirs = phases.Run("merging", () => Merge(paths, cultures, o, log));
        var models = Models(paths, cultures, o, mergeDirs);
        var tasks = corpus.TaskManifests.Select(EvalTask.FromManifest).OrderBy(t => t.Western).ThenBy(t => t.Name, StringComparer.Ordinal).ToList();
        var cells = phases.Run("probing", () => Probe(models, tasks, paths, o, log, cancel));
        var findings = StudyReport.Write(paths, corpus, cultures, models, tasks, cells, o, phases.Times, phases.Elapsed);
        log($"wrote {paths.Report} ({phases.Elapsed:mm\\:ss})");
        return new StudyResult(paths.Report, phases.Elapsed, findings);
    }

    /// <summary>A k-means teacher fitted on every culture's training audio (a tokenizer that favours no tradition), the
    /// target cache of every clip, and the token statistics by culture.</summary>
    private static void TeacherAndTargets(CorpusSummary corpus, StudyPaths paths, StudyOptions o, Action<string> log, CancellationToken cancel)
    {
        var train = corpus.Clips.Where(c => c.Split == "train").Select(c => c.Path).ToList();
        if (!File.Exists(paths.Teacher))
            using (var fitted = KMeansTeacher.Fit(train, new KMeansFitOptions { K = o.KMeansK, Seed = o.Seed }.Validate(), null, o.Device)) fitted.Save(paths.Teacher);
        using var teacher = KMeansTeacher.Load(paths.Teacher, o.Device);
        using var cqt = new MertCqt();
        var job = new TokenizeJob(teacher, cqt, paths.Targets, overwrite: false);
        var rows = job.Run(BatchJob.Plan([Path.Combine(paths.Corpus, "audio")], paths.Targets), cancel: cancel);
        foreach (var bad in rows.Where(r => r.Status == "error")) log($"warning: {bad.Error}");
        var cultureCsv = Path.Combine(paths.Tokens, "cultures.csv");
        Csv.Write(cultureCsv, ["path", "culture"], corpus.Clips.Select(c => new[] { c.Path, c.Culture }));
        TokenStatistics.Compute([paths.Targets], cultureCsv).Write(paths.Tokens);
    }

    /// <summary>Saves the run's recipe and pre-trains from it as <c>culturemert pretrain --resume</c> would: a finished
    /// run (same recipe text, so same hash) is skipped, a stopped one continues.</summary>
    private static void Pretrain(string run, Recipe recipe, StudyPaths paths, StudyOptions o, Action<string> log, CancellationToken cancel)
    {
        var file = paths.Recipe(run);
        recipe.Save(file);
        var loaded = Recipe.Load(file);
        var every = Math.Max(1, loaded.TotalSteps / 5);
        var progress = new SyncProgress<PretrainProgress>(p =>
        {
            if (p.StepsThisRun > 0 && (p.Step % every == 0 || p.Step == p.StopAt))
                log(FormattableString.Invariant($"  [{run}] step {p.Step}/{p.TotalSteps} ({p.Stage}) loss {p.Loss:F3}, masked accuracy {p.Accuracy:P0}, {p.AudioSecondsPerSecond:F0} audio-s/s") +
                    (p.Eta is { } eta ? $", ETA {eta:mm\\:ss}" : ""));
        });
        var result = Pretrainer.Run(loaded, paths.Run(run), new PretrainOptions(Resume: true, Device: o.Device),
                                    line => { if (!line.StartsWith("source ")) log($"  [{run}] {line}"); }, progress, cancel);
        log($"  [{run}] {(result.Finished ? "done" : "stopped")} at step {result.Step}");
        cancel.ThrowIfCancellationRequested();
    }

    /// <summary>Task arithmetic over the single-culture CPTs' task vectors, one merge per λ.</summary>
    private static IReadOnlyList<string> Merge(StudyPaths paths, StudyCultures cultures, StudyOptions o, Action<string> log)
    {
        var others = cultures.Others;
        var result = MergeJob.Run(paths.Export("base", "western-base"), others.Select(c => paths.Export($"cpt-{c}", "adapt")).ToList(),
                                  new MergeOptions { Method = MergeMethod.TaskArithmetic, Lambdas = o.Lambdas }.Validate(others.Count), paths.Merges, log, o.Device);
        return result.OutputDirs;
    }

    /// <summary>Every model the report compares, in its row order: base, multi-culture CPT, the merges by λ, the single-culture CPTs.</summary>
    private static List<EvalModel> Models(StudyPaths paths, StudyCultures cultures, StudyOptions o, IReadOnlyList<string> mergeDirs)
    {
        var models = new List<EvalModel> { new("base", paths.Export("base", "western-base")), new("cpt-multi", paths.Export("cpt-multi", "adapt")) };
        models.AddRange(o.Lambdas.Select((l, i) => new EvalModel(Inv($"ta-{l}"), mergeDirs[i])));
        models.AddRange(cultures.Others.Select(c => new EvalModel($"cpt-{c}", paths.Export($"cpt-{c}", "adapt"))));
        return models;
    }

    /// <summary>Probes every model on every culture's task over the seeds, and writes the evaluation's own report.</summary>
    private static List<EvalCell> Probe(List<EvalModel> models, List<EvalTask> tasks, StudyPaths paths, StudyOptions o, Action<string> log, CancellationToken cancel)
    {
        var options = new EvaluateOptions
        {
            Embed = new EmbedOptions { ChunkSeconds = Math.Min(5, o.SecondsPerClip) },
            Probe = new ProbeOptions { Seeds = o.Seeds, Settings = new ProbeSettings { MaxEpochs = o.MaxEpochs } },
            Device = o.Device,
        };
        var cells = new EvaluateJob(models, tasks, paths.Evaluation, options).Run(new SyncProgress<string>(line => log("  " + line)), cancel);
        EvaluateReport.Write(paths.Evaluation, models, tasks, cells);
        return cells;
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
