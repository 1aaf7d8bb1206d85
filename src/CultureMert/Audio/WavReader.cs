using NAudio.Wave;

namespace CultureMert.Audio;

/// <summary>
/// RIFF/WAVE through NAudio.Core's <see cref="WaveFileReader"/> (managed, cross-platform; it parses the chunks and hands
/// out the raw data bytes). The sample conversion is ours rather than NAudio's <c>ToSampleProvider()</c> because that
/// has no path for WAVE_FORMAT_EXTENSIBLE and we want scipy/torchaudio's integer scaling spelled out: uint8 (x − 128)/128,
/// int16 x/2^15, int24 x/2^23, int32 x/2^31; float32 as stored; float64 rounded to float32.
/// A data chunk that claims more bytes than the file holds (an interrupted recording) decodes what is there, whole
/// frames only; NAudio clamps the declared data length to the file, so <see cref="Frames"/> then counts the whole frames
/// present (test Wav_DataChunkCutShort_DecodesWhatIsThere).
/// </summary>
internal sealed class WavReader : IAudioReader
{
    // KSDATAFORMAT_SUBTYPE_PCM / _IEEE_FLOAT (mmreg.h): the format tag in the first 4 bytes of the base GUID
    static readonly Guid SubtypePcm = new("00000001-0000-0010-8000-00aa00389b71");
    static readonly Guid SubtypeFloat = new("00000003-0000-0010-8000-00aa00389b71");

    enum Kind { UInt8, Int16, Int24, Int32, Float32, Float64 }

    readonly WaveFileReader reader;
    readonly Kind kind;
    readonly int bytesPerSample, blockAlign;
    byte[] scratch = [];

    public string Path { get; }
    public int SampleRate { get; }
    public int Channels { get; }
    public long? Frames { get; }

    /// <summary>Frames the data chunk's header declares, which may exceed what the file holds (null: the streaming sizes 0 and 0xFFFFFFFF).</summary>
    public long? DeclaredFrames { get; }

    public WavReader(string path)
    {
        Path = path;
        try { reader = new WaveFileReader(path); }
        catch (Exception e) when (e is FormatException or EndOfStreamException or InvalidDataException or ArgumentException)
        {
            throw new InvalidDataException($"{path}: truncated or corrupt WAV header ({e.Message}).", e);
        }
        try
        {
            var fmt = reader.WaveFormat;
            var encoding = fmt.Encoding;
            if (encoding == WaveFormatEncoding.Extensible)                // 0xFFFE: the real encoding is the SubFormat GUID
            {
                var sub = SubFormat(fmt) ?? throw new InvalidDataException($"{path}: WAVE_FORMAT_EXTENSIBLE fmt chunk too short for its SubFormat GUID.");
                encoding = sub == SubtypePcm ? WaveFormatEncoding.Pcm
                    : sub == SubtypeFloat ? WaveFormatEncoding.IeeeFloat
                    : throw new NotSupportedException($"{path}: WAVE_FORMAT_EXTENSIBLE sub-format {sub} is not supported (PCM or IEEE float only).");
            }
            kind = (encoding, fmt.BitsPerSample) switch
            {
                (WaveFormatEncoding.Pcm, 8) => Kind.UInt8,
                (WaveFormatEncoding.Pcm, 16) => Kind.Int16,
                (WaveFormatEncoding.Pcm, 24) => Kind.Int24,
                (WaveFormatEncoding.Pcm, 32) => Kind.Int32,
                (WaveFormatEncoding.IeeeFloat, 32) => Kind.Float32,
                (WaveFormatEncoding.IeeeFloat, 64) => Kind.Float64,
                _ => throw new NotSupportedException(
                    $"{path}: WAV encoding {encoding} with {fmt.BitsPerSample} bits per sample is not supported " +
                    "(PCM 8/16/24/32-bit or IEEE float 32/64-bit)."),
            };
            (SampleRate, Channels) = (fmt.SampleRate, fmt.Channels);
            bytesPerSample = fmt.BitsPerSample / 8;
            blockAlign = bytesPerSample * Channels;
            if (SampleRate <= 0 || Channels <= 0 || fmt.BlockAlign != blockAlign)
                throw new InvalidDataException($"{path}: corrupt WAV fmt chunk ({SampleRate} Hz, {Channels} channels, block align {fmt.BlockAlign}).");
            Frames = reader.Length / blockAlign;
            DeclaredFrames = DeclaredDataBytes(path) is { } bytes ? bytes / blockAlign : null;
        }
        catch
        {
            reader.Dispose();
            throw;
        }
    }

    /// <summary>The size field of the RIFF "data" chunk, walking the chunks from the start (NAudio keeps only the clamped length).</summary>
    static long? DeclaredDataBytes(string path)
    {
        using var f = File.OpenRead(path);
        var head = new byte[8];
        f.Seek(12, SeekOrigin.Begin);                                    // "RIFF" size "WAVE"
        while (f.ReadAtLeast(head, 8, throwOnEndOfStream: false) == 8)
        {
            var size = BitConverter.ToUInt32(head, 4);
            if (head.AsSpan(0, 4).SequenceEqual("data"u8)) return size is 0 or uint.MaxValue ? null : size;
            f.Seek(size + (size & 1), SeekOrigin.Current);                // chunks are padded to even sizes
        }
        return null;
    }

    static Guid? SubFormat(WaveFormat fmt)
    {
        // NAudio's WaveFileReader returns the extensible fmt as WaveFormatExtraData (cbSize 22 bytes: valid bits, channel
        // mask, SubFormat GUID), not as WaveFormatExtensible, so we read the GUID from the extra bytes ourselves
        if (fmt is WaveFormatExtensible ext) return ext.SubFormat;
        if (fmt is WaveFormatExtraData extra && extra.ExtraData.Length >= 22) return new Guid(extra.ExtraData.AsSpan(6, 16));
        return null;
    }

    public int Read(float[] buffer)
    {
        var frames = buffer.Length / Channels;
        if (frames == 0) return 0;
        var want = frames * blockAlign;
        if (scratch.Length < want) scratch = new byte[want];
        var got = 0;
        // Read may return less than asked; NAudio insists on whole blocks, so a partial block means the file ended mid-frame
        while (got < want && got % blockAlign == 0)
        {
            var n = reader.Read(scratch, got, want - got);
            if (n <= 0) break;
            got += n;
        }
        frames = got / blockAlign;                                        // a cut-off last frame is dropped
        Convert(scratch.AsSpan(0, frames * blockAlign), buffer.AsSpan(0, frames * Channels));
        return frames;
    }

    void Convert(ReadOnlySpan<byte> b, Span<float> y)
    {
        switch (kind)
        {
            case Kind.UInt8:
                for (var i = 0; i < y.Length; i++) y[i] = (b[i] - 128) / 128f;
                break;
            case Kind.Int16:
                for (var i = 0; i < y.Length; i++) y[i] = BitConverter.ToInt16(b.Slice(2 * i, 2)) / 32768f;
                break;
            case Kind.Int24:
                for (var i = 0; i < y.Length; i++)
                    y[i] = ((b[3 * i] | b[3 * i + 1] << 8 | (sbyte)b[3 * i + 2] << 16)) / 8388608f;
                break;
            case Kind.Int32:
                // float(x) then an exact division by 2^31: the same rounding as torch's x.float() / 2**31
                for (var i = 0; i < y.Length; i++) y[i] = BitConverter.ToInt32(b.Slice(4 * i, 4)) / 2147483648f;
                break;
            case Kind.Float32:
                for (var i = 0; i < y.Length; i++) y[i] = BitConverter.ToSingle(b.Slice(4 * i, 4));
                break;
            case Kind.Float64:
                for (var i = 0; i < y.Length; i++) y[i] = (float)BitConverter.ToDouble(b.Slice(8 * i, 8));
                break;
        }
    }

    public void Dispose() => reader.Dispose();
}
