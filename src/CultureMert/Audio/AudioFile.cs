using System.Buffers.Binary;
using CultureMert.IO;

namespace CultureMert.Audio;

/// <summary>Whole-file conveniences over <see cref="MonoAudioStream"/>, and a float WAV writer for outputs and tests.</summary>
public static class AudioFile
{
    /// <summary>The whole file as mono float32 at <paramref name="targetRate"/> (torchaudio load → mean(0) → resample).</summary>
    public static float[] ReadMono(string path, int targetRate)
    {
        using var stream = MonoAudioStream.Open(path, targetRate);
        var capacity = stream.DurationSeconds is { } d ? (int)Math.Min(int.MaxValue / 2, Math.Ceiling(d * targetRate) + 1) : 1 << 16;
        var all = new List<float>(capacity);
        var buffer = new float[1 << 16];
        int n;
        while ((n = stream.Read(buffer)) > 0) all.AddRange(buffer.AsSpan(0, n));
        return all.ToArray();
    }

    /// <summary>
    /// Writes a mono 32-bit IEEE float WAV (format tag 3, 16-byte fmt chunk, no fact chunk — readers accept either),
    /// atomically: a reader never sees a half-written file.
    /// </summary>
    public static void WriteWav(string path, ReadOnlySpan<float> mono, int sampleRate)
    {
        if (sampleRate <= 0) throw new ArgumentOutOfRangeException(nameof(sampleRate), $"{path}: sample rate must be positive (got {sampleRate}).");
        if ((long)mono.Length * 4 > uint.MaxValue - 36) throw new ArgumentException($"{path}: {mono.Length} samples exceed the 4 GiB WAV limit.", nameof(mono));
        var data = new byte[44 + mono.Length * 4L];
        var h = data.AsSpan();
        "RIFF"u8.CopyTo(h);
        BinaryPrimitives.WriteUInt32LittleEndian(h[4..], (uint)(data.Length - 8));
        "WAVEfmt "u8.CopyTo(h[8..]);
        BinaryPrimitives.WriteInt32LittleEndian(h[16..], 16);             // fmt chunk size
        BinaryPrimitives.WriteInt16LittleEndian(h[20..], 3);              // WAVE_FORMAT_IEEE_FLOAT
        BinaryPrimitives.WriteInt16LittleEndian(h[22..], 1);              // channels
        BinaryPrimitives.WriteInt32LittleEndian(h[24..], sampleRate);
        BinaryPrimitives.WriteInt32LittleEndian(h[28..], sampleRate * 4); // bytes per second
        BinaryPrimitives.WriteInt16LittleEndian(h[32..], 4);              // block align
        BinaryPrimitives.WriteInt16LittleEndian(h[34..], 32);             // bits per sample
        "data"u8.CopyTo(h[36..]);
        BinaryPrimitives.WriteUInt32LittleEndian(h[40..], (uint)(mono.Length * 4));
        for (var i = 0; i < mono.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(h[(44 + 4 * i)..], mono[i]);
        AtomicFile.Write(path, s => s.Write(data));
    }
}
