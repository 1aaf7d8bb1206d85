using System.Diagnostics;
using System.Globalization;
using System.Text;
using CultureMert.Audio;
using CultureMert.Checkpoints;
using TorchSharp;

namespace CultureMert.Embedding;

/// <summary>One audio file to embed and where its output goes, or why it cannot be (<see cref="Error"/>).</summary>
public sealed record EmbedTask(string Path, string Output, string RelativeOutput, string? Error = null);

/// <summary>One row of <c>index.csv</c>.</summary>
public sealed record IndexRow(string Path, string Output, double? DurationSeconds, int? Chunks, string Status, string Error);

/// <summary>Progress of a running job: files done, audio seconds done, elapsed time.</summary>
/// <param name="CurrentFraction">how much of the current file is done, 0..1</param>
public sealed record EmbedProgress(int FilesDone, int FilesTotal, int Failed, double AudioSeconds, TimeSpan Elapsed, string? Current,
                                   double CurrentFraction = 0)
{
    public double Throughput => Elapsed.TotalSeconds > 0 ? AudioSeconds / Elapsed.TotalSeconds : 0;
}

/// <summary>
/// The batch job behind <c>culturemert embed</c>: expands inputs (files, folders, CSV manifests) into tasks, embeds each
/// file, writes <c>&lt;out&gt;/&lt;relative path&gt;.safetensors</c> atomically, skips finished outputs unless asked to
/// overwrite, records every file in <c>index.csv</c> and never lets one bad file stop the others.
/// </summary>
public sealed class EmbedJob(LoadedMert mert, EmbedOptions options, string outDir, bool overwrite)
{
    public const string IndexFile = "index.csv";

    /// <summary>
    /// Expands command-line inputs into tasks. Nothing here stops the batch: an input that does not exist, an unreadable
    /// manifest or two inputs whose outputs would collide become tasks that carry their error.
    /// </summary>
    public static List<EmbedTask> Plan(IEnumerable<string> inputs, string outDir)
    {
        var tasks = new List<EmbedTask>();
        var byOutput = new Dictionary<string, string>();
        foreach (var input in inputs)
        {
            List<(string File, string Root)> files;
            try { files = Expand(input).ToList(); }
            catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                tasks.Add(new EmbedTask(Path.GetFullPath(input), "", "", e.Message));
                continue;
            }
            foreach (var (file, root) in files)
            {
                var rel = Path.GetRelativePath(root, file);
                if (rel.StartsWith("..")) rel = Path.GetFileName(file);       // a manifest entry outside the manifest's folder
                var relOut = Path.ChangeExtension(rel, ".safetensors");
                var output = Path.GetFullPath(Path.Combine(outDir, relOut));
                if (byOutput.TryGetValue(output, out var other))
                {
                    if (other != file)                                        // (the same file given twice is embedded once)
                        tasks.Add(new EmbedTask(file, output, relOut,
                            $"{file}: its output {relOut} would overwrite that of {other}; embed one of them into another --out folder or rename it."));
                    continue;
                }
                byOutput[output] = file;
                tasks.Add(new EmbedTask(file, output, relOut));
            }
        }
        return tasks;
    }

    static IEnumerable<(string File, string Root)> Expand(string input)
    {
        if (Directory.Exists(input))
        {
            var root = Path.GetFullPath(input);
            return AudioFilesIn(root).Select(f => (f, root));
        }
        if (!File.Exists(input)) throw new FileNotFoundException($"{input}: no such file or folder.", input);
        if (input.EndsWith(".csv", StringComparison.OrdinalIgnoreCase))
        {
            var root = Path.GetDirectoryName(Path.GetFullPath(input))!;
            return Manifest.ReadPaths(input).SelectMany(p =>
            {
                var full = Path.GetFullPath(Path.Combine(root, p));
                return Directory.Exists(full) ? AudioFilesIn(full) : [full];    // a folder entry stands for its audio files
            }).Select(f => (f, root));
        }
        var file = Path.GetFullPath(input);
        return [(file, Path.GetDirectoryName(file)!)];
    }

    static IEnumerable<string> AudioFilesIn(string folder) =>
        Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Where(AudioDecoder.IsAudioFile).Order(StringComparer.Ordinal);

    /// <summary>Runs every task; returns the index rows (also written to <c>index.csv</c>, even when interrupted).</summary>
    public List<IndexRow> Run(IReadOnlyList<EmbedTask> tasks, IProgress<EmbedProgress>? progress = null, CancellationToken cancel = default)
    {
        Directory.CreateDirectory(outDir);
        var earlier = Manifest.ReadIndex(Path.Combine(outDir, IndexFile));     // refuses a foreign index.csv before any work
        AtomicFile.CleanStale(outDir);                                        // leftovers of a run that was killed
        var embedder = new Embedder(mert, options);
        var rows = new List<IndexRow>();
        var clock = Stopwatch.StartNew();
        var lastIndexWrite = TimeSpan.Zero;
        double audio = 0;
        var failed = 0;
        try
        {
            foreach (var task in tasks)
            {
                if (cancel.IsCancellationRequested) break;
                progress?.Report(new EmbedProgress(rows.Count, tasks.Count, failed, audio, clock.Elapsed, task.Path));
                var row = ProcessOne(embedder, task, cancel, fraction =>
                    progress?.Report(new EmbedProgress(rows.Count, tasks.Count, failed, audio, clock.Elapsed, task.Path, fraction)));
                if (row is null) break;                                       // cancelled mid-file: nothing written for it
                rows.Add(row);
                if (row.Status == "error") failed++;
                else if (row.Status == "ok") audio += row.DurationSeconds ?? 0;
                if (clock.Elapsed - lastIndexWrite > TimeSpan.FromSeconds(2)) { WriteIndex(earlier, rows); lastIndexWrite = clock.Elapsed; }
            }
        }
        finally
        {
            WriteIndex(earlier, rows);
        }
        progress?.Report(new EmbedProgress(rows.Count, tasks.Count, failed, audio, clock.Elapsed, null));
        return rows;
    }

    IndexRow? ProcessOne(Embedder embedder, EmbedTask task, CancellationToken cancel, Action<double> fileProgress)
    {
        if (task.Error is not null) return new IndexRow(task.Path, task.RelativeOutput, null, null, "error", task.Error);
        if (!overwrite && File.Exists(task.Output))
        {
            var done = Finished(task);
            if (done is not null) return done;
        }
        try
        {
            using var scope = torch.NewDisposeScope();                        // every tensor of this file dies here
            using var result = embedder.Embed(task.Path, cancel, fileProgress);
            Write(task, result);
            return new IndexRow(task.Path, task.RelativeOutput, result.DurationSeconds, result.Chunks, "ok", "");
        }
        catch (OperationCanceledException) { return null; }
        catch (Exception e)
        {
            // One bad file never stops the batch: whatever went wrong becomes this file's error row.
            var expected = e is InvalidDataException or NotSupportedException or IOException or UnauthorizedAccessException or DllNotFoundException;
            var message = expected ? e.Message : $"{e.GetType().Name}: {e.Message}";
            if (!message.Contains(task.Path)) message = $"{task.Path}: {message}";
            return new IndexRow(task.Path, task.RelativeOutput, null, null, "error", message.ReplaceLineEndings(" "));
        }
    }

    /// <summary>
    /// The row for an output that an earlier run finished with the same source, model and settings; an error row when
    /// the existing file came from something else (never silently kept); null when it is unreadable (embed again).
    /// </summary>
    IndexRow? Finished(EmbedTask task)
    {
        Dictionary<string, string> meta;
        try { meta = SafeTensors.ReadHeader(task.Output).Metadata; }
        catch (InvalidDataException) { return null; }
        var expected = Provenance();
        var differs = expected.Where(kv => meta.GetValueOrDefault(kv.Key) != kv.Value).Select(kv => kv.Key).ToList();
        if (meta.GetValueOrDefault("source") != task.Path) differs.Insert(0, "source");
        if (differs.Count > 0)
            return new IndexRow(task.Path, task.RelativeOutput, null, null, "error",
                $"{task.Output} already exists from a different {string.Join("/", differs)} ({string.Join(", ", differs.Select(k => $"{k}={meta.GetValueOrDefault(k) ?? "none"}"))}); " +
                "rerun with --overwrite to replace it, or use another --out folder.");
        return new IndexRow(task.Path, task.RelativeOutput, ParseDouble(meta.GetValueOrDefault("duration_s")),
                            int.TryParse(meta.GetValueOrDefault("chunks"), out var c) ? c : null, "skipped", "");
    }

    /// <summary>The metadata that identifies how an output was made; a rerun may reuse an output only if all of it matches.</summary>
    Dictionary<string, string> Provenance()
    {
        var p = new Dictionary<string, string>
        {
            ["model_config_sha256"] = mert.ConfigHash,
            ["model_weights_sha256"] = mert.WeightsHash,
            ["layers"] = string.Join(",", options.Layers ?? Enumerable.Range(0, mert.Model.NumLayers + 1)),
            ["pool"] = options.Pool == Pooling.Mean ? "mean" : "none",
        };
        if (options.Pool == Pooling.Mean) p["chunk_seconds"] = options.ChunkSeconds.ToString("R", CultureInfo.InvariantCulture);
        return p;
    }

    void Write(EmbedTask task, FileEmbedding e)
    {
        var metadata = new Dictionary<string, string>(Provenance())
        {
            ["format"] = "pt",
            ["source"] = task.Path,
            ["source_sample_rate"] = e.SourceRate.ToString(CultureInfo.InvariantCulture),
            ["source_channels"] = e.SourceChannels.ToString(CultureInfo.InvariantCulture),
            ["sample_rate"] = mert.Model.Config.SampleRate.ToString(CultureInfo.InvariantCulture),
            ["duration_s"] = e.DurationSeconds.ToString("R", CultureInfo.InvariantCulture),
            ["model"] = mert.Name,
            ["chunks"] = e.Chunks.ToString(CultureInfo.InvariantCulture),
        };
        var tensors = new List<KeyValuePair<string, torch.Tensor>>();
        if (e.HiddenStates is not null) tensors.Add(new("hidden_states", e.HiddenStates));
        if (e.ChunkEmbeddings is not null) tensors.Add(new("chunk_embeddings", e.ChunkEmbeddings));
        if (e.Embedding is not null) tensors.Add(new("embedding", e.Embedding));
        SafeTensors.Save(task.Output, tensors, metadata);
    }

    void WriteIndex(List<IndexRow> earlier, List<IndexRow> rows)
    {
        // Rows of earlier runs for files not in this run are kept, so that several runs into one folder share one index.
        var current = rows.Select(r => r.Path).ToHashSet();
        var sb = new StringBuilder(Manifest.IndexHeader + "\n");
        foreach (var r in earlier.Where(r => !current.Contains(r.Path)).Concat(rows))
            sb.Append(string.Join(",", Manifest.Csv(r.Path), Manifest.Csv(r.Output),
                r.DurationSeconds?.ToString("0.######", CultureInfo.InvariantCulture) ?? "", r.Chunks?.ToString(CultureInfo.InvariantCulture) ?? "",
                r.Status, Manifest.Csv(r.Error))).Append('\n');
        AtomicFile.WriteText(Path.Combine(outDir, IndexFile), sb.ToString());
    }

    static double? ParseDouble(string? s) => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : null;
}
