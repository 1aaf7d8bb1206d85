using System.Diagnostics;
using System.Globalization;
using System.Text;
using CultureMert.Audio;
using CultureMert.Checkpoints;
using TorchSharp;

namespace CultureMert.Embedding;

/// <summary>One audio file to embed and where its output goes.</summary>
public sealed record EmbedTask(string Path, string Output, string RelativeOutput);

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

    /// <summary>Expands command-line inputs into tasks; an input that does not exist is an error naming it.</summary>
    public static List<EmbedTask> Plan(IEnumerable<string> inputs, string outDir)
    {
        var tasks = new List<EmbedTask>();
        var byOutput = new Dictionary<string, string>();
        foreach (var input in inputs)
        {
            foreach (var (file, root) in Expand(input))
            {
                var rel = Path.GetRelativePath(root, file);
                if (rel.StartsWith("..")) rel = Path.GetFileName(file);       // a manifest entry outside the manifest's folder
                var relOut = Path.ChangeExtension(rel, ".safetensors");
                var output = Path.GetFullPath(Path.Combine(outDir, relOut));
                if (byOutput.TryGetValue(output, out var other))
                {
                    if (Path.GetFullPath(other) == Path.GetFullPath(file)) continue;   // the same file given twice
                    throw new ArgumentException($"{file}: its output {relOut} collides with that of {other}; rename one of them or embed them into different --out folders.");
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
            return Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
                .Where(AudioDecoder.IsAudioFile).OrderBy(f => f, StringComparer.Ordinal).Select(f => (f, root));
        }
        if (!File.Exists(input)) throw new FileNotFoundException($"{input}: no such file or folder.", input);
        if (input.EndsWith(".csv", StringComparison.OrdinalIgnoreCase))
        {
            var root = Path.GetDirectoryName(Path.GetFullPath(input))!;
            return Manifest.ReadPaths(input).Select(p => (Path.GetFullPath(Path.Combine(root, p)), root));
        }
        var full = Path.GetFullPath(input);
        return [(full, Path.GetDirectoryName(full)!)];
    }

    /// <summary>Runs every task; returns the index rows (also written to <c>index.csv</c>).</summary>
    public List<IndexRow> Run(IReadOnlyList<EmbedTask> tasks, IProgress<EmbedProgress>? progress = null, CancellationToken cancel = default)
    {
        Directory.CreateDirectory(outDir);
        AtomicFile.CleanStale(outDir);                                        // leftovers of a run that was killed
        var embedder = new Embedder(mert, options);
        var rows = new List<IndexRow>();
        var clock = Stopwatch.StartNew();
        var lastIndexWrite = TimeSpan.Zero;
        double audio = 0;
        var failed = 0;
        foreach (var task in tasks)
        {
            if (cancel.IsCancellationRequested) break;
            progress?.Report(new EmbedProgress(rows.Count, tasks.Count, failed, audio, clock.Elapsed, task.Path));
            var row = ProcessOne(embedder, task, cancel, fraction =>
                progress?.Report(new EmbedProgress(rows.Count, tasks.Count, failed, audio, clock.Elapsed, task.Path, fraction)));
            if (row is null) break;                                           // cancelled mid-file: nothing written for it
            rows.Add(row);
            if (row.Status == "error") failed++;
            else if (row.Status == "ok") audio += row.DurationSeconds ?? 0;
            if (clock.Elapsed - lastIndexWrite > TimeSpan.FromSeconds(2)) { WriteIndex(rows); lastIndexWrite = clock.Elapsed; }
        }
        WriteIndex(rows);
        progress?.Report(new EmbedProgress(rows.Count, tasks.Count, failed, audio, clock.Elapsed, null));
        return rows;
    }

    IndexRow? ProcessOne(Embedder embedder, EmbedTask task, CancellationToken cancel, Action<double> fileProgress)
    {
        if (!overwrite && File.Exists(task.Output))
        {
            try
            {
                var meta = SafeTensors.ReadHeader(task.Output).Metadata;
                return new IndexRow(task.Path, task.RelativeOutput, ParseDouble(meta.GetValueOrDefault("duration_s")),
                                    int.TryParse(meta.GetValueOrDefault("chunks"), out var c) ? c : null, "skipped", "");
            }
            catch (InvalidDataException) { }                                  // unreadable output: embed again
        }
        try
        {
            using var scope = torch.NewDisposeScope();                        // every tensor of this file dies here
            using var result = embedder.Embed(task.Path, cancel, fileProgress);
            Write(task, result);
            return new IndexRow(task.Path, task.RelativeOutput, result.DurationSeconds, result.Chunks, "ok", "");
        }
        catch (OperationCanceledException) { return null; }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException or IOException or UnauthorizedAccessException or DllNotFoundException)
        {
            var message = e.Message.Contains(task.Path) ? e.Message : $"{task.Path}: {e.Message}";
            return new IndexRow(task.Path, task.RelativeOutput, null, null, "error", message.ReplaceLineEndings(" "));
        }
    }

    void Write(EmbedTask task, FileEmbedding e)
    {
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "pt",
            ["source"] = task.Path,
            ["source_sample_rate"] = e.SourceRate.ToString(CultureInfo.InvariantCulture),
            ["source_channels"] = e.SourceChannels.ToString(CultureInfo.InvariantCulture),
            ["sample_rate"] = mert.Model.Config.SampleRate.ToString(CultureInfo.InvariantCulture),
            ["duration_s"] = e.DurationSeconds.ToString("R", CultureInfo.InvariantCulture),
            ["model"] = mert.Name,
            ["model_config_sha256"] = mert.ConfigHash,
            ["layers"] = string.Join(",", e.Layers),
            ["pool"] = options.Pool == Pooling.Mean ? "mean" : "none",
            ["chunk_seconds"] = options.ChunkSeconds.ToString("R", CultureInfo.InvariantCulture),
            ["chunks"] = e.Chunks.ToString(CultureInfo.InvariantCulture),
        };
        var tensors = new List<KeyValuePair<string, torch.Tensor>>();
        if (e.HiddenStates is not null) tensors.Add(new("hidden_states", e.HiddenStates));
        if (e.ChunkEmbeddings is not null) tensors.Add(new("chunk_embeddings", e.ChunkEmbeddings));
        if (e.Embedding is not null) tensors.Add(new("embedding", e.Embedding));
        SafeTensors.Save(task.Output, tensors, metadata);
    }

    void WriteIndex(List<IndexRow> rows)
    {
        // Rows of earlier runs for files not in this run are kept, so that several runs into one folder share one index.
        var path = Path.Combine(outDir, IndexFile);
        var merged = Manifest.ReadIndex(path).Where(r => rows.All(n => n.Path != r.Path)).Concat(rows).ToList();
        var sb = new StringBuilder("path,output,duration_s,chunks,status,error\n");
        foreach (var r in merged)
            sb.Append(string.Join(",", Manifest.Csv(r.Path), Manifest.Csv(r.Output),
                r.DurationSeconds?.ToString("0.######", CultureInfo.InvariantCulture) ?? "", r.Chunks?.ToString(CultureInfo.InvariantCulture) ?? "",
                r.Status, Manifest.Csv(r.Error))).Append('\n');
        AtomicFile.WriteText(path, sb.ToString());
    }

    static double? ParseDouble(string? s) => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : null;
}
