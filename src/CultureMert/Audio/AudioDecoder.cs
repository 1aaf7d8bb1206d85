using System.Text;

namespace CultureMert.Audio;

/// <summary>
/// Opens any supported audio file as an <see cref="IAudioReader"/> at its native rate. The format is sniffed from the
/// first bytes, falling back to the extension, so a mis-named file still decodes. Decoders: WAV → NAudio.Core, MP3 →
/// NLayer, Ogg Vorbis → NVorbis (all managed); FLAC, AIFF and other Ogg codecs (Opus, FLAC-in-Ogg) → native libsndfile;
/// MP4/M4A (AAC, ALAC), ADTS AAC, WMA, Matroska/WebM and CAF → FFmpeg. The exact decoders keep the formats they read
/// (libsndfile's Ogg Opus is libopus's float output). Every reader is wrapped so that NaN/Inf samples, a stream with 0
/// frames and decoder exceptions surface as <see cref="InvalidDataException"/> naming the file.
/// </summary>
public static class AudioDecoder
{
    enum Format { Wav, Flac, Mp3, Vorbis, OtherOgg, Aiff, Mp4, Adts, Asf, Matroska, Caf }

    /// <summary>A container or codec we read: its name in messages, the extensions that stand for it, its decoder (given the path and the name).</summary>
    sealed record Decoder(Format Format, string Name, string[] Extensions, Func<string, string, IAudioReader> Open);

    static readonly Decoder[] Decoders =
    [
        new(Format.Wav, "WAV", [".wav", ".wave"], (p, _) => new WavReader(p)),
        new(Format.Flac, "FLAC", [".flac"], (p, name) => new SndFileReader(p, name)),
        new(Format.Aiff, "AIFF", [".aif", ".aiff", ".aifc"], (p, name) => new SndFileReader(p, name)),
        new(Format.Mp3, "MP3", [".mp3"], (p, _) => new Mp3Reader(p)),
        new(Format.Vorbis, "Ogg Vorbis", [".ogg", ".oga"], (p, _) => new VorbisReader(p)),
        new(Format.OtherOgg, "Ogg", [".opus"], (p, name) => new SndFileReader(p, name)),
        new(Format.Mp4, "MP4/M4A", [".m4a", ".mp4", ".alac"], (p, name) => new FfmpegReader(p, name)),
        new(Format.Adts, "AAC", [".aac"], (p, name) => new FfmpegReader(p, name)),
        new(Format.Asf, "WMA/ASF", [".wma"], (p, name) => new FfmpegReader(p, name)),
        new(Format.Matroska, "Matroska/WebM", [".webm", ".mka"], (p, name) => new FfmpegReader(p, name)),
        new(Format.Caf, "CAF", [".caf"], (p, name) => new FfmpegReader(p, name)),
    ];

    /// <summary>Every extension that stands for a format we read (a folder's audio files are those with one of them).</summary>
    public static readonly string[] Extensions = [.. Decoders.SelectMany(d => d.Extensions)];

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
        var ext = System.IO.Path.GetExtension(path).ToLowerInvariant();
        var decoder = Sniff(head.AsSpan(0, n)) is { } sniffed ? Decoders.Single(d => d.Format == sniffed)
            : Decoders.FirstOrDefault(d => d.Extensions.Contains(ext)) ?? throw new NotSupportedException(
                $"{path}: unsupported audio format (extension \"{ext}\", content not recognised as " +
                $"{string.Join(", ", Decoders.Select(d => d.Name))}); supported: {string.Join(' ', Extensions)}.");
        var reader = decoder.Open(path, decoder.Name);
        var declared = reader switch
        {
            WavReader wav => wav.DeclaredFrames,                          // the data chunk's size (NAudio's Frames is clamped to the file)
            SndFileReader => reader.Frames,                               // FLAC's STREAMINFO total
            _ => null,
        };
        var unended = decoder.Format is Format.Vorbis or Format.OtherOgg && !OggEndsWithEndOfStream(path);
        return new CheckedReader(reader, declared, unended);
    }

    /// <summary>
    /// The rule for a file cut short (README of reliability): when the header declares more frames than the file holds, up to
    /// this fraction missing is a warning in the index row (the audio present is used), more is an error for that file.
    /// </summary>
    public const double MaxMissingFraction = 0.01;

    /// <summary>
    /// Whether the last complete Ogg page of the file carries the end-of-stream flag (header type bit 2), as every finished
    /// encoder writes it. An Ogg stream states no total length up front: a stream cut short ends on an ordinary page
    /// (a page cut in the middle is not complete and is ignored), so how much is missing is unknown.
    /// </summary>
    internal static bool OggEndsWithEndOfStream(string path)
    {
        using var f = File.OpenRead(path);
        var tail = new byte[(int)Math.Min(f.Length, 1 << 17)];             // an Ogg page is at most 65,307 bytes
        f.Seek(-tail.Length, SeekOrigin.End);
        f.ReadExactly(tail);
        for (var at = tail.AsSpan().LastIndexOf("OggS"u8); at >= 0; at = tail.AsSpan(0, at).LastIndexOf("OggS"u8))
        {
            if (at + 27 > tail.Length) continue;
            int segments = tail[at + 26], body = 0;
            if (at + 27 + segments > tail.Length) continue;
            for (var i = 0; i < segments; i++) body += tail[at + 27 + i];
            if (at + 27 + segments + body != tail.Length) continue;      // not a complete page ending the file
            return (tail[at + 5] & 0x04) != 0;
        }
        return false;
    }

    /// <summary>The GUID that opens every ASF (WMA) file: 75B22630-668E-11CF-A6D9-00AA0062CE6C.</summary>
    static ReadOnlySpan<byte> AsfHeader => [0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11, 0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62, 0xCE, 0x6C];

    static Format? Sniff(ReadOnlySpan<byte> h)
    {
        if (h.Length >= 12 && h[..4].SequenceEqual("RIFF"u8) && h[8..12].SequenceEqual("WAVE"u8)) return Format.Wav;
        if (h.Length >= 4 && h[..4].SequenceEqual("fLaC"u8)) return Format.Flac;
        if (h.Length >= 4 && h[..4].SequenceEqual("OggS"u8))
            // the first page carries the codec's identification header: "\x01vorbis", "OpusHead", "\x7fFLAC"
            return h.IndexOf("\u0001vorbis"u8) >= 0 ? Format.Vorbis : Format.OtherOgg;
        if (h.Length >= 12 && h[..4].SequenceEqual("FORM"u8) && (h[8..12].SequenceEqual("AIFF"u8) || h[8..12].SequenceEqual("AIFC"u8))) return Format.Aiff;
        if (h.Length >= 8 && h[4..8].SequenceEqual("ftyp"u8)) return Format.Mp4;
        if (h.Length >= 16 && h[..16].SequenceEqual(AsfHeader)) return Format.Asf;
        if (h.Length >= 4 && h[..4].SequenceEqual((ReadOnlySpan<byte>)[0x1A, 0x45, 0xDF, 0xA3])) return Format.Matroska;  // EBML
        if (h.Length >= 4 && h[..4].SequenceEqual("caff"u8)) return Format.Caf;
        if (h.Length >= 3 && h[..3].SequenceEqual("ID3"u8)) return Format.Mp3;
        if (h.Length >= 2 && h[0] == 0xFF && (h[1] & 0xE0) == 0xE0 && (h[1] & 0x06) != 0) return Format.Mp3;  // sync + a layer
        if (h.Length >= 2 && h[0] == 0xFF && (h[1] & 0xF6) == 0xF0) return Format.Adts;                       // sync + layer 0
        return null;
    }

    /// <summary>
    /// The checks every decoder shares: finite samples, at least one frame, errors that name the file, and at the end a file
    /// cut short (<paramref name="declared"/> frames in the header, or an Ogg stream <paramref name="unended"/>): a warning
    /// (<see cref="AudioWarnings"/>) up to <see cref="MaxMissingFraction"/> missing, an error beyond.
    /// </summary>
    sealed class CheckedReader(IAudioReader inner, long? declared, bool unended) : IAudioReader
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
            if (frames == 0) CheckLength();
            var samples = buffer.AsSpan(0, frames * Channels);
            for (var i = 0; i < samples.Length; i++)
                if (!float.IsFinite(samples[i]))
                    throw new InvalidDataException($"{Path}: contains NaN/Inf samples (first at frame {total + i / Channels}, channel {i % Channels}).");
            total += frames;
            return frames;
        }

        void CheckLength()
        {
            if (declared is { } d && d > total)
            {
                var missing = (double)(d - total) / d;
                var what = FormattableString.Invariant(
                    $"cut short: the header declares {d} frames ({(double)d / SampleRate:0.###} s), the file holds {total} ({missing:0.##%} missing)");
                if (missing > MaxMissingFraction)
                    throw new InvalidDataException($"{Path}: {what}; more than {MaxMissingFraction:0%} missing is an error (repair or re-export the file).");
                AudioWarnings.Report(Path, what);
            }
            else if (unended)
                AudioWarnings.Report(Path, "cut short: the Ogg stream ends without its end-of-stream page (how much is missing is unknown)");
        }

        public void Dispose() => inner.Dispose();
    }
}

/// <summary>
/// Warnings about a file that decoded (cut short by a little): reported by the decoder, wherever it runs (a read-ahead
/// thread included), and taken by the batch job into the file's index row.
/// </summary>
public static class AudioWarnings
{
    static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> byPath = new();

    internal static void Report(string path, string warning) => byPath[System.IO.Path.GetFullPath(path)] = warning;

    /// <summary>The warning about <paramref name="path"/> since it was last taken, or null.</summary>
    public static string? Peek(string path) => byPath.GetValueOrDefault(System.IO.Path.GetFullPath(path));

    /// <summary>The warning about <paramref name="path"/> since it was last taken, or null; removes it.</summary>
    public static string? Take(string path) => byPath.TryRemove(System.IO.Path.GetFullPath(path), out var w) ? w : null;
}
