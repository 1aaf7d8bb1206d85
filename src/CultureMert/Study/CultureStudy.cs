using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CultureMert.Batch;
using CultureMert.Checkpoints;
using CultureMert.Corpus;
using CultureMert.Embedding;
using CultureMert.Evaluation;
using CultureMert.Merging;
using CultureMert.Pretraining;
using CultureMert.Reports;
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
        var clock = Stopwatch.StartNew();
        var phases = new List<(string Phase, TimeSpan Time)>();
        void Phase(string name, Action body)
        {
            log($"== {name}");
            var t = clock.Elapsed;
            body();
            phases.Add((name, clock.Elapsed - t));
            cancel.ThrowIfCancellationRequested();
        }
        Directory.CreateDirectory(outDir);

        // 1. the corpus
        CorpusSummary corpus = null!;
        var corpusOptions = new CorpusOptions(o.SecondsPerClip, o.ClipsPerPiece, o.Seed);
        Phase("corpus", () => corpus = CorpusBuilder.Build(pieces, Path.Combine(outDir, "corpus"), corpusOptions, render, log, cancel));
        var cultures = corpus.Clips.Select(c => c.Culture).Distinct().Order(StringComparer.Ordinal).ToList();
        var western = cultures.Where(corpusOptions.Western.Contains).ToList();
        var others = cultures.Except(western).ToList();
        if (western.Count == 0 || others.Count == 0) throw new InvalidDataException("the study needs Western and non-Western cultures in the corpus.");

        // 2. teacher (fitted on every culture's training audio: a tokenizer that favours no tradition) and target cache
        var teacherPath = Path.Combine(outDir, "teacher", "kmeans.safetensors");
        var tokens = Path.Combine(outDir, "targets");
        Phase("teacher and targets", () =>
        {
            var train = corpus.Clips.Where(c => c.Split == "train").Select(c => c.Path).ToList();
            if (!File.Exists(teacherPath))
                using (var fitted = KMeansTeacher.Fit(train, new KMeansFitOptions { K = o.KMeansK, Seed = o.Seed }.Validate(), null, o.Device)) fitted.Save(teacherPath);
            using var teacher = KMeansTeacher.Load(teacherPath, o.Device);
            using var cqt = new MertCqt();
            var job = new TokenizeJob(teacher, cqt, tokens, overwrite: false);
            var rows = job.Run(BatchJob.Plan([Path.Combine(outDir, "corpus", "audio")], tokens), cancel: cancel);
            foreach (var bad in rows.Where(r => r.Status == "error")) log($"warning: {bad.Error}");
            var labels = new StringBuilder("path,culture\n");
            foreach (var c in corpus.Clips) labels.Append(Manifest.Csv(c.Path)).Append(',').Append(c.Culture).Append('\n');
            AtomicFile.WriteText(Path.Combine(outDir, "tokens", "cultures.csv"), labels.ToString());
            TokenStatistics.Compute([tokens], Path.Combine(outDir, "tokens", "cultures.csv")).Write(Path.Combine(outDir, "tokens"));
        });

        // 3. pre-training: base (Western only), multi-culture CPT, single-culture CPTs
        var runs = Path.Combine(outDir, "runs");
        var recipes = Path.Combine(outDir, "recipes");
        string Export(string run, string stage) => Path.Combine(runs, run, "stages", stage);
        void Pretrain(string name, JsonObject json)
        {
            var file = Path.Combine(recipes, name + ".json");
            var text = json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
            if (!File.Exists(file) || File.ReadAllText(file) != text) AtomicFile.WriteText(file, text);
            var recipe = Recipe.Load(file);
            var every = Math.Max(1, recipe.TotalSteps / 5);
            var progress = new SyncProgress<PretrainProgress>(p =>
            {
                if (p.StepsThisRun > 0 && (p.Step % every == 0 || p.Step == p.StopAt))
                    log(FormattableString.Invariant($"  [{name}] step {p.Step}/{p.TotalSteps} ({p.Stage}) loss {p.Loss:F3}, masked accuracy {p.Accuracy:P0}, {p.AudioSecondsPerSecond:F0} audio-s/s") +
                        (p.Eta is { } eta ? $", ETA {eta:mm\\:ss}" : ""));
            });
            var result = Pretrainer.Run(recipe, Path.Combine(runs, name), new PretrainOptions(Resume: true, Device: o.Device),
                                        line => { if (!line.StartsWith("source ")) log($"  [{name}] {line}"); }, progress, cancel);
            log($"  [{name}] {(result.Finished ? "done" : "stopped")} at step {result.Step}");
            cancel.ThrowIfCancellationRequested();
        }
        JsonObject Sources() => new(cultures.Select(c => KeyValuePair.Create(c, (JsonNode?)new JsonObject { ["manifest"] = $"../corpus/pretrain/{c}.csv" })));
        JsonObject Common(string @base) => new()
        {
            ["base"] = @base, ["init_seed"] = o.Seed, ["targets"] = new JsonObject { ["cache"] = "../targets" }, ["sources"] = Sources(),
            ["crop_seconds"] = o.CropSeconds, ["batch_size"] = o.BatchSize, ["seed"] = 1337 + o.Seed, ["checkpoint_every"] = 500,
            ["noise_min_seconds"] = 0.1 * o.CropSeconds, ["noise_max_seconds"] = 0.2 * o.CropSeconds,     // MERT's 0.5–1 s of a 5-s crop
        };
        JsonObject Mix(IEnumerable<(string Culture, double Weight)> w) => new(w.Select(x => KeyValuePair.Create(x.Culture, (JsonNode?)JsonValue.Create(x.Weight))));
        JsonArray Stage1Trainable() => ["feature_projection.*", "masked_spec_embed", "encoder.layer_norm.*", "encoder.layers.*", "final_proj.*", "label_embs_concat", "encoder_cqt_model.*"];
        JsonObject TwoStage(string @base, IReadOnlyList<string> targetCultures)
        {
            var r = Common(@base);
            r["description"] = $"CultureMERT's two stages on {string.Join(", ", targetCultures)}: stage 1 with the CNN frozen and 20 % Western replay, stage 2 everything on the culture data.";
            var share = 0.8 / targetCultures.Count;
            r["stages"] = new JsonArray(
                new JsonObject
                {
                    ["name"] = "stabilise", ["steps"] = o.Stage1Steps, ["warmup_steps"] = Math.Max(1, o.Stage1Steps / 10), ["peak_lr"] = 5e-4, ["floor_lr"] = 5e-5,
                    ["decay"] = "cosine", ["trainable"] = Stage1Trainable(),
                    ["mix"] = Mix(targetCultures.Select(c => (c, share)).Concat(western.Select(w => (w, 0.2 / western.Count)))),
                },
                new JsonObject
                {
                    ["name"] = "adapt", ["steps"] = o.Stage2Steps, ["warmup_steps"] = Math.Max(1, o.Stage2Steps / 10), ["peak_lr"] = 1e-3, ["floor_lr"] = 0,
                    ["decay"] = "linear", ["mix"] = Mix(targetCultures.Select(c => (c, 1.0))),
                });
            return r;
        }
        Phase("pre-training", () =>
        {
            var b = Common($"init:{o.Preset}");
            b["description"] = "The base model: a MERT pre-trained from scratch on the Western cultures only (MERT-v1's stand-in).";
            b["stages"] = new JsonArray(new JsonObject
            {
                ["name"] = "western-base", ["steps"] = o.BaseSteps, ["warmup_steps"] = Math.Max(1, o.BaseSteps / 10), ["peak_lr"] = 2e-3, ["floor_lr"] = 0,
                ["decay"] = "linear", ["mix"] = Mix(western.Select(w => (w, 1.0))),
            });
            Pretrain("base", b);
            Pretrain("cpt-multi", TwoStage($"../runs/base/stages/western-base", others));
            foreach (var c in others) Pretrain($"cpt-{c}", TwoStage($"../runs/base/stages/western-base", [c]));
        });

        // 4. task arithmetic over the single-culture CPTs
        var merges = Path.Combine(outDir, "merges");
        var mergeDirs = new List<string>();
        Phase("merging", () =>
        {
            var result = MergeJob.Run(Export("base", "western-base"), others.Select(c => Export($"cpt-{c}", "adapt")).ToList(),
                                      new MergeOptions { Method = MergeMethod.TaskArithmetic, Lambdas = o.Lambdas }.Validate(others.Count), merges, log, o.Device);
            mergeDirs.AddRange(result.OutputDirs);
        });

        // 5. probing every model on every culture's task
        var models = new List<EvalModel> { new("base", Export("base", "western-base")), new("cpt-multi", Export("cpt-multi", "adapt")) };
        models.AddRange(o.Lambdas.Select((l, i) => new EvalModel(Inv($"ta-{l}"), mergeDirs[i])));
        models.AddRange(others.Select(c => new EvalModel($"cpt-{c}", Export($"cpt-{c}", "adapt"))));
        var tasks = corpus.TaskManifests.Select(EvalTask.FromManifest).OrderBy(t => t.Western).ThenBy(t => t.Name, StringComparer.Ordinal).ToList();
        var evalDir = Path.Combine(outDir, "evaluation");
        List<EvalCell> cells = [];
        Phase("probing", () =>
        {
            var options = new EvaluateOptions
            {
                Embed = new EmbedOptions { ChunkSeconds = Math.Min(5, o.SecondsPerClip) },
                Probe = new ProbeOptions { Seeds = o.Seeds, Settings = new ProbeSettings { MaxEpochs = o.MaxEpochs } },
                Device = o.Device,
            };
            cells = new EvaluateJob(models, tasks, evalDir, options).Run(new SyncProgress<string>(line => log("  " + line)), cancel);
            EvaluateReport.Write(evalDir, models, tasks, cells);
        });

        // 6. the report
        var findings = new List<string>();
        var report = Path.Combine(outDir, "REPORT.md");
        StudyReport.Write(report, outDir, corpus, models, tasks, cells, others, western, o, phases, clock.Elapsed, findings);
        log($"wrote {report} ({clock.Elapsed:mm\\:ss})");
        return new StudyResult(report, clock.Elapsed, findings);
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);


}
