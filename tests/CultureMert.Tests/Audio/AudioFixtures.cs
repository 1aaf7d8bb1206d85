using System.Buffers.Binary;
using CultureMert.Checkpoints;
using TorchSharp;

namespace CultureMert.Tests.Audio;

/// <summary>
/// fixtures/audio (made by fixtures/audio/make_goldens.py with torchaudio 0.13.1, scipy, sox, flac, lame, oggenc) and a
/// WAV writer of our own for synthetic inputs, independent of the code under test.
/// </summary>
static class AudioFixtures
{
    public static string File(string name) => Path.Combine(Fixtures.Dir("audio"), name);

    public static float[] Floats(string safetensors, string tensor)
    {
        using var t = SafeTensors.LoadTensor(File(safetensors), tensor);
        return t.data<float>().ToArray();
    }

    /// <summary>A canonical 44-byte-header WAV: format tag 1 (PCM) or 3 (float), little-endian sample bytes as given.</summary>
    public static byte[] Wav(int formatTag, int channels, int rate, int bits, byte[] data)
    {
        var block = channels * bits / 8;
        var h = new byte[44];
        "RIFF"u8.CopyTo(h);
        BinaryPrimitives.WriteInt32LittleEndian(h.AsSpan(4), 36 + data.Length);
        "WAVEfmt "u8.CopyTo(h.AsSpan(8));
        BinaryPrimitives.WriteInt32LittleEndian(h.AsSpan(16), 16);
        BinaryPrimitives.WriteInt16LittleEndian(h.AsSpan(20), (short)formatTag);
        BinaryPrimitives.WriteInt16LittleEndian(h.AsSpan(22), (short)channels);
        BinaryPrimitives.WriteInt32LittleEndian(h.AsSpan(24), rate);
        BinaryPrimitives.WriteInt32LittleEndian(h.AsSpan(28), rate * block);
        BinaryPrimitives.WriteInt16LittleEndian(h.AsSpan(32), (short)block);
        BinaryPrimitives.WriteInt16LittleEndian(h.AsSpan(34), (short)bits);
        "data"u8.CopyTo(h.AsSpan(36));
        BinaryPrimitives.WriteInt32LittleEndian(h.AsSpan(40), data.Length);
        return [.. h, .. data];
    }

    public static byte[] Float32Bytes(ReadOnlySpan<float> x)
    {
        var b = new byte[x.Length * 4];
        for (var i = 0; i < x.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(4 * i), x[i]);
        return b;
    }

    public static double MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(b.Length, a.Length);
        var m = 0.0;
        for (var i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs((double)a[i] - b[i]));
        return m;
    }
}
