using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Checkpoints;

/// <summary>
/// The tensors of a Hugging Face model folder, read one at a time by name, for jobs that stream over checkpoints
/// (merging, task-vector analysis). Names are canonical: the pos-conv parametrization names map to <c>weight_g</c>/<c>weight_v</c>
/// through <see cref="MertCheckpoint.Renames"/>, so that folders written by old and new transformers line up.
/// safetensors (single or sharded) are read lazily, one tensor per <see cref="Read"/>; <c>pytorch_model.bin</c> can only be
/// unpickled whole, so such a folder is held in memory for the reader's lifetime.
/// </summary>
public sealed class CheckpointTensors : IDisposable
{
    readonly List<SafeTensorsReader> readers = [];
    readonly Dictionary<string, (SafeTensorsReader? Reader, string StoredName)> where = [];
    readonly Dictionary<string, Tensor>? whole;

    public string Directory { get; }
    /// <summary>The weights file, or the shard index.</summary>
    public string WeightsFile { get; }
    /// <summary>Every file holding weights (index first, then shards): what <see cref="Hash"/> covers.</summary>
    public IReadOnlyList<string> Files { get; }
    /// <summary>Canonical names in stored order (file order, then shard order).</summary>
    public IReadOnlyList<SafeTensorInfo> Tensors { get; }
    /// <summary>True when the weights are a pickle, held whole in memory.</summary>
    public bool InMemory => whole is not null;

    public CheckpointTensors(string directory)
    {
        if (!System.IO.Directory.Exists(directory)) throw new DirectoryNotFoundException($"{directory}: model folder not found.");
        Directory = directory;
        WeightsFile = MertCheckpoint.FindWeights(directory);
        var isIndex = WeightsFile.EndsWith(".index.json");
        var shards = isIndex ? MertCheckpoint.ShardFiles(WeightsFile) : [WeightsFile];
        Files = isIndex ? [WeightsFile, .. shards] : [WeightsFile];
        var infos = new List<SafeTensorInfo>();
        try
        {
            if (WeightsFile.EndsWith(".safetensors") || WeightsFile.EndsWith(".safetensors.index.json"))
            {
                foreach (var shard in shards)
                {
                    var reader = new SafeTensorsReader(shard);
                    readers.Add(reader);
                    foreach (var t in reader.Tensors) Add(infos, t with { Name = Canonical(t.Name) }, reader, t.Name, shard);
                }
            }
            else
            {
                whole = MertCheckpoint.ReadStateDict(WeightsFile);
                foreach (var (name, t) in whole)
                    Add(infos, new SafeTensorInfo(Canonical(name), SafeTensors.DTypeName(t.dtype), t.shape, 0, t.numel() * t.ElementSize), null, name, WeightsFile);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
        Tensors = infos;
    }

    void Add(List<SafeTensorInfo> infos, SafeTensorInfo info, SafeTensorsReader? reader, string stored, string file)
    {
        if (!where.TryAdd(info.Name, (reader, stored)))
            throw new InvalidDataException($"{file}: tensor {info.Name} appears twice (as {where[info.Name].StoredName} and {stored}).");
        infos.Add(info);
    }

    static string Canonical(string name) => MertCheckpoint.Renames.GetValueOrDefault(name, name);

    public bool Contains(string name) => where.ContainsKey(name);

    /// <summary>One tensor by canonical name, in its stored dtype; the caller owns (and disposes) it.</summary>
    public Tensor Read(string name)
    {
        if (!where.TryGetValue(name, out var w)) throw new KeyNotFoundException($"{Directory}: no tensor named {name}.");
        return w.Reader is { } r ? r.Read(w.StoredName) : whole![w.StoredName].clone();
    }

    /// <summary>Content hash of the weight files (<see cref="MertCheckpoint.HashFiles"/>).</summary>
    public string Hash() => MertCheckpoint.HashFiles(Files);

    public void Dispose()
    {
        foreach (var r in readers) r.Dispose();
        if (whole is not null) foreach (var t in whole.Values) t.Dispose();
    }
}
