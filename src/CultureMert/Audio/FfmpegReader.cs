using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using CultureMert.Setup;

namespace CultureMert.Audio;

/// <summary>
/// The formats that neither a managed decoder nor libsndfile reads — MP4/M4A (AAC, ALAC), ADTS AAC, ASF (WMA),
/// Matroska/WebM (Opus, Vorbis), CAF — through FFmpeg (Debian's <c>ffmpeg</c>), as interleaved float32 at the stream's
/// native rate and channel count, read from the program's output as the caller asks for it (a long file streams).
/// The <c>ffmpeg</c>/<c>ffprobe</c> programs rather than a binding to libavformat/libavcodec: their command line is the
/// same in every FFmpeg release, while the libraries' structures change with each major version (Debian 12 ships 5.1,
/// Debian 13 7.1), so a binding would work with one of them only.
/// </summary>
internal sealed class FfmpegReader : IAudioReader
{
    readonly Process ffmpeg;
    readonly Stream output;
    readonly StringBuilder errors = new();
    readonly string formatName;
    byte[] bytes = [];
    bool ended, disposed;

    public string Path { get; }
    public int SampleRate { get; }
    public int Channels { get; }
    public long? Frames { get; }

    /// <exception cref="NotSupportedException">FFmpeg is not installed and could not be installed here</exception>
    /// <exception cref="InvalidDataException">the file holds no audio stream FFmpeg can read</exception>
    public FfmpegReader(string path, string formatName)
    {
        (Path, this.formatName) = (path, formatName);
        try { SystemPackages.Require(SystemPackages.Ffmpeg); }
        catch (MissingSystemPackagesException e)
        {
            // one file's error, not the batch's: the other files of a folder may well be WAV or FLAC
            throw new NotSupportedException($"{path}: decoding {formatName} needs FFmpeg. {e.Message}", e);
        }
        (SampleRate, Channels, Frames) = Probe(path, formatName);
        // -ar/-ac state what ffprobe reported, so the rate we declare is the rate we deliver (HE-AAC's SBR doubles it)
        ffmpeg = Start("ffmpeg", ["-nostdin", "-hide_banner", "-loglevel", "error", "-i", path, "-map", "0:a:0",
            "-ar", SampleRate.ToString(CultureInfo.InvariantCulture), "-ac", Channels.ToString(CultureInfo.InvariantCulture),
            "-c:a", "pcm_f32le", "-f", "f32le", "pipe:1"]);
        ffmpeg.ErrorDataReceived += (_, e) => { lock (errors) if (e.Data is not null && errors.Length < 4000) errors.AppendLine(e.Data); };
        ffmpeg.BeginErrorReadLine();
        output = ffmpeg.StandardOutput.BaseStream;
    }

    public int Read(float[] buffer)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var frameBytes = 4 * Channels;
        var want = buffer.Length / Channels * frameBytes;
        if (want == 0 || ended) return 0;
        if (bytes.Length < want) bytes = new byte[want];
        var got = output.ReadAtLeast(bytes.AsSpan(0, want), want, throwOnEndOfStream: false);
        if (got < want) End();                                     // a short read is the end of the program's output
        var frames = got / frameBytes;                             // (a partial last frame only from a killed program)
        MemoryMarshal.Cast<byte, float>(bytes.AsSpan(0, frames * frameBytes)).CopyTo(buffer);   // f32le, as this machine
        return frames;
    }

    /// <summary>At the end of the output: a failed decode (corrupt data, an unsupported codec) is this file's error.</summary>
    void End()
    {
        ended = true;
        ffmpeg.WaitForExit();
        if (ffmpeg.ExitCode != 0)
            throw new InvalidDataException($"{Path}: FFmpeg could not decode this {formatName} file (exit code {ffmpeg.ExitCode}): {Tail()}");
    }

    string Tail()
    {
        lock (errors) return errors.ToString().Trim().ReplaceLineEndings(" ") is { Length: > 0 } e ? e : "no message";
    }

    /// <summary>Rate, channels and (from the stated duration, when there is one) frames of the first audio stream.</summary>
    static (int Rate, int Channels, long? Frames) Probe(string path, string formatName)
    {
        using var probe = Start("ffprobe", ["-v", "error", "-select_streams", "a:0", "-show_entries",
            "stream=sample_rate,channels,duration:format=duration", "-of", "json", path]);
        var stderr = probe.StandardError.ReadToEndAsync();
        var json = probe.StandardOutput.ReadToEnd();
        probe.WaitForExit();
        if (probe.ExitCode != 0)
            throw new InvalidDataException($"{path}: not a readable {formatName} file (ffprobe: {stderr.Result.Trim().ReplaceLineEndings(" ")}).");
        using var doc = JsonDocument.Parse(json);
        var streams = doc.RootElement.TryGetProperty("streams", out var s) ? s : default;
        if (streams.ValueKind != JsonValueKind.Array || streams.GetArrayLength() == 0)
            throw new InvalidDataException($"{path}: the {formatName} file holds no audio stream.");
        var stream = streams[0];
        var rate = int.TryParse(Text(stream, "sample_rate"), CultureInfo.InvariantCulture, out var r) ? r : 0;
        var channels = stream.TryGetProperty("channels", out var c) && c.TryGetInt32(out var n) ? n : 0;
        if (rate <= 0 || channels <= 0)
            throw new InvalidDataException($"{path}: corrupt {formatName} audio stream ({rate} Hz, {channels} channels).");
        var seconds = Text(stream, "duration") ?? (doc.RootElement.TryGetProperty("format", out var f) ? Text(f, "duration") : null);
        long? frames = double.TryParse(seconds, CultureInfo.InvariantCulture, out var d) && d > 0 ? (long)Math.Round(d * rate) : null;
        return (rate, channels, frames);
    }

    static string? Text(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    static Process Start(string program, string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        return Process.Start(start) ?? throw new NotSupportedException($"could not start {program}.");
    }

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        if (!ffmpeg.HasExited)
            try { ffmpeg.Kill(); } catch (InvalidOperationException) { }   // (it ended meanwhile)
        ffmpeg.WaitForExit();
        ffmpeg.Dispose();
    }
}
