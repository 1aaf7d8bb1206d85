using System.Globalization;
using System.Text;
using CultureMert.Batch;
using CultureMert.Corpus;
using CultureMert.Embedding;
using CultureMert.Evaluation;
using CultureMert.Checkpoints;
using CultureMert.Merging;
using CultureMert.Model;
using CultureMert.Pretraining;
using CultureMert.Teachers;
using CultureMert.IO;

namespace CultureMert.Study;

/// <summary>The sizes of a study run: the demo's default, <c>--quick</c> (tests) and <c>--full</c> (an hour); and where it computes.</summary>
public sealed record StudyOptions
{
    public string Preset { get; init; } = "tiny";
    public int PiecesPerCulture { get; init; } = 60;
    public int TopClasses { get; init; } = 6;
    public double SecondsPerClip { get; init; } = 10;
    public int ClipsPerPiece { get; init; } = 2;
    public int KMeansK { get; init; } = 64;
    // The default fits 15 minutes on 2 cores with 3 pre-training seeds of every model: 1-s crops in batches of 4 keep a
    // step near 0.1 s (the per-crop CQT target dominates it), and the steps are few; the report says what that size can test.
    public double CropSeconds { get; init; } = 1;
    public int BatchSize { get; init; } = 4;
    public int BaseSteps { get; init; } = 300;
    public int Stage1Steps { get; init; } = 35;
    public int Stage2Steps { get; init; } = 70;
    public double[] Lambdas { get; init; } = [0.2, 0.5];
    /// <summary>The merge methods swept over <see cref="Lambdas"/> (with their default densities); method and λ are chosen
    /// on validation. Task arithmetic (the paper's), TIES, and three that need no pruning fraction: Model Stock, TSV-Merge
    /// and Iso-C. SLERP is left out: it merges two models, and the study has three non-Western cultures.</summary>
    public MergeMethod[] MergeMethods { get; init; } = [MergeMethod.TaskArithmetic, MergeMethod.Ties, MergeMethod.ModelStock, MergeMethod.Tsv, MergeMethod.IsoC];
    /// <summary>Rounds of re-merging in the repeated-merge study (the merged model merged again with the culture models;
    /// round 1 is the one-shot merge); 1 turns the repeated-merge study off.</summary>
    public int RemergeRounds { get; init; } = 4;
    /// <summary>Probe seeds per model and task, nested inside each pre-training seed. One by default: the intervals are
    /// over pre-training seeds, whose spread already contains the probe's, and a second probe seed doubled the probing time.</summary>
    public int Seeds { get; init; } = 1;
    /// <summary>Pre-training runs per model (the unit of replication): every interval of the report is over these.</summary>
    public int PretrainSeeds { get; init; } = 3;
    /// <summary>Pre-training seeds whose single-culture CPTs are probed for the culture × culture transfer map (all are
    /// trained: task arithmetic merges them); null: every seed. One by default: the map is descriptive (no verdict rests
    /// on it), and probing the other seeds' 48 cells took a fifth of the default demo's time.</summary>
    public int? TransferSeeds { get; init; } = 1;
    /// <summary>Equivalence margin (points ×100 of the mean ROC-AUC and AP): "on par" and "no forgetting" are claimed only
    /// when the 90 % interval of the difference lies inside ±this (TOST, α = 0.05). Fixed in plan.json at the first run.</summary>
    public double EquivalenceMargin { get; init; } = 1.0;
    /// <summary>Which cultures' training audio the k-means teacher is fitted on (default: the Western ones, as MERT's
    /// teachers never heard the new cultures).</summary>
    public TeacherData TeacherData { get; init; } = TeacherData.Western;
    public int MaxEpochs { get; init; } = 100;
    public int Seed { get; init; } = 0;
    /// <summary>A folder for corpus, teacher and targets shared by several studies (a scale sweep); null: the study's own.</summary>
    public string? SharedRoot { get; init; }
    /// <summary>Where every step computes: teacher, pre-training, merging, embedding and probing (null: the CPU).</summary>
    public TorchSharp.torch.Device? Device { get; init; }

    public static StudyOptions Default => new();

    public static StudyOptions Quick => new()
    {
        PiecesPerCulture = 10, TopClasses = 2, SecondsPerClip = 3, ClipsPerPiece = 1, KMeansK = 16, CropSeconds = 1, BatchSize = 4,
        BaseSteps = 12, Stage1Steps = 4, Stage2Steps = 6, Lambdas = [0.2, 0.5], Seeds = 2, PretrainSeeds = 2, MaxEpochs = 10,
        MergeMethods = [MergeMethod.TaskArithmetic, MergeMethod.IsoC], RemergeRounds = 3,
    };

    /// <summary>Ten times the default's pre-training steps, nothing else changed: the scale sweep's point <c>x10</c>
    /// (about an hour on 2 cores). The largest size measured here; <c>--scale</c> goes further.</summary>
    public static StudyOptions Full => new() { BaseSteps = 3000, Stage1Steps = 350, Stage2Steps = 700 };
}

/// <summary>The audio a study's k-means teacher is fitted on.</summary>
public enum TeacherData
{
    /// <summary>The Western cultures' training clips only: the base's targets know nothing of the other cultures.</summary>
    Western,
    /// <summary>Every culture's training clips (a tokenizer that favours no tradition; the base's targets then encode all of them).</summary>
    All,
}

/// <summary>What a study wrote and found.</summary>
public sealed record StudyResult(string Report, TimeSpan WallTime, IReadOnlyList<string> Findings);

/// <summary>
/// CultureMERT's study in miniature, end to end: corpus → k-means teacher and target cache → a base MERT pre-trained
/// from scratch on the Western cultures only (the stand-in for MERT-v1) → multi-culture two-stage continual pre-training
/// with 20 % Western replay → one single-culture CPT per non-Western culture → merges of those (methods × λ) → probing
/// of every model on every culture's tagging task over seeds (the ladder's models also on its class and retrieval tasks)
/// → the chosen merge repeated (orderings, re-merge rounds) and probed → <c>REPORT.md</c>.
/// </summary>
/// <remarks>
/// Every step is a library call that the CLI also exposes (<c>corpus build</c>, <c>teacher fit-kmeans</c>,
/// <c>tokenize</c>, <c>tokens stats</c>, <c>pretrain</c>, <c>merge</c>, <c>evaluate</c>) and keeps its own outputs, so
/// a second run resumes: finished pre-training runs, clips, token files and probe cells are reused.
/// </remarks>
public static class CultureStudy
{
    /// <summary>The phases <see cref="Run"/> goes through, each logged as a line "== name" when it starts.</summary>
    public const int PhaseCount = 7;

    public static StudyResult Run(IReadOnlyList<MusicPiece> pieces, string outDir, StudyOptions o, Func<MusicPiece, double, float[]> render,
                                  Action<string> log, CancellationToken cancel = default)
    {
        var phases = new StudyPhases(log, cancel);
        var paths = new StudyPaths(outDir, o.SharedRoot);
        using var held = FolderLock.Acquire(outDir);
        var corpusOptions = new CorpusOptions(o.SecondsPerClip, o.ClipsPerPiece, o.Seed);
        var corpus = phases.Run("corpus", () => CorpusBuilder.Build(pieces, paths.Corpus, corpusOptions, render, log, cancel));
        var cultures = StudyCultures.Of(corpus, corpusOptions);
        StudyPlanFile.FixOrCheck(paths.Plan, o);
        var tokens = phases.Run("teacher and targets", () => TeacherAndTargets(corpus, cultures, paths, o, log, cancel));
        phases.Run("pre-training", () =>
        {
            foreach (var (run, recipe) in new StudyRecipes(paths, cultures, o).All()) Pretrain(run, recipe, paths, o, log, cancel);
        });
        var models = phases.Run("merging", () => RandomInits(paths, o).Concat(Merge(paths, cultures, o, log)).Concat(Trained(paths, cultures, o)).ToList());
        var tasks = corpus.TaskManifests.Select(EvalTask.FromManifest).OrderBy(t => t.Western).ThenBy(t => t.Name, StringComparer.Ordinal).ToList();
        var evaluate = EvaluateOptionsOf(o);
        var cells = phases.Run("probing", () =>
        {
            // The merge sweep and the single-culture CPTs are probed on the tagging tasks only: the merge is chosen there.
            var onTagging = models.Where(m => m.Merge is not null || m.Role.StartsWith("cpt-") && m.Role != "cpt-multi").ToList();
            var found = Probe(models.Except(onTagging), tasks, paths, evaluate, log, cancel);
            found.AddRange(Probe(onTagging, [.. tasks.Where(t => t.Tagging)], paths, evaluate, log, cancel));
            found.AddRange(ProbeHandcrafted(tasks, paths, evaluate, log, cancel));
            return found;
        });
        var chosen = new StudyScores(paths.Evaluation, models, tasks, cells, o.PretrainSeeds, o.EquivalenceMargin);
        var repeated = phases.Run("repeated merges", () => Repeat(models.Where(m => m.Role == chosen.BestTa).ToList(), paths, cultures, o, log));
        phases.Run("probing the chosen and repeated merges", () =>
        {
            var picked = models.Where(m => m.Role == chosen.BestTa || m.Role == chosen.BestMerge).ToList();
            cells.AddRange(Probe(picked, [.. tasks.Where(t => !t.Tagging)], paths, evaluate, log, cancel));
            cells.AddRange(Probe(repeated.Models, [.. tasks.Where(t => t.Tagging && !t.Western)], paths, evaluate, log, cancel));
        });
        models.AddRange(repeated.Models);
        EvaluateReport.Write(paths.Evaluation, [.. models.Select(m => new EvalModel(m.Name, m.Dir))], tasks, cells);
        var findings = StudyReport.Write(paths, corpus, cultures, [.. models, new StudyModel(HandcraftedRole, -1, "")], tasks, cells, repeated, tokens, o, phases.Times, phases.Elapsed);
        log($"wrote {paths.Report} ({phases.Elapsed:mm\\:ss})");
        return new StudyResult(paths.Report, phases.Elapsed, findings);
    }

    /// <summary>The k-means teacher, fitted on the Western training audio (or every culture's, <see cref="TeacherData.All"/>),
    /// the target cache of every clip, and the token statistics by culture (written, and returned with the per-piece counts
    /// that the report's token-transfer section resamples).</summary>
    private static TokenStatistics TeacherAndTargets(CorpusSummary corpus, StudyCultures cultures, StudyPaths paths, StudyOptions o, Action<string> log, CancellationToken cancel)
    {
        var train = corpus.Clips.Where(c => c.Split == "train" && (o.TeacherData == TeacherData.All || cultures.Western.Contains(c.Culture))).Select(c => c.Path).ToList();
        if (!File.Exists(paths.Teacher))
            using (var fitted = KMeansTeacher.Fit(train, new KMeansFitOptions { K = o.KMeansK, Seed = o.Seed }.Validate(), null, o.Device)) fitted.Save(paths.Teacher);
        using var teacher = KMeansTeacher.Load(paths.Teacher, o.Device);
        using var cqt = new MertCqt();
        var job = new TokenizeJob(teacher, cqt, paths.Targets, overwrite: false);
        var rows = job.Run(BatchJob.Plan([Path.Combine(paths.Corpus, "audio")], paths.Targets), cancel: cancel);
        foreach (var bad in rows.Where(r => r.Status == "error")) log($"warning: {bad.Error}");
        var cultureCsv = Path.Combine(paths.Tokens, "cultures.csv");
        Csv.Write(cultureCsv, ["path", "culture", "piece"], corpus.Clips.Select(c => new[] { c.Path, c.Culture, c.PieceId }));
        var tokens = TokenStatistics.Compute([paths.Targets], cultureCsv, keepPieces: true);
        tokens.Write(paths.Tokens);
        return tokens;
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

    /// <summary>Per pre-training seed, the base's initial weights saved as a model folder: the ladder's lowest rung.</summary>
    private static IEnumerable<StudyModel> RandomInits(StudyPaths paths, StudyOptions o)
    {
        for (var k = 0; k < o.PretrainSeeds; k++)
        {
            var dir = paths.RandomInit(k);
            if (!File.Exists(Path.Combine(dir, "model.safetensors")))
                using (var model = new MertModel(MertConfig.Preset(o.Preset)).InitializeWeights(o.Seed + k))      // = the base recipe's init
                    MertCheckpoint.Save(model, dir);
            yield return new StudyModel("random", k, dir);
        }
    }

    /// <summary>Every merge method of the sweep over each seed's single-culture CPTs' task vectors, one merge per λ; a
    /// finished merge (its weights written) is reused.</summary>
    private static IEnumerable<StudyModel> Merge(StudyPaths paths, StudyCultures cultures, StudyOptions o, Action<string> log)
    {
        for (var k = 0; k < o.PretrainSeeds; k++)
            foreach (var method in o.MergeMethods)
            {
                var options = new MergeOptions { Method = method, Lambdas = o.Lambdas }.Validate(cultures.Others.Count);
                var dirs = MergeOnce(paths.Export(StudyModel.RunName("base", k), "western-base"), Singles(paths, cultures, k), options,
                                     Path.Combine(paths.Merges, $"s{k}", method.Name()), log, o.Device);
                for (var i = 0; i < o.Lambdas.Length; i++)
                {
                    var merge = new StudyMerge(method, o.Lambdas[i]);
                    yield return new StudyModel(merge.Role, k, dirs[i], merge);
                }
            }
    }

    /// <summary>Seed <paramref name="seed"/>'s single-culture CPT models, in the cultures' order.</summary>
    private static List<string> Singles(StudyPaths paths, StudyCultures cultures, int seed) =>
        [.. cultures.Others.Select(c => paths.Export(StudyModel.RunName($"cpt-{c}", seed), "adapt"))];

    /// <summary><see cref="MergeJob.Run"/> unless every output folder already holds its weights (written last, so a folder
    /// with weights is a finished merge). Returns the output folders, one per λ.</summary>
    private static IReadOnlyList<string> MergeOnce(string baseDir, IReadOnlyList<string> models, MergeOptions options, string outDir, Action<string> log,
                                                   TorchSharp.torch.Device? device)
    {
        var outputs = options.Lambdas.Select(l => MergeJob.OutputDir(outDir, options, l)).ToList();
        if (outputs.All(d => File.Exists(Path.Combine(d, "model.safetensors")))) return outputs;
        return MergeJob.Run(baseDir, models, options, outDir, log, device).OutputDirs;
    }

    /// <summary>
    /// CultureMERT's open question whether merging stays stable when repeated, at the task-arithmetic λ chosen on
    /// validation, per pre-training seed: (a) order — the left fold merge(merge(A, B), C) with each culture joining last
    /// (the methods are symmetric in their models, so these are all the distinct orderings of three), (b) re-merging —
    /// round k merges round k − 1's model again with every culture model (round 1 is the one-shot merge). The weight-space
    /// measures come from <see cref="MergeStability"/>; the merged models are probed like every other.
    /// </summary>
    /// <param name="oneShot">the chosen task-arithmetic merge of every pre-training seed (none: nothing was chosen)</param>
    private static RepeatedMerges Repeat(List<StudyModel> oneShot, StudyPaths paths, StudyCultures cultures, StudyOptions o, Action<string> log)
    {
        if (oneShot.Count == 0 || o.RemergeRounds < 2 || cultures.Others.Count < 2) return new RepeatedMerges(null, [], [], []);
        var ta = oneShot[0].Merge!;
        var kinds = cultures.Others.Select(RepeatedMerge.Fold).Concat(Enumerable.Range(2, o.RemergeRounds - 1).Select(RepeatedMerge.Remerge)).ToList();
        var (models, rows) = (new List<StudyModel>(), new List<(int, StabilityRow)>());
        var options = new MergeOptions { Method = MergeMethod.TaskArithmetic, Lambdas = [ta.Lambda] };
        string Merged(string baseDir, List<string> inputs, string dir) => MergeOnce(baseDir, inputs, options.Validate(inputs.Count), dir, _ => { }, o.Device)[0];
        for (var k = 0; k < o.PretrainSeeds; k++)
        {
            var baseDir = paths.Export(StudyModel.RunName("base", k), "western-base");
            var singles = Singles(paths, cultures, k);
            var root = Path.Combine(paths.Merges, "repeated", $"s{k}");
            for (var last = 0; last < singles.Count; last++)
            {
                var order = singles.Where((_, i) => i != last).Append(singles[last]).ToList();
                var folded = order[0];
                for (var j = 1; j < order.Count; j++)
                    folded = Merged(baseDir, [folded, order[j]], Path.Combine(root, $"last-{cultures.Others[last]}", $"step-{j}"));
                models.Add(new StudyModel(RepeatedMerge.Fold(cultures.Others[last]).Role, k, folded));
            }
            var again = oneShot.Single(m => m.Seed == k).Dir;
            for (var round = 2; round <= o.RemergeRounds; round++)
            {
                again = Merged(baseDir, [again, .. singles], Path.Combine(root, $"round-{round}"));
                models.Add(new StudyModel(RepeatedMerge.Remerge(round).Role, k, again));
            }
            var measured = MergeStability.Run(baseDir, singles, options.Validate(singles.Count), o.RemergeRounds, names: cultures.Others);
            MergeStability.Write(measured, root);
            rows.AddRange(measured.Select(r => (k, r)));
            log($"  [repeated merges s{k}] {singles.Count} orderings, {o.RemergeRounds - 1} re-merge rounds at λ = {ta.Lambda.ToString(CultureInfo.InvariantCulture)}");
        }
        return new RepeatedMerges(ta, kinds, models, rows);
    }

    /// <summary>The pre-trained models to probe: base, control and multi-culture CPT of every seed; the single-culture CPTs of the first <see cref="StudyOptions.TransferSeeds"/>.</summary>
    private static IEnumerable<StudyModel> Trained(StudyPaths paths, StudyCultures cultures, StudyOptions o)
    {
        for (var k = 0; k < o.PretrainSeeds; k++)
        {
            yield return new StudyModel("base", k, paths.Export(StudyModel.RunName("base", k), "western-base"));
            var singles = k < (o.TransferSeeds ?? o.PretrainSeeds) ? cultures.Others.Select(c => $"cpt-{c}") : [];
            foreach (var role in new[] { "control", "cpt-multi" }.Concat(singles))
                yield return new StudyModel(role, k, paths.Export(StudyModel.RunName(role, k), "adapt"));
        }
    }

    /// <summary>The evaluation settings of every probing cell of the study.</summary>
    private static EvaluateOptions EvaluateOptionsOf(StudyOptions o) => new()
    {
        Embed = new EmbedOptions { ChunkSeconds = Math.Min(5, o.SecondsPerClip) },
        Probe = new ProbeOptions { Seeds = o.Seeds, Settings = new ProbeSettings { MaxEpochs = o.MaxEpochs } },
        Device = o.Device,
    };

    /// <summary>Probes the models on the tasks (cells finished earlier are skipped: the evaluation resumes).</summary>
    private static List<EvalCell> Probe(IEnumerable<StudyModel> models, List<EvalTask> tasks, StudyPaths paths, EvaluateOptions options, Action<string> log, CancellationToken cancel) =>
        new EvaluateJob([.. models.Select(m => new EvalModel(m.Name, m.Dir))], tasks, paths.Evaluation, options).Run(new SyncProgress<string>(line => log("  " + line)), cancel);

    /// <summary>The ladder's hand-crafted rung: MFCC + chroma statistics per chunk instead of a model's embeddings, the same
    /// probe and selection; a finished task (results.json present) is skipped.</summary>
    private static IEnumerable<EvalCell> ProbeHandcrafted(List<EvalTask> tasks, StudyPaths paths, EvaluateOptions options, Action<string> log, CancellationToken cancel)
    {
        var embeddingsName = EvaluateJob.EmbeddingsNames(tasks);
        foreach (var t in tasks)
        {
            cancel.ThrowIfCancellationRequested();
            var probeDir = Path.Combine(paths.Evaluation, "probes", HandcraftedRole, t.Name);
            if (File.Exists(Path.Combine(probeDir, "results.json"))) { yield return new EvalCell(HandcraftedRole, t.Name, "skipped", null, probeDir); continue; }
            var embDir = Path.Combine(paths.Evaluation, "embeddings", HandcraftedRole, embeddingsName[t.Name]);
            HandcraftedFeatures.Embed([t.Manifest], embDir, options.Embed.ChunkSeconds, options.Device);
            ProbeResults? results = null;
            string? error = null;
            try { results = ProbeRunner.Run(ProbeDataset.Load(t.Manifest, embDir, options.Task), options.Probe, null, options.Device); }
            catch (InvalidDataException e) { error = e.Message; }           // data the task cannot score: as in the evaluate grid, the cell fails, the study goes on
            if (results is null)
            {
                log($"  {HandcraftedRole} × {t.Name}: failed: {error}");
                yield return new EvalCell(HandcraftedRole, t.Name, "error", error, probeDir);
                continue;
            }
            ProbeReport.Write(probeDir, results);
            log($"  {HandcraftedRole} × {t.Name}: done ({results.Headline()})");
            yield return new EvalCell(HandcraftedRole, t.Name, "ok", null, probeDir);
        }
    }

    /// <summary>The hand-crafted rung's name: it has no pre-training seed (<see cref="StudyModel.Seed"/> −1).</summary>
    internal const string HandcraftedRole = "handcrafted";
}

/// <summary>
/// One kind of repeated merge, a model per pre-training seed: the left fold in which a culture joins last, or a round of
/// re-merging (round 1 is the one-shot merge itself). <paramref name="Measures"/> picks its rows of <see cref="MergeStability"/>.
/// </summary>
/// <param name="Round">the re-merge round, 0 for a fold</param>
internal sealed record RepeatedMerge(string Role, string Label, int Round, Func<StabilityRow, bool> Measures)
{
    public static RepeatedMerge Fold(string lastCulture) => new($"fold-last-{lastCulture}", $"fold, {lastCulture} last", 0,
        r => r.Scenario == "order" && r.Sequence.EndsWith(">" + lastCulture, StringComparison.Ordinal) && r.Step == r.Sequence.Count(c => c == '>'));

    public static RepeatedMerge Remerge(int round) => new($"remerge-{round}", round == 1 ? "one-shot merge (round 1)" : $"re-merge round {round}", round,
        r => r.Scenario == "remerge" && r.Step == round);
}

/// <summary>The repeated-merge study's kinds of merge (in the report's order), their models and weight-space rows (per
/// pre-training seed); empty when there is no chosen task-arithmetic merge or fewer than two rounds.</summary>
/// <param name="Merge">the merge repeated: task arithmetic at the λ chosen on validation</param>
internal sealed record RepeatedMerges(StudyMerge? Merge, List<RepeatedMerge> Kinds, List<StudyModel> Models, List<(int Seed, StabilityRow Row)> Rows);
