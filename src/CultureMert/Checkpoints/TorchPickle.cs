using System.IO.Compression;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Checkpoints;

/// <summary>
/// Reads a PyTorch zip checkpoint (<c>torch.save</c> of a state dict, e.g. HF <c>pytorch_model.bin</c>) without running
/// pickle code. Written here instead of using TorchSharp.PyBridge's Razorvine-based unpickler because a checkpoint is
/// untrusted input: this reader knows only the opcodes that a state dict uses and only an allow-list of globals
/// (OrderedDict, the tensor rebuild functions and the typed storages), and rejects anything else with its name.
/// </summary>
public static class TorchPickle
{
    sealed record Global(string Module, string Name);
    sealed record StorageRef(ScalarType DType, string Key);
    sealed record TensorRef(StorageRef Storage, long Offset, long[] Size, long[] Stride);
    sealed class Mark { public static readonly Mark Instance = new(); }

    static readonly Dictionary<string, ScalarType> Storages = new()
    {
        ["FloatStorage"] = ScalarType.Float32, ["HalfStorage"] = ScalarType.Float16, ["BFloat16Storage"] = ScalarType.BFloat16,
        ["DoubleStorage"] = ScalarType.Float64, ["LongStorage"] = ScalarType.Int64, ["IntStorage"] = ScalarType.Int32,
        ["ShortStorage"] = ScalarType.Int16, ["CharStorage"] = ScalarType.Int8, ["ByteStorage"] = ScalarType.Byte, ["BoolStorage"] = ScalarType.Bool,
    };

    static readonly HashSet<string> AllowedGlobals =
    [
        "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
        .. Storages.Keys.Select(k => "torch." + k),
    ];

    /// <summary>All tensors of the state dict in <paramref name="path"/>, by name, in their stored dtype.</summary>
    public static Dictionary<string, Tensor> Load(string path)
    {
        ZipArchive zip;
        try { zip = ZipFile.OpenRead(path); }
        catch (InvalidDataException)
        {
            throw new InvalidDataException($"{path}: not a PyTorch zip checkpoint (a legacy pre-1.6 torch.save file or a corrupt/truncated file); " +
                                           "re-save it with torch.save(state_dict, path) or convert it to model.safetensors.");
        }
        using (zip)
        {
            var pkl = zip.Entries.FirstOrDefault(e => e.FullName.EndsWith("/data.pkl") || e.FullName == "data.pkl")
                      ?? throw new InvalidDataException($"{path}: no data.pkl inside the archive (not a torch.save checkpoint).");
            var root = pkl.FullName[..^"data.pkl".Length];
            object? obj;
            try
            {
                using var s = pkl.Open();
                using var ms = new MemoryStream();
                s.CopyTo(ms);
                obj = new Machine(ms.ToArray(), path).Run();
            }
            catch (Exception e) when (e is not InvalidDataException)
            {
                // Malformed pickle bytes surface as whatever the machine tripped over (a short read, a wrong type on the
                // stack, a missing memo entry): all of them mean the same thing to the user.
                throw new InvalidDataException($"{path}: corrupt pickle data ({e.GetType().Name}: {e.Message}).");
            }
            if (obj is not Dictionary<object, object?> dict)
                throw new InvalidDataException($"{path}: the pickle holds a {obj?.GetType().Name ?? "None"}, not a state dict of tensors.");
            var result = new Dictionary<string, Tensor>();
            var storages = new Dictionary<string, Tensor>();
            foreach (var (k, v) in dict)
            {
                if (k is not string name) throw new InvalidDataException($"{path}: state dict key {k} is not a string.");
                if (v is not TensorRef tr) throw new InvalidDataException($"{path}: {name} is not a tensor ({v?.GetType().Name ?? "None"}).");
                if (!storages.TryGetValue(tr.Storage.Key, out var storage))
                {
                    var entry = zip.GetEntry(root + "data/" + tr.Storage.Key)
                                ?? throw new InvalidDataException($"{path}: storage data/{tr.Storage.Key} of {name} is missing from the archive (truncated file?).");
                    storages[tr.Storage.Key] = storage = ReadStorage(entry, tr.Storage.DType, path, name);
                }
                CheckView(tr, storage.numel(), path, name);
                result[name] = storage.as_strided(tr.Size, tr.Stride, tr.Offset).clone();
            }
            foreach (var s in storages.Values) s.Dispose();
            return result;
        }
    }

    /// <summary>
    /// A tensor is a strided view of its storage; the view must lie inside it. A state dict never holds a view with more
    /// elements than its storage (that takes stride 0, an expanded tensor), so such a header is treated as corrupt rather
    /// than materialised (it could ask for any amount of memory).
    /// </summary>
    static void CheckView(TensorRef t, long storageNumel, string path, string name)
    {
        if (t.Size.Length != t.Stride.Length || t.Offset < 0 || t.Size.Any(s => s < 0) || t.Stride.Any(s => s < 0))
            throw new InvalidDataException($"{path}: {name} has an invalid size/stride/offset ({string.Join(",", t.Size)} / {string.Join(",", t.Stride)} / {t.Offset}).");
        if (t.Size.Any(s => s == 0)) return;
        try
        {
            var numel = t.Size.Aggregate(1L, (a, s) => checked(a * s));
            var needed = checked(t.Offset + t.Size.Zip(t.Stride, (s, st) => checked((s - 1) * st)).Aggregate(0L, (a, b) => checked(a + b)) + 1);
            if (needed > storageNumel)
                throw new InvalidDataException($"{path}: {name} needs {needed} elements but its storage holds {storageNumel} (truncated file?).");
            if (numel > storageNumel)
                throw new InvalidDataException($"{path}: {name} has {numel} elements but its storage only {storageNumel} (an expanded view, not a state dict tensor).");
        }
        catch (OverflowException) { throw new InvalidDataException($"{path}: {name} has an impossible size [{string.Join(", ", t.Size)}]."); }
    }

    static Tensor ReadStorage(ZipArchiveEntry entry, ScalarType dtype, string path, string name)
    {
        using var s = entry.Open();
        using var probe = empty(0, dtype);
        var elementSize = probe.ElementSize;
        if (entry.Length % elementSize != 0) throw new InvalidDataException($"{path}: storage of {name} has {entry.Length} bytes, not a multiple of {elementSize}.");
        var t = empty(entry.Length / elementSize, dtype);
        try { if (entry.Length > 0) s.ReadExactly(t.bytes); }   // little-endian, as torch.save writes (archive/byteorder)
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
        {
            t.Dispose();
            throw new InvalidDataException($"{path}: storage of {name} is corrupt or truncated ({e.Message}).");
        }
        return t;
    }

    /// <summary>A pickle virtual machine restricted to what <c>torch.save(state_dict)</c> emits (protocols 2–5).</summary>
    sealed class Machine(byte[] data, string path)
    {
        readonly List<object?> stack = [];
        readonly Dictionary<long, object?> memo = [];
        int pos;

        byte U8() => data[pos++];
        ushort U16() { var v = BitConverter.ToUInt16(data, pos); pos += 2; return v; }
        int I32() { var v = BitConverter.ToInt32(data, pos); pos += 4; return v; }
        long I64() { var v = BitConverter.ToInt64(data, pos); pos += 8; return v; }
        string Utf8(long n) { if (pos + n > data.Length) throw new EndOfStreamException("string past the end"); var s = Encoding.UTF8.GetString(data, pos, (int)n); pos += (int)n; return s; }
        string Line() { var end = Array.IndexOf(data, (byte)'\n', pos); if (end < 0) throw new EndOfStreamException("unterminated line"); var s = Encoding.ASCII.GetString(data, pos, end - pos); pos = end + 1; return s; }
        void Push(object? o) => stack.Add(o);
        object? Pop() { var o = stack[^1]; stack.RemoveAt(stack.Count - 1); return o; }
        List<object?> PopMark()
        {
            var i = stack.FindLastIndex(o => o is Mark);
            if (i < 0) throw new InvalidOperationException("no MARK on the stack");
            var items = stack.GetRange(i + 1, stack.Count - i - 1);
            stack.RemoveRange(i, stack.Count - i);
            return items;
        }

        public object? Run()
        {
            while (true)
            {
                if (pos >= data.Length) throw new EndOfStreamException("pickle ended without STOP");
                var op = U8();
                switch (op)
                {
                    case 0x80: U8(); break;                                    // PROTO
                    case 0x95: pos += 8; break;                                // FRAME
                    case (byte)'.': return Pop();                              // STOP
                    case (byte)'}': Push(new Dictionary<object, object?>()); break;  // EMPTY_DICT
                    case (byte)']': Push(new List<object?>()); break;          // EMPTY_LIST
                    case (byte)')': Push(Array.Empty<object?>()); break;       // EMPTY_TUPLE
                    case (byte)'(': Push(Mark.Instance); break;                // MARK
                    case (byte)'N': Push(null); break;                         // NONE
                    case 0x88: Push(true); break;                              // NEWTRUE
                    case 0x89: Push(false); break;                             // NEWFALSE
                    case (byte)'K': Push((long)U8()); break;                   // BININT1
                    case (byte)'M': Push((long)U16()); break;                  // BININT2
                    case (byte)'J': Push((long)I32()); break;                  // BININT
                    case 0x8a:                                                 // LONG1
                    {
                        int n = U8(); long v = 0;
                        for (var i = 0; i < n; i++) v |= (long)data[pos + i] << (8 * i);
                        if (n is > 0 and < 8 && (data[pos + n - 1] & 0x80) != 0) v -= 1L << (8 * n);
                        pos += n; Push(v); break;
                    }
                    case (byte)'G': { var b = data.AsSpan(pos, 8).ToArray(); Array.Reverse(b); Push(BitConverter.ToDouble(b)); pos += 8; break; } // BINFLOAT (big-endian)
                    case (byte)'X': Push(Utf8((uint)I32())); break;            // BINUNICODE
                    case 0x8c: Push(Utf8(U8())); break;                        // SHORT_BINUNICODE
                    case (byte)'T': Push(Utf8((uint)I32())); break;            // BINSTRING
                    case (byte)'U': Push(Utf8(U8())); break;                   // SHORT_BINSTRING
                    case (byte)'q': memo[U8()] = stack[^1]; break;             // BINPUT
                    case (byte)'r': memo[(uint)I32()] = stack[^1]; break;      // LONG_BINPUT
                    case 0x94: memo[memo.Count] = stack[^1]; break;            // MEMOIZE
                    case (byte)'h': Push(memo[U8()]); break;                   // BINGET
                    case (byte)'j': Push(memo[(uint)I32()]); break;            // LONG_BINGET
                    case (byte)'t': Push(PopMark().ToArray()); break;          // TUPLE
                    case 0x85: Push(new[] { Pop() }); break;                   // TUPLE1
                    case 0x86: { var b = Pop(); var a = Pop(); Push(new[] { a, b }); break; }              // TUPLE2
                    case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new[] { a, b, c }); break; } // TUPLE3
                    case (byte)'a': { var v = Pop(); ((List<object?>)stack[^1]!).Add(v); break; }          // APPEND
                    case (byte)'e': { var items = PopMark(); ((List<object?>)stack[^1]!).AddRange(items); break; } // APPENDS
                    case (byte)'s': { var v = Pop(); var k = Pop()!; ((Dictionary<object, object?>)stack[^1]!)[k] = v; break; } // SETITEM
                    case (byte)'u':                                            // SETITEMS
                    {
                        var items = PopMark();
                        var d = (Dictionary<object, object?>)stack[^1]!;
                        for (var i = 0; i + 1 < items.Count; i += 2) d[items[i]!] = items[i + 1];
                        break;
                    }
                    case (byte)'c':                                            // GLOBAL
                    {
                        var module = Line(); var name = Line();
                        Push(CheckGlobal(module, name)); break;
                    }
                    case 0x93: { var name = (string)Pop()!; var module = (string)Pop()!; Push(CheckGlobal(module, name)); break; } // STACK_GLOBAL
                    case (byte)'Q': Push(PersistentLoad(Pop())); break;        // BINPERSID
                    case (byte)'R': { var args = (object?[])Pop()!; var f = (Global)Pop()!; Push(Call(f, args)); break; } // REDUCE
                    case 0x81: { var args = (object?[])Pop()!; var f = (Global)Pop()!; Push(Call(f, args)); break; }      // NEWOBJ
                    case (byte)'b': Pop(); break;                              // BUILD: only OrderedDict._metadata; not needed
                    default:
                        throw new InvalidDataException($"{path}: pickle opcode 0x{op:x2} at byte {pos - 1} is not allowed in a state-dict checkpoint.");
                }
            }
        }

        Global CheckGlobal(string module, string name)
        {
            var full = $"{module}.{name}";
            if (!AllowedGlobals.Contains(full))
                throw new InvalidDataException($"{path}: the pickle references {full}, which a plain state dict of tensors never needs; refusing to load it (untrusted code).");
            return new Global(module, name);
        }

        object PersistentLoad(object? pid)
        {
            // ('storage', torch.FloatStorage, key, location, numel)
            if (pid is object?[] { Length: >= 3 } t && t[0] is "storage" && t[1] is Global g && Storages.TryGetValue(g.Name, out var dtype))
                return new StorageRef(dtype, t[2]!.ToString()!);
            throw new InvalidDataException($"{path}: unsupported persistent id in pickle.");
        }

        static long[] Longs(object? o) => ((object?[])o!).Select(x => (long)x!).ToArray();

        object? Call(Global f, object?[] args) => f.Name switch
        {
            "OrderedDict" => new Dictionary<object, object?>(),
            "_rebuild_tensor_v2" => new TensorRef((StorageRef)args[0]!, (long)args[1]!, Longs(args[2]), Longs(args[3])),
            "_rebuild_parameter" => args[0],                                       // (tensor, requires_grad, hooks)
            _ => throw new InvalidDataException($"{path}: {f.Module}.{f.Name} cannot be called here."),
        };
    }
}
