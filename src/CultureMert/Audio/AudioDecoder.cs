using System.Text;

namespace CultureMert.Audio;

/// <summary>
/// Opens any supported audio file as an <see cref="IAudioReader"/> at its native rate. The format is sniffed from the
/// first bytes (RIFF/WAVE, fLaC, ID3 or an MPEG frame sync, OggS), falling back to the extension, so a mis-named file
/// still decodes. Decoders: WAV → NAudio.Core, MP3 → NLayer, Ogg Vorbis → NVorbis (all managed); FLAC and other Ogg
/// codecs (Opus, FLAC-in-Ogg) → native libsndfile. Every reader is wrapped so that NaN/Inf samples, a stream with 0 frames
/// and decoder exceptions surface as <see cref="InvalidDataException"/> naming the file.
/// </summary>
public static class AudioDecoder
{
    public static readonly string[] Extensions = [".wav", ".wave", ".flac", ".mp3", ".ogg", ".oga"];

    /// <summary>
    /// Fills <paramref name="buffer"/> with whole interleaved frames from a decoder whose <c>ReadSamples(buffer, offset,
    /// count)</c> may return fewer samples than asked before the end (NLayer, NVorbis); returns the frames read.
    /// </summary>
    internal static int ReadWholeFrames(Func<float[], int, int, int> readSamples, float[] buffer, int channels)
    {
        var want = buffer.Length / channels * channels;
        var got = 0;
        while (got < want)
        {
            var n = readSamples(buffer, got, want - got);
            if (n <= 0) break;
            got += n;
        }
        return got / channels;
    }

    /// <summary>True when the extension is one we decode (case-insensitive).</summary>
    public static bool IsAudioFile(string path) =>
        Extensions.Contains(System.IO.Path.GetExtension(path).ToLowerInvariant());

    public static IAudioReader Open(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"{path}: no such audio file.", path);
        if (info.Length == 0) throw new InvalidDataException($"{path}: empty file (0 bytes).");
        var head = new byte[64];
        int n;
        using (var f = File.OpenRead(path)) n = f.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        var format = Sniff(head.AsSpan(0, n)) ?? System.IO.Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".wav" or ".wave" => Format.Wav,
            ".flac" => Format.Flac,
            ".mp3" => Format.Mp3,
            ".ogg" or ".oga" => Format.Vorbis,
            var ext => throw new NotSupportedException(
                $"{path}: unsupported audio format (extension \"{ext}\", content not recognised as WAV, FLAC, MP3 or Ogg); " +
                $"supported: {string.Join(' ', Extensions)}."),
        };
        IAudioReader reader = format switch
        {
            Format.Wav => new WavReader(path),
            Format.Mp3 => new Mp3Reader(path),
            Format.Vorbis => new VorbisReader(path),
            Format.Flac => new SndFileReader(path, "FLAC"),
            _ => new SndFileReader(path, "Ogg"),
        };
        return new CheckedReader(reader);
    }

    enum Format { Wav, Flac, Mp3, Vorbis, OtherOgg }

    static Format? Sniff(ReadOnlySpan<byte> h)
    {
        if (h.Length >= 12 && h[..4].SequenceEqual("RIFF"u8) && h[8..12].SequenceEqual("WAVE"u8)) return Format.Wav;
        if (h.Length >= 4 && h[..4].SequenceEqual("fLaC"u8)) return Format.Flac;
        if (h.Length >= 4 && h[..4].SequenceEqual("OggS"u8))
            // the first page carries the codec's identification header: "\x01vorbis", "OpusHead", "\x7fFLAC"
            return h.IndexOf("\u0001vorbis"u8) >= 0 ? Format.Vorbis : Format.OtherOgg;
        if (h.Length >= 3 && h[..3].SequenceEqual("ID3"u8)) return Format.Mp3;
        if (h.Length >= 2 && h[0] == 0xFF && (h[1] & 0xE0) == 0xE0 && (h[1] & 0x06) != 0) return Format.Mp3;  // sync + a layer
        return null;
    }

    /// <summary>The checks every decoder shares: finite samples, at least one frame, errors that name the file.</summary>
    sealed class CheckedReader(IAudioReader inner) : IAudioReader
    {
        long total;

        public string Path => inner.Path;
        public int SampleRate => inner.SampleRate;
        public int Channels => inner.Channels;
        public long? Frames => inner.Frames;

        public int Read(float[] buffer)
        {
            if (buffer.Length < Channels)
                throw new ArgumentException($"{Path}: buffer of {buffer.Length} floats holds no whole frame of {Channels} channels.", nameof(buffer));
            int frames;
            try { frames = inner.Read(buffer); }
            catch (Exception e) when (e is not InvalidDataException and not NotSupportedException and not IOException and not ObjectDisposedException)
            {
                throw new InvalidDataException($"{Path}: corrupt audio data after {total} frames ({e.GetType().Name}: {e.Message}).", e);
            }
            if (frames == 0 && total == 0)
                throw new InvalidDataException($"{Path}: 0 audio frames after decoding (empty or truncated file).");
            var samples = buffer.AsSpan(0, frames * Channels);
            for (var i = 0; i < samples.Length; i++)
                if (!float.IsFinite(samples[i]))
                    throw new InvalidDataException($"{Path}: contains NaN/Inf samples (first at frame {total + i / Channels}, channel {i % Channels}).");
            total += frames;
            return frames;
        }

        public void Dispose() => inner.Dispose();
    }
}
