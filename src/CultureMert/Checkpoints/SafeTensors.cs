using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;
using CultureMert.IO;

namespace CultureMert.Checkpoints;

/// <summary>One tensor's entry in a safetensors header.</summary>
public sealed record SafeTensorInfo(string Name, string DType, long[] Shape, long Begin, long End)
{
    public long ByteLength => End - Begin;
}

/// <summary>
/// The safetensors format (8-byte little-endian header length, JSON header, raw little-endian data), read and written
/// here rather than through TorchSharp.PyBridge because we need the <c>__metadata__</c> block (Hugging Face requires
/// <c>format: pt</c>; embeddings carry their provenance), header-only reads (validate a checkpoint before allocating it)
/// and one-tensor-at-a-time reads for streaming merges.
/// </summary>
public static class SafeTensors
{
    static readonly Dictionary<string, (ScalarType Type, int Bytes)> DTypes = new()
    {
        ["F64"] = (ScalarType.Float64, 8), ["F32"] = (ScalarType.Float32, 4), ["F16"] = (ScalarType.Float16, 2),
        ["BF16"] = (ScalarType.BFloat16, 2), ["I64"] = (ScalarType.Int64, 8), ["I32"] = (ScalarType.Int32, 4),
        ["I16"] = (ScalarType.Int16, 2), ["I8"] = (ScalarType.Int8, 1), ["U8"] = (ScalarType.Byte, 1), ["BOOL"] = (ScalarType.Bool, 1),
    };

    public static string DTypeName(ScalarType t) => DTypes.First(kv => kv.Value.Type == t).Key;

    public static ScalarType ScalarTypeOf(string dtype) => DTypes[dtype].Type;

    /// <summary>Reads the header: tensor entries (in file order) and the string metadata.</summary>
    public static (List<SafeTensorInfo> Tensors, Dictionary<string, string> Metadata, long DataStart) ReadHeader(string path)
    {
        using var f = File.OpenRead(path);
        return ReadHeader(f, path);
    }

    static (List<SafeTensorInfo>, Dictionary<string, string>, long) ReadHeader(FileStream f, string path)
    {
        Span<byte> lenBytes = stackalloc byte[8];
        if (f.Length < 8 || f.Read(lenBytes) != 8) throw new InvalidDataException($"{path}: not a safetensors file (shorter than its 8-byte header length).");
        var headerLen = BitConverter.ToInt64(lenBytes);
        if (headerLen <= 0 || headerLen > 100_000_000 || 8 + headerLen > f.Length)
            throw new InvalidDataException($"{path}: not a safetensors file or truncated (header length {headerLen}, file size {f.Length}).");
        var header = new byte[headerLen];
        f.ReadExactly(header);
        JsonObject json;
        try
        {
            json = JsonNode.Parse(header) as JsonObject ?? throw new InvalidDataException("not a JSON object");
            _ = json.Count;                                           // JsonObject parses lazily: duplicate keys surface here
        }
        catch (Exception e) when (e is JsonException or InvalidDataException or InvalidOperationException or ArgumentException)
        {
            throw new InvalidDataException($"{path}: corrupt safetensors header ({e.Message}).");
        }
        var tensors = new List<SafeTensorInfo>();
        var metadata = new Dictionary<string, string>();
        var dataLen = f.Length - 8 - headerLen;
        foreach (var (name, node) in json)
        {
            if (name == "__metadata__")
            {
                // the format allows only string → string here; anything else is a corrupt header, not a crash
                if (node is not JsonObject meta) throw new InvalidDataException($"{path}: corrupt safetensors header: __metadata__ is not an object.");
                foreach (var (k, v) in meta)
                    metadata[k] = v is JsonValue jv && jv.TryGetValue<string>(out var str) ? str
                        : throw new InvalidDataException($"{path}: corrupt safetensors header: __metadata__ key {k} is not a string ({v?.ToJsonString() ?? "null"}).");
                continue;
            }
            var (dtype, shape, offsets) = ParseEntry(node, path, name);
            if (!DTypes.ContainsKey(dtype)) throw new InvalidDataException($"{path}: tensor {name} has unsupported dtype {dtype}.");
            var info = new SafeTensorInfo(name, dtype, shape, offsets[0], offsets[1]);
            long expected;
            try { expected = checked(shape.Aggregate(1L, (a, b) => a * b) * DTypes[dtype].Bytes); }
            catch (OverflowException) { throw new InvalidDataException($"{path}: tensor {name} has an impossible shape [{string.Join(", ", shape)}]."); }
            if (info.Begin < 0 || info.End < info.Begin)
                throw new InvalidDataException($"{path}: tensor {name} has invalid data_offsets [{info.Begin}, {info.End}].");
            if (info.ByteLength != expected || info.End > dataLen)
                throw new InvalidDataException(info.End > dataLen
                    ? $"{path}: truncated: tensor {name} ends at byte {info.End} of the data section but the file holds {dataLen}."
                    : $"{path}: tensor {name} has {info.ByteLength} bytes for shape [{string.Join(", ", shape)}] {dtype} ({expected} expected).");
            tensors.Add(info);
        }
        var ordered = tensors.OrderBy(t => t.Begin).ThenBy(t => t.End).ToList();
        for (var i = 1; i < ordered.Count; i++)
            if (ordered[i].Begin < ordered[i - 1].End)
                throw new InvalidDataException($"{path}: tensors {ordered[i - 1].Name} and {ordered[i].Name} overlap in the data section (corrupt header).");
        return (ordered, metadata, 8 + headerLen);
    }

    /// <summary>One header entry's dtype, shape and data offsets; a missing or ill-typed field is a format error naming the tensor.</summary>
    static (string DType, long[] Shape, long[] Offsets) ParseEntry(JsonNode? node, string path, string name)
    {
        string field = "entry";
        try
        {
            var o = node!.AsObject();
            field = "dtype";
            var dtype = o[field]!.GetValue<string>();
            field = "shape";
            var shape = o[field]!.AsArray().Select(x => x!.GetValue<long>()).ToArray();
            field = "data_offsets";
            var offsets = o[field]!.AsArray().Select(x => x!.GetValue<long>()).ToArray();
            if (offsets.Length != 2 || shape.Any(d => d < 0)) throw new InvalidDataException("wrong length or negative");
            return (dtype, shape, offsets);
        }
        catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException or InvalidDataException)
        {
            throw new InvalidDataException($"{path}: corrupt safetensors header: tensor {name} has a missing or invalid {field}.");
        }
    }

    /// <summary>Reads every tensor (or those <paramref name="keep"/> accepts) in its stored dtype, on the CPU.</summary>
    public static Dictionary<string, Tensor> Load(string path, Func<string, bool>? keep = null)
    {
        using var f = File.OpenRead(path);
        var (infos, _, dataStart) = ReadHeader(f, path);
        var result = new Dictionary<string, Tensor>();
        foreach (var info in infos)
            if (keep is null || keep(info.Name)) result[info.Name] = ReadTensor(f, dataStart, info);
        return result;
    }

    /// <summary>
    /// Reads each tensor for which <paramref name="target"/> gives a destination of the same shape straight into it (a
    /// dtype conversion goes through one temporary tensor); tensors without a destination are skipped unread.
    /// </summary>
    public static void ReadInto(string path, Func<SafeTensorInfo, Tensor?> target)
    {
        using var f = File.OpenRead(path);
        var (infos, _, dataStart) = ReadHeader(f, path);
        foreach (var info in infos)
        {
            if (target(info) is not { } dst) continue;
            if (!dst.shape.SequenceEqual(info.Shape)) throw new InvalidDataException($"{path}: {info.Name} has shape [{string.Join(", ", info.Shape)}], expected [{string.Join(", ", dst.shape)}].");
            if (dst.dtype == DTypes[info.DType].Type && dst.is_contiguous() && dst.device_type == DeviceType.CPU)
            {
                f.Position = dataStart + info.Begin;
                if (info.ByteLength > 0) f.ReadExactly(dst.bytes);
            }
            else
            {
                using var tmp = ReadTensor(f, dataStart, info);
                dst.copy_(tmp);
            }
        }
    }

    /// <summary>Reads one tensor by name without loading the others.</summary>
    public static Tensor LoadTensor(string path, string name)
    {
        using var f = File.OpenRead(path);
        var (infos, _, dataStart) = ReadHeader(f, path);
        var info = infos.FirstOrDefault(i => i.Name == name) ?? throw new KeyNotFoundException($"{path}: no tensor named {name}.");
        return ReadTensor(f, dataStart, info);
    }

    static Tensor ReadTensor(FileStream f, long dataStart, SafeTensorInfo info)
    {
        // Straight into the tensor's native memory (Tensor.bytes is a span over it): no managed copy of the weights.
        var t = empty(info.Shape, DTypes[info.DType].Type);
        f.Position = dataStart + info.Begin;
        if (info.ByteLength > 0) f.ReadExactly(t.bytes);
        return t;
    }

    /// <summary>
    /// Writes tensors (converted to contiguous CPU tensors, dtype kept) and string metadata, atomically: the data goes to a
    /// temporary file in the same folder that replaces <paramref name="path"/> only once complete.
    /// </summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        using var writer = new SafeTensorsWriter(path, list.Select(kv => (kv.Key, DTypeName(kv.Value.dtype), kv.Value.shape)), metadata);
        foreach (var (name, t) in list) writer.Write(name, t);
        writer.Commit();
    }

    /// <summary>The header bytes (JSON, space-padded to a multiple of 8) for tensors laid out back to back in the given order.</summary>
    internal static byte[] Header(IEnumerable<(string Name, string DType, long[] Shape)> tensors, IReadOnlyDictionary<string, string>? metadata,
                                  out List<SafeTensorInfo> layout)
    {
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
            header["__metadata__"] = new JsonObject(metadata.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value))));
        layout = [];
        long offset = 0;
        foreach (var (name, dtype, shape) in tensors)
        {
            if (!DTypes.TryGetValue(dtype, out var d)) throw new ArgumentException($"tensor {name}: unsupported safetensors dtype {dtype}.");
            var n = shape.Aggregate(1L, (a, b) => a * b) * d.Bytes;
            header[name] = new JsonObject
            {
                ["dtype"] = dtype,
                ["shape"] = new JsonArray(shape.Select(s => (JsonNode)JsonValue.Create(s)).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + n),
            };
            layout.Add(new SafeTensorInfo(name, dtype, shape, offset, offset + n));
            offset += n;
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        var padded = new byte[(json.Length + 7) / 8 * 8];                // keep the data 8-byte aligned, as the reference writer does
        json.CopyTo(padded, 0);
        padded.AsSpan(json.Length).Fill((byte)' ');
        return padded;
    }

    internal static void WriteData(Stream stream, Tensor t)
    {
        // Every tensor written goes through here: one on a GPU is copied to the host now, one at a time (on the CPU, a view).
        // The scope owns detach()'s and cpu()'s results: unowned temporaries can be finalised while libtorch reads them.
        using var scope = NewDisposeScope();
        var c = t.detach().cpu().contiguous();
        if (c.numel() > 0) stream.Write(c.bytes);
    }

    internal static Tensor ReadData(FileStream f, long dataStart, SafeTensorInfo info) => ReadTensor(f, dataStart, info);
}

/// <summary>
/// A safetensors file kept open for reading one tensor at a time (streaming merges): the header is parsed once, each
/// <see cref="Read"/> seeks to one tensor and allocates only it.
/// </summary>
public sealed class SafeTensorsReader : IDisposable
{
    readonly FileStream file;
    readonly long dataStart;

    public string Path { get; }
    /// <summary>Entries in file order.</summary>
    public IReadOnlyList<SafeTensorInfo> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    readonly Dictionary<string, SafeTensorInfo> byName;

    public SafeTensorsReader(string path)
    {
        Path = path;
        file = File.OpenRead(path);
        try
        {
            var (infos, metadata, start) = SafeTensors.ReadHeader(path);
            (Tensors, Metadata, dataStart) = (infos, metadata, start);
            byName = infos.ToDictionary(i => i.Name);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public bool Contains(string name) => byName.ContainsKey(name);

    /// <summary>One tensor in its stored dtype, on the CPU.</summary>
    public Tensor Read(string name) => SafeTensors.ReadData(file, dataStart,
        byName.GetValueOrDefault(name) ?? throw new KeyNotFoundException($"{Path}: no tensor named {name}."));

    public void Dispose() => file.Dispose();
}

/// <summary>
/// Writes a safetensors file tensor by tensor: the header (every name, dtype and shape, known in advance) goes first, then
/// each tensor's bytes as it is produced, in header order, so that a writer holds no tensor of its own. The file appears
/// at its path only on <see cref="Commit"/>; disposing without it leaves nothing behind.
/// </summary>
public sealed class SafeTensorsWriter : IDisposable
{
    readonly AtomicFile.Pending pending;
    readonly List<SafeTensorInfo> layout;
    int next;

    public string Path { get; }

    public SafeTensorsWriter(string path, IEnumerable<(string Name, string DType, long[] Shape)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        Path = path;
        var header = SafeTensors.Header(tensors, metadata, out layout);
        pending = AtomicFile.Create(path, size: 8 + header.Length + layout.Sum(t => t.ByteLength));   // fails here on a full disk
        pending.Stream.Write(BitConverter.GetBytes((long)header.Length));
        pending.Stream.Write(header);
    }

    /// <summary>Appends the next tensor; its name, dtype and shape must be those the header announced at this position.</summary>
    public void Write(string name, Tensor t)
    {
        if (next >= layout.Count) throw new InvalidOperationException($"{Path}: tensor {name} written after the last announced tensor.");
        var info = layout[next];
        if (info.Name != name || SafeTensors.DTypeName(t.dtype) != info.DType || !t.shape.SequenceEqual(info.Shape))
            throw new InvalidOperationException($"{Path}: got {name} {SafeTensors.DTypeName(t.dtype)} [{string.Join(", ", t.shape)}] at position {next}, " +
                                                $"the header announced {info.Name} {info.DType} [{string.Join(", ", info.Shape)}].");
        try { SafeTensors.WriteData(pending.Stream, t); }
        catch (IOException e) when (DiskFullException.IsDiskFull(e)) { throw DiskFullException.Wrap(e, Path); }
        next++;
    }

    /// <summary>Checks every announced tensor was written, then moves the file into place.</summary>
    public void Commit()
    {
        if (next != layout.Count) throw new InvalidOperationException($"{Path}: {layout.Count - next} announced tensors were not written.");
        pending.Commit();
    }

    public void Dispose() => pending.Dispose();
}
