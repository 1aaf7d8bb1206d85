using System.Diagnostics;
using System.Globalization;
using CultureMert.Audio;
using CultureMert.Checkpoints;
using TorchSharp;
using CultureMert.IO;

namespace CultureMert.Batch;

/// <summary>One audio file to process and where its output goes, or why it cannot be (<see cref="Error"/>).</summary>
public sealed record BatchTask(string Path, string Output, string RelativeOutput, string? Error = null);

/// <summary>One row of <c>index.csv</c>. <see cref="Chunks"/> holds the job's per-file count (chunks, frames).</summary>
public sealed record IndexRow(string Path, string Output, double? DurationSeconds, int? Chunks, string Status, string Error);

/// <summary>Progress of a running job: files done, audio seconds done, elapsed time.</summary>
/// <param name="CurrentFraction">how much of the current file is done, 0..1</param>
public sealed record JobProgress(int FilesDone, int FilesTotal, int Failed, double AudioSeconds, TimeSpan Elapsed, string? Current,
                                 double CurrentFraction = 0)
{
    public double Throughput => Elapsed.TotalSeconds > 0 ? AudioSeconds / Elapsed.TotalSeconds : 0;
}

/// <summary>What a batch job does to one file (embed it, tokenise it).</summary>
public interface IFileJob
{
    /// <summary>The index column of the per-file count the job reports ("chunks", "frames").</summary>
    string CountColumn { get; }

    /// <summary>Metadata that identifies how outputs are made: an existing output is reused only if all of it matches.</summary>
    IReadOnlyDictionary<string, string> Provenance { get; }

    /// <summary>
    /// Processes one file and writes <see cref="BatchTask.Output"/> atomically, with metadata holding at least
    /// <see cref="Provenance"/>, <c>source</c> (the task's path), <c>duration_s</c> and <see cref="CountColumn"/>.
    /// Throws (InvalidDataException, …) naming the file when it cannot.
    /// </summary>
    (double DurationSeconds, int Count) Process(BatchTask task, CancellationToken cancel, Action<double> progress);

    /// <summary>
    /// Called before <see cref="Process"/> of a task with the task that will most likely be processed next, so that a
    /// job can start reading it in the background (embed decodes it while the model runs on this one).
    /// </summary>
    void Upcoming(BatchTask next) { }
}

/// <summary>
/// The batch mechanics shared by <c>embed</c> and <c>tokenize</c>: expands inputs (files, folders, CSV manifests) into
/// tasks, runs a job on each file, keeps <c>&lt;out&gt;/&lt;relative path&gt;.safetensors</c> outputs of earlier runs
/// that match, records every file in <c>index.csv</c> and never lets one bad file stop the others.
/// </summary>
public static class BatchJob
{
    public const string IndexFile = "index.csv";

    /// <summary>
    /// Expands command-line inputs into tasks. Nothing here stops the batch: an input that does not exist, an unreadable
    /// manifest or two inputs whose outputs would collide become tasks that carry their error.
    /// </summary>
    public static List<BatchTask> Plan(IEnumerable<string> inputs, string outDir)
    {
        var tasks = new List<BatchTask>();
        var byOutput = new Dictionary<string, string>();
        foreach (var input in inputs)
        {
            List<(string File, string Root)> files;
            try { files = Expand(input).ToList(); }
            catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                tasks.Add(new BatchTask(Path.GetFullPath(input), "", "", e.Message));
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
                    if (other != file)                                        // (the same file given twice is processed once)
                        tasks.Add(new BatchTask(file, output, relOut,
                            $"{file}: its output {relOut} would overwrite that of {other}; process one of them into another --out folder or rename it."));
                    continue;
                }
                byOutput[output] = file;
                tasks.Add(new BatchTask(file, output, relOut));
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

    static IEnumerable<string> AudioFilesIn(string folder) => FolderWalk.Files(folder).Where(AudioDecoder.IsAudioFile);

    /// <summary>
    /// Runs <paramref name="job"/> on every task; returns the index rows (also written to <c>index.csv</c>, or to the
    /// shard's own index when <paramref name="shard"/> is one of several, even when interrupted).
    /// </summary>
    /// <param name="tasks">the plan, or the shard's part of it (<see cref="Shard.Select"/>)</param>
    public static List<IndexRow> Run(IFileJob job, IReadOnlyList<BatchTask> tasks, string outDir, bool overwrite,
                                     IProgress<JobProgress>? progress = null, CancellationToken cancel = default, Shard? shard = null)
    {
        var s = shard ?? Shard.Whole;
        Debug.Assert(tasks.All(s.Owns), "tasks of another shard");
        NativeHeap.ReuseTensorBuffers();
        using var held = FolderLock.Acquire(outDir, s.Count > 1 ? s.IndexFile : null);   // shards of one job share the folder
        var indexPath = Path.Combine(outDir, s.IndexFile);
        var earlier = Manifest.ReadIndex(indexPath);                          // refuses a foreign index before any work
        if (s.Count > 1) AtomicFile.CleanStale(outDir);                       // (a whole-folder lock cleans it): leftovers of a killed run
        var rows = new List<IndexRow>();
        var clock = Stopwatch.StartNew();
        var lastIndexWrite = TimeSpan.Zero;
        double audio = 0;
        var failed = 0;
        try
        {
            for (var i = 0; i < tasks.Count; i++)
            {
                var task = tasks[i];
                if (cancel.IsCancellationRequested) break;
                // While this file runs, the next is read ahead, unless either will most likely be skipped (resume).
                if (i + 1 < tasks.Count && WillRun(task, overwrite) && WillRun(tasks[i + 1], overwrite)) job.Upcoming(tasks[i + 1]);
                progress?.Report(new JobProgress(rows.Count, tasks.Count, failed, audio, clock.Elapsed, task.Path));
                var row = ProcessOne(job, task, overwrite, cancel, fraction =>
                    progress?.Report(new JobProgress(rows.Count, tasks.Count, failed, audio, clock.Elapsed, task.Path, fraction)));
                if (row is null) break;                                       // cancelled mid-file: nothing written for it
                rows.Add(row);
                if (row.Status == "error") failed++;
                else if (row.Status == "ok") audio += row.DurationSeconds ?? 0;
                if (clock.Elapsed - lastIndexWrite > TimeSpan.FromSeconds(2)) { WriteIndex(job, indexPath, earlier, rows); lastIndexWrite = clock.Elapsed; }
            }
        }
        catch (DiskFullException e)
        {
            // The failed output's temporary is gone, which most often leaves room for the index (written below) of what did finish.
            throw e.Finished($"{rows.Count(r => r.Status != "error")} of {tasks.Count} files are done and listed in {indexPath}");
        }
        finally
        {
            WriteIndex(job, indexPath, earlier, rows);
        }
        progress?.Report(new JobProgress(rows.Count, tasks.Count, failed, audio, clock.Elapsed, null));
        return rows;
    }

    /// <summary>Whether <see cref="ProcessOne"/> will most likely process the task: no planning error, no earlier output to reuse.</summary>
    static bool WillRun(BatchTask task, bool overwrite) => task.Error is null && (overwrite || !File.Exists(task.Output));

    static IndexRow? ProcessOne(IFileJob job, BatchTask task, bool overwrite, CancellationToken cancel, Action<double> fileProgress)
    {
        if (task.Error is not null) return new IndexRow(task.Path, task.RelativeOutput, null, null, "error", task.Error);
        if (!overwrite && File.Exists(task.Output) && Finished(job, task) is { } done) return done;
        try
        {
            using var scope = torch.NewDisposeScope();                        // every tensor of this file dies here
            var (duration, count) = job.Process(task, cancel, fileProgress);
            // A file that decoded with a warning (cut short by a little) is ok, with the warning in its row's error column.
            return new IndexRow(task.Path, task.RelativeOutput, duration, count, "ok", Warning(task, AudioWarnings.Take(task.Path)));
        }
        catch (OperationCanceledException) { return null; }
        catch (Exception e) when (DiskFullException.IsDiskFull(e)) { throw DiskFullException.Wrap(e, task.Output); }   // stops the batch: every next file would fail alike
        catch (Exception e)
        {
            // One bad file never stops the batch: whatever went wrong becomes this file's error row.
            var expected = e is InvalidDataException or NotSupportedException or IOException or UnauthorizedAccessException or DllNotFoundException;
            var message = expected ? e.Message : $"{e.GetType().Name}: {e.Message}";
            if (!message.Contains(task.Path)) message = $"{task.Path}: {message}";
            return new IndexRow(task.Path, task.RelativeOutput, null, null, "error", message.ReplaceLineEndings(" "));
        }
    }

    static string Warning(BatchTask task, string? warning) => warning is null ? "" : $"warning: {task.Path}: {warning}";

    /// <summary>
    /// The row for an output that an earlier run finished with the same source and provenance; an error row when the
    /// existing file came from something else (never silently kept); null when it is unreadable (process again).
    /// </summary>
    static IndexRow? Finished(IFileJob job, BatchTask task)
    {
        Dictionary<string, string> meta;
        try { meta = SafeTensors.ReadHeader(task.Output).Metadata; }
        catch (InvalidDataException) { return null; }
        var differs = job.Provenance.Where(kv => meta.GetValueOrDefault(kv.Key) != kv.Value).Select(kv => kv.Key).ToList();
        if (meta.GetValueOrDefault("source") != task.Path) differs.Insert(0, "source");
        if (differs.Count > 0)
            return new IndexRow(task.Path, task.RelativeOutput, null, null, "error",
                $"{task.Output} already exists from a different {string.Join("/", differs)} ({string.Join(", ", differs.Select(k => $"{k}={meta.GetValueOrDefault(k) ?? "none"}"))}); " +
                "rerun with --overwrite to replace it, or use another --out folder.");
        return new IndexRow(task.Path, task.RelativeOutput,
            double.TryParse(meta.GetValueOrDefault("duration_s"), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : null,
            int.TryParse(meta.GetValueOrDefault(job.CountColumn), out var c) ? c : null, "skipped", Warning(task, meta.GetValueOrDefault("warning")));
    }

    static void WriteIndex(IFileJob job, string indexPath, List<IndexRow> earlier, List<IndexRow> rows)
    {
        // Rows of earlier runs for files not in this run are kept, so that several runs into one folder share one index.
        var current = rows.Select(r => r.Path).ToHashSet();
        Manifest.WriteIndex(indexPath, job.CountColumn, earlier.Where(r => !current.Contains(r.Path)).Concat(rows));
    }

    /// <summary>Metadata every output carries besides the job's provenance, and the decoder's warning about the source if any.</summary>
    public static Dictionary<string, string> Metadata(IFileJob job, BatchTask task, double durationSeconds, int count)
    {
        var meta = new Dictionary<string, string>(job.Provenance)
        {
            ["format"] = "pt",
            ["source"] = task.Path,
            ["duration_s"] = durationSeconds.ToString("R", CultureInfo.InvariantCulture),
            [job.CountColumn] = count.ToString(CultureInfo.InvariantCulture),
        };
        if (AudioWarnings.Peek(task.Path) is { } warning) meta["warning"] = warning;    // so that a resumed run's row says it again
        return meta;
    }
}
