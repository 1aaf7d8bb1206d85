using System.IO.Compression;
using System.Text;
using CultureMert.Checkpoints;

namespace CultureMert.Tests.Checkpoints;

/// <summary>
/// Weight files crafted to break a reader (overlapping or reversed data ranges, overflowing shapes, duplicate keys,
/// pickles with impossible tensor views or nonsense opcodes, shard names that leave the folder): each must be a clear
/// <see cref="InvalidDataException"/> naming the file, never a crash, a hang or a huge allocation.
/// </summary>
public class HostileCheckpointTests
{
    static string WriteSafetensors(Fixtures.TempDir dir, string headerJson, int dataBytes)
    {
        var path = dir["model.safetensors"];
        var header = Encoding.UTF8.GetBytes(headerJson);
        using var f = File.Create(path);
        f.Write(BitConverter.GetBytes((long)header.Length));
        f.Write(header);
        f.Write(new byte[dataBytes]);
        return path;
    }

    [Theory]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12, "overlap")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}""", 4, "invalid data_offsets")]
    [InlineData("""{"a":{"dtype":"F32","shape":[3,715827883,2147483647],"data_offsets":[4,0]}}""", 4, "impossible shape")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 4, "corrupt safetensors header")]
    [InlineData("""[]""", 0, "corrupt safetensors header")]
    public void SafeTensorsHeader_Hostile_InvalidDataNamingFile(string header, int dataBytes, string expected)
    {
        using var dir = new Fixtures.TempDir();
        var path = WriteSafetensors(dir, header, dataBytes);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.ReadHeader(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    /// <summary>A torch.save-shaped zip holding <paramref name="pickle"/> and one 4-byte float storage "0".</summary>
    static string WriteBin(Fixtures.TempDir dir, byte[] pickle)
    {
        var path = dir["pytorch_model.bin"];
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        using (var s = zip.CreateEntry("archive/data.pkl").Open()) s.Write(pickle);
        using (var s = zip.CreateEntry("archive/data/0").Open()) s.Write(new byte[4]);
        return path;
    }

    /// <summary>Pickle protocol 2 for {"w": _rebuild_tensor_v2(storage "0" (1 float), offset, size, stride, False, OrderedDict())}.</summary>
    static byte[] TensorPickle(long offset, long size, long stride)
    {
        var b = new List<byte> { 0x80, 2, (byte)'}', (byte)'(' };
        void Str(string s) { var u = Encoding.UTF8.GetBytes(s); b.Add((byte)'X'); b.AddRange(BitConverter.GetBytes(u.Length)); b.AddRange(u); }
        void Global(string module, string name) { b.Add((byte)'c'); b.AddRange(Encoding.ASCII.GetBytes($"{module}\n{name}\n")); }
        void Long(long v) { b.Add(0x8a); b.Add(8); b.AddRange(BitConverter.GetBytes(v)); }
        Str("w");
        Global("torch._utils", "_rebuild_tensor_v2");
        b.Add((byte)'(');
        b.Add((byte)'('); Str("storage"); Global("torch", "FloatStorage"); Str("0"); Str("cpu"); b.Add((byte)'K'); b.Add(1); b.Add((byte)'t');
        b.Add((byte)'Q');
        Long(offset);
        Long(size); b.Add(0x85);
        Long(stride); b.Add(0x85);
        b.Add(0x89);
        Global("collections", "OrderedDict"); b.Add((byte)')'); b.Add((byte)'R');
        b.Add((byte)'t'); b.Add((byte)'R');
        b.Add((byte)'u'); b.Add((byte)'.');
        return b.ToArray();
    }

    [Theory]
    [InlineData(0L, 100_000_000_000L, 0L, "expanded view")]       // 400 GB of zeros from 4 bytes, if materialised
    [InlineData(0L, 2L, -1L, "invalid size/stride/offset")]
    [InlineData(-5L, 1L, 1L, "invalid size/stride/offset")]
    [InlineData(0L, 2L, 1L, "needs 2 elements but its storage holds 1")]
    public void TorchPickle_ImpossibleView_InvalidDataNamingFileAndTensor(long offset, long size, long stride, string expected)
    {
        using var dir = new Fixtures.TempDir();
        var path = WriteBin(dir, TensorPickle(offset, size, stride));
        var e = Assert.Throws<InvalidDataException>(() => TorchPickle.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void TorchPickle_WellFormedSingleTensor_Loads()
    {
        // The same builder with a valid view: shows the hostile cases above fail for their one defect only.
        using var dir = new Fixtures.TempDir();
        var state = TorchPickle.Load(WriteBin(dir, TensorPickle(0, 1, 1)));
        Assert.Equal(new long[] { 1 }, state["w"].shape);
    }

    [Theory]
    [InlineData(new byte[] { 0x80, 2, (byte)'N', (byte)')', (byte)'R', (byte)'.' })]           // REDUCE on None
    [InlineData(new byte[] { 0x80, 2, (byte)'J', 1, 2 })]                                       // BININT cut short
    [InlineData(new byte[] { 0x80, 2, (byte)'h', 7, (byte)'.' })]                               // BINGET of nothing
    public void TorchPickle_MalformedOpcodes_CorruptPickleNamingFile(byte[] pickle)
    {
        using var dir = new Fixtures.TempDir();
        var path = WriteBin(dir, pickle);
        var e = Assert.Throws<InvalidDataException>(() => TorchPickle.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("corrupt pickle data", e.Message);
    }

    [Fact]
    public void ShardIndex_NameOutsideFolder_Refused()
    {
        using var dir = new Fixtures.TempDir();
        foreach (var f in new[] { "config.json", "preprocessor_config.json" }) File.Copy(Path.Combine(Fixtures.Dir("mert-tiny"), f), dir[f]);
        File.WriteAllText(dir["model.safetensors.index.json"], """{"weight_map":{"masked_spec_embed":"../mert-tiny/model.safetensors"}}""");
        var e = Assert.Throws<InvalidDataException>(() => MertCheckpoint.Load(dir.Path));
        Assert.Contains("model.safetensors.index.json", e.Message);
        Assert.Contains("not a file name in the model folder", e.Message);
    }
}
