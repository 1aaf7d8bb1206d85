using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using CultureMert.Batch;
using CultureMert.Checkpoints;
using CultureMert.Corpus.Datasets;
using CultureMert.Embedding;
using CultureMert.IO;

namespace CultureMert.Evaluation;

/// <summary>A model of the grid: its short name (table row, folder name) and its Hugging Face checkpoint folder.</summary>
public sealed record EvalModel(string Name, string Dir);

/// <summary>
/// A task of the grid: the manifest's file name without extension, the manifest, and whether it counts as Western:
/// a task is Western when a strict majority of its rows has <c>culture</c> = <c>western</c> (case-insensitive), else
/// non-Western (also when the manifest has no culture column). <paramref name="Type"/>: the manifest's declared type
/// (its <c>task</c> column), null when it declares none.
/// </summary>
public sealed record EvalTask(string Name, string Manifest, bool Western, TaskType? Type = null)
{
    /// <summary>Whether the task is scored by ROC-AUC and AP in the paper's table: every task but a declared single-label
    /// (accuracy, macro-F1) or retrieval (MAP@10, MRR, recall@10) task. An undeclared one-label-per-row task stays here,
    /// scored one-vs-rest, as before manifests could declare a type.</summary>
    public bool Tagging => Type is null or TaskType.MultiLabel;

    public static EvalTask FromManifest(string manifest)
    {
        var parsed = TaskManifest.Read(manifest);
        var rows = parsed.Rows;
        var western = rows.Count(r => string.Equals(r.Culture, "western", StringComparison.OrdinalIgnoreCase)) * 2 > rows.Count;
        return new EvalTask(Path.GetFileNameWithoutExtension(manifest), Path.GetFullPath(manifest), western, parsed.Type);
    }
}

/// <summary>The settings of every cell: embedding (chunking) and probing pass through unchanged.</summary>
public sealed record EvaluateOptions
{
    public EmbedOptions Embed { get; init; } = new();
    public ProbeOptions Probe { get; init; } = new();
    public TaskType? Task { get; init; }
    /// <summary>One shard of several embeds its part of every cell's files and probes nothing (<see cref="EvaluateJob"/>).</summary>
    public Shard Shard { get; init; } = Shard.Whole;
    /// <summary>Where models embed and probes train (null: the CPU). Not part of a cell's stamp: it changes speed, not the protocol.</summary>
    public TorchSharp.torch.Device? Device { get; init; }
}

/// <summary>
/// One model × task cell: "ok" (probed now), "skipped" (finished earlier with the same settings), "embedded" (a shard
/// embedded its part; probing is left to an unsharded run) or "error".
/// </summary>
public sealed record EvalCell(string Model, string Task, string Status, string? Error, string ProbeDir);

/// <summary>
/// <c>culturemert evaluate</c>: for every model × task, embeds the task manifest's audio into
/// <c>&lt;out&gt;/embeddings/&lt;model&gt;/&lt;task&gt;/</c> (cached: <see cref="EmbedJob"/> skips outputs with the same
/// provenance) and probes them into <c>&lt;out&gt;/probes/&lt;model&gt;/&lt;task&gt;/</c>. A cell is finished when its
/// results.json exists and its <c>evaluate.json</c> records the same settings (model folder, manifest content hash,
/// embed and probe settings); finished cells are skipped without loading the model. A failing cell is recorded and the
/// grid goes on. With <see cref="EvaluateOptions.Shard"/> one of several, each cell only embeds the shard's files (own
/// index per shard, as <c>embed --shard</c>) and is "embedded": probing needs every file, so it runs in one unsharded
/// evaluate afterwards, which finds all embeddings cached.
/// </summary>
public sealed class EvaluateJob(IReadOnlyList<EvalModel> models, IReadOnlyList<EvalTask> tasks, string outDir, EvaluateOptions options)
{
    public const string StampFile = "evaluate.json";

    readonly IReadOnlyDictionary<string, string> embeddingsName = EmbeddingsNames(tasks);

    public string EmbeddingsDir(EvalModel m, EvalTask t) => Path.Combine(outDir, "embeddings", m.Name, embeddingsName[t.Name]);

    /// <summary>
    /// Task name → the name of its embeddings folder. Tasks over the same audio files (a culture's tagging, class and
    /// retrieval manifests) share the folder of the first of them: the same files embed to the same outputs, and
    /// embedding is the grid's costliest step.
    /// </summary>
    public static IReadOnlyDictionary<string, string> EmbeddingsNames(IEnumerable<EvalTask> tasks)
    {
        var (firstByAudio, names) = (new Dictionary<string, string>(StringComparer.Ordinal), new Dictionary<string, string>());
        foreach (var t in tasks)
        {
            var manifest = TaskManifest.Read(t.Manifest);
            var audio = string.Join('\n', manifest.Rows.Select(manifest.FullPath).Distinct().Order(StringComparer.Ordinal));
            names[t.Name] = firstByAudio.TryAdd(audio, t.Name) ? t.Name : firstByAudio[audio];
        }
        return names;
    }
    public string ProbeDir(EvalModel m, EvalTask t) => Path.Combine(outDir, "probes", m.Name, t.Name);

    /// <summary>Runs the grid; <paramref name="log"/> gets one line per step ("[k/N] model × task: …").</summary>
    public List<EvalCell> Run(IProgress<string>? log = null, CancellationToken cancel = default)
    {
        NativeHeap.ReuseTensorBuffers();                   // also after a merge in the same process lowered the threshold
        var dupModel = models.GroupBy(m => m.Name).FirstOrDefault(g => g.Count() > 1);
        if (dupModel is not null) throw new ArgumentException($"--models: the name '{dupModel.Key}' is given twice.");
        var dupTask = tasks.GroupBy(t => t.Name).FirstOrDefault(g => g.Count() > 1);
        if (dupTask is not null) throw new ArgumentException($"--tasks: two manifests named '{dupTask.Key}' (task names are file names without extension).");
        using var held = FolderLock.Acquire(outDir);
        var cells = new List<EvalCell>();
        var total = models.Count * tasks.Count;
        var k = 0;
        foreach (var m in models)
        {
            LoadedMert? mert = null;
            string? loadError = null;
            try
            {
                foreach (var t in tasks)
                {
                    cancel.ThrowIfCancellationRequested();
                    k++;
                    var prefix = $"[{k}/{total}] {m.Name} × {t.Name}";
                    var probeDir = ProbeDir(m, t);
                    var stamp = Stamp(m, t);
                    if (Finished(probeDir, stamp))
                    {
                        log?.Report($"{prefix}: done earlier, skipped");
                        cells.Add(new EvalCell(m.Name, t.Name, "skipped", null, probeDir));
                        continue;
                    }
                    try
                    {
                        if (loadError is null && mert is null)
                        {
                            try { mert = MertCheckpoint.Load(m.Dir, options.Device); }
                            catch (Exception e) { loadError = $"{m.Dir}: cannot load the model: {e.Message}"; }
                        }
                        if (loadError is not null) throw new InvalidDataException(loadError);
                        log?.Report($"{prefix}: embedding…");
                        var embDir = EmbeddingsDir(m, t);
                        var shard = options.Shard;
                        var plan = shard.Select(BatchJob.Plan([t.Manifest], embDir));
                        var rows = new EmbedJob(mert!, options.Embed, embDir, false).Run(plan, null, cancel, shard);
                        var bad = rows.Where(r => r.Status == "error").ToList();
                        if (bad.Count > 0)
                            throw new InvalidDataException($"{bad.Count} file(s) failed to embed: {string.Join("; ", bad.Take(3).Select(r => r.Error))}");
                        if (shard.Count > 1)
                        {
                            log?.Report($"{prefix}: embedded shard {shard}'s {rows.Count} file(s); probing waits for an unsharded run");
                            cells.Add(new EvalCell(m.Name, t.Name, "embedded", null, probeDir));
                            continue;
                        }
                        log?.Report($"{prefix}: probing…");
                        var data = ProbeDataset.Load(t.Manifest, embDir, options.Task);
                        var results = ProbeRunner.Run(data, options.Probe, null, options.Device);
                        ProbeReport.Write(probeDir, results);
                        AtomicFile.WriteText(Path.Combine(probeDir, StampFile), stamp.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                        log?.Report($"{prefix}: done ({results.Headline()}, layer {results.Best.Layer})");
                        cells.Add(new EvalCell(m.Name, t.Name, "ok", null, probeDir));
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        var msg = e.Message.ReplaceLineEndings(" ");
                        log?.Report($"{prefix}: failed: {msg}");
                        cells.Add(new EvalCell(m.Name, t.Name, "error", msg, probeDir));
                    }
                }
            }
            finally { mert?.Dispose(); }
        }
        return cells;
    }

    /// <summary>Everything a cell's results depend on; a rerun with a different stamp recomputes the cell.</summary>
    JsonObject Stamp(EvalModel m, EvalTask t)
    {
        var p = options.Probe;
        var s = p.Settings;
        var e = options.Embed;
        return new JsonObject
        {
            ["model"] = m.Name, ["model_dir"] = Path.GetFullPath(m.Dir), ["task"] = t.Name, ["manifest"] = t.Manifest,
            ["manifest_sha256"] = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(t.Manifest))),
            ["embed"] = new JsonObject
            {
                ["layers"] = e.Layers is null ? "all" : string.Join(",", e.Layers), ["pool"] = e.Pool == Pooling.Mean ? "mean" : "none",
                ["chunk_seconds"] = e.ChunkSeconds, ["precision"] = e.PrecisionName,
            },
            ["probe"] = new JsonObject
            {
                ["layer"] = p.Layer, ["seeds"] = p.Seeds, ["first_seed"] = p.FirstSeed,
                ["lrs"] = string.Join(",", p.LearningRates.Select(x => x.ToString("R", CultureInfo.InvariantCulture))),
                ["hidden"] = s.Hidden, ["dropout"] = s.Dropout, ["batch_size"] = s.BatchSize, ["max_epochs"] = s.MaxEpochs,
                ["task"] = options.Task?.ToString() ?? "auto", ["retrieval"] = p.Retrieval,
            },
        };
    }

    static bool Finished(string probeDir, JsonObject stamp)
    {
        var results = Path.Combine(probeDir, "results.json");
        var file = Path.Combine(probeDir, StampFile);
        if (!File.Exists(results) || !File.Exists(file)) return false;
        try { return JsonNode.Parse(File.ReadAllText(file))!.ToJsonString() == JsonNode.Parse(stamp.ToJsonString())!.ToJsonString(); }
        catch (JsonException) { return false; }
    }
}
