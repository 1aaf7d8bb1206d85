using System.Globalization;
using CultureMert.Batch;
using CultureMert.Checkpoints;
using TorchSharp;

namespace CultureMert.Embedding;

/// <summary>
/// <c>culturemert embed</c> as a batch job: each audio file becomes <c>&lt;out&gt;/&lt;relative path&gt;.safetensors</c>
/// with its embeddings and provenance (source, model hashes, layers, pooling); the batch mechanics (index, resume,
/// per-file errors) are <see cref="BatchJob"/>'s.
/// </summary>
public sealed class EmbedJob(LoadedMert mert, EmbedOptions options, string outDir, bool overwrite) : IFileJob
{
    readonly Embedder embedder = new(mert, options);

    /// <summary>The batch size in use (see <see cref="Embedder.BatchSize"/>).</summary>
    public int? BatchSize => embedder.BatchSize;

    /// <param name="tasks">the plan, or a shard's part of it (<see cref="Shard.Select"/>), which writes that shard's index</param>
    public List<IndexRow> Run(IReadOnlyList<BatchTask> tasks, IProgress<JobProgress>? progress = null, CancellationToken cancel = default, Shard? shard = null)
    {
        try { return BatchJob.Run(this, tasks, outDir, overwrite, progress, cancel, shard); }
        finally { embedder.CancelPrefetch(); }                                    // a read-ahead nobody will use
    }

    public void Upcoming(BatchTask next) => embedder.Prefetch(next.Path);

    public string CountColumn => "chunks";

    public IReadOnlyDictionary<string, string> Provenance
    {
        get
        {
            var p = new Dictionary<string, string>
            {
                ["model_config_sha256"] = mert.ConfigHash,
                ["model_weights_sha256"] = mert.WeightsHash,
                ["layers"] = string.Join(",", embedder.Layers),
                ["pool"] = options.Pool == Pooling.Mean ? "mean" : "none",
                ["precision"] = options.PrecisionName,
            };
            if (options.Pool == Pooling.Mean) p["chunk_seconds"] = options.ChunkSeconds.ToString("R", CultureInfo.InvariantCulture);
            return p;
        }
    }

    public (double DurationSeconds, int Count) Process(BatchTask task, CancellationToken cancel, Action<double> progress)
    {
        using var e = embedder.Embed(task.Path, cancel, progress);
        var metadata = BatchJob.Metadata(this, task, e.DurationSeconds, e.Chunks);
        metadata["source_sample_rate"] = e.SourceRate.ToString(CultureInfo.InvariantCulture);
        metadata["source_channels"] = e.SourceChannels.ToString(CultureInfo.InvariantCulture);
        metadata["sample_rate"] = mert.Model.Config.SampleRate.ToString(CultureInfo.InvariantCulture);
        metadata["model"] = mert.Name;
        var tensors = new List<KeyValuePair<string, torch.Tensor>>();
        if (e.HiddenStates is not null) tensors.Add(new("hidden_states", e.HiddenStates));
        if (e.ChunkEmbeddings is not null) tensors.Add(new("chunk_embeddings", e.ChunkEmbeddings));
        if (e.Embedding is not null) tensors.Add(new("embedding", e.Embedding));
        SafeTensors.Save(task.Output, tensors, metadata);
        return (e.DurationSeconds, e.Chunks);
    }
}
