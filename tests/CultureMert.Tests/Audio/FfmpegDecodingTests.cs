using System.Diagnostics;
using System.Runtime.InteropServices;
using CultureMert.Audio;
using CultureMert.Setup;

namespace CultureMert.Tests.Audio;

/// <summary>
/// The formats FFmpeg decodes for us (and AIFF and Ogg Opus, which libsndfile keeps), in files that the <c>ffmpeg</c>
/// program makes here from a two-channel signal, each saved under a misleading <c>.wav</c> name so that only the content
/// can choose the decoder. What the decoder yields must equal the <c>ffmpeg</c> program's own float decode
/// (<c>-f f32le</c>) sample for sample, and the lossless ones must equal the PCM source as NAudio reads it.
/// </summary>
public class FfmpegDecodingTests
{
    public FfmpegDecodingTests() => SystemPackages.Require(SystemPackages.Ffmpeg);

    const int Rate = 44100;

    /// <summary>2.5 s of two tones and noise per channel, 16-bit: <c>source.wav</c> in <paramref name="dir"/>.</summary>
    static string Source(Fixtures.TempDir dir)
    {
        var path = dir["source.wav"];
        Ffmpeg(["-f", "lavfi", "-i", $"aevalsrc=0.4*sin(2*PI*440*t)+0.1*random(0)|0.3*sin(2*PI*660*t)+0.1*random(1):s={Rate}:d=2.5",
                 "-c:a", "pcm_s16le", path]);
        return path;
    }

    /// <summary>Runs the ffmpeg program (overwriting its output) and asserts that it succeeded.</summary>
    internal static void Ffmpeg(string[] args) => Run("ffmpeg", ["-nostdin", "-v", "error", "-y", .. args]);

    /// <summary>Runs <paramref name="program"/> to its end, asserting exit code 0 (its stderr in the message); its stdout.</summary>
    static byte[] Run(string program, string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var err = p.StandardError.ReadToEndAsync();
        using var bytes = new MemoryStream();
        p.StandardOutput.BaseStream.CopyTo(bytes);
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{program} {string.Join(' ', args)}: {err.Result}");
        return bytes.ToArray();
    }

    /// <summary>The ffmpeg program's own decode of <paramref name="path"/> to interleaved float32.</summary>
    static float[] FfmpegDecode(string path) =>
        MemoryMarshal.Cast<byte, float>(Run("ffmpeg", ["-nostdin", "-v", "error", "-i", path, "-f", "f32le", "-"])).ToArray();

    static (float[] Samples, int Rate, int Channels) ReadAll(string path)
    {
        using var r = AudioDecoder.Open(path);
        var all = new List<float>();
        var buffer = new float[1000 * r.Channels + 1];
        int n;
        while ((n = r.Read(buffer)) > 0) all.AddRange(buffer.AsSpan(0, n * r.Channels));
        return (all.ToArray(), r.SampleRate, r.Channels);
    }

    /// <summary>Encodes the source with <paramref name="codec"/> into <paramref name="container"/>, then names it .wav.</summary>
    static string Encode(Fixtures.TempDir dir, string source, string container, string[] codec)
    {
        var made = dir[$"made.{container}"];
        Ffmpeg(["-i", source, .. codec, made]);
        var misnamed = dir[$"really-{container}-{codec[1]}.wav"];
        File.Move(made, misnamed);
        return misnamed;
    }

    [Theory]
    [InlineData("m4a", "aac", 44100)]
    [InlineData("m4a", "alac", 44100)]
    [InlineData("aac", "aac", 44100)]                                        // ADTS: a raw AAC stream
    [InlineData("wma", "wmav2", 44100)]
    [InlineData("webm", "libopus", 48000)]
    [InlineData("caf", "alac", 44100)]
    [InlineData("aiff", "pcm_s16be", 44100)]                                 // libsndfile
    public void Decode_EqualsFfmpegsOwnFloatDecode_SampleForSample(string container, string codec, int rate)
    {
        using var dir = new Fixtures.TempDir();
        var path = Encode(dir, Source(dir), container, ["-c:a", codec]);
        var (samples, decodedRate, channels) = ReadAll(path);
        Assert.Equal((rate, 2), (decodedRate, channels));
        var reference = FfmpegDecode(path);
        Assert.True(reference.Length > rate, $"ffmpeg decoded only {reference.Length} samples");
        Assert.Equal(reference, samples);
    }

    [Theory]
    [InlineData("m4a", "alac")]
    [InlineData("caf", "alac")]
    [InlineData("aiff", "pcm_s16be")]
    public void Decode_Lossless_EqualsThePcmSource(string container, string codec)
    {
        using var dir = new Fixtures.TempDir();
        var source = Source(dir);
        var (expected, _, _) = ReadAll(source);                              // NAudio's WAV reader
        Assert.Equal(expected, ReadAll(Encode(dir, source, container, ["-c:a", codec])).Samples);
    }

    [Fact]
    public void Decode_OggOpus_StaysWithLibsndfile_WithinFloatRoundingOfFfmpeg()
    {
        using var dir = new Fixtures.TempDir();
        var path = Encode(dir, Source(dir), "opus", ["-c:a", "libopus"]);
        var (samples, rate, channels) = ReadAll(path);
        Assert.Equal((48000, 2), (rate, channels));
        var reference = FfmpegDecode(path);
        Assert.Equal(reference.Length, samples.Length);
        Assert.True(AudioFixtures.MaxAbsDiff(reference, samples) < 1e-6, $"max |Δ| {AudioFixtures.MaxAbsDiff(reference, samples)}");
    }

    [Fact]
    public void Decode_CorruptMp4_ErrorNamesFile()
    {
        using var dir = new Fixtures.TempDir();
        var path = Encode(dir, Source(dir), "m4a", ["-c:a", "aac"]);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..64]);                               // the ftyp box and a cut moov: no stream
        var e = Assert.Throws<InvalidDataException>(() => ReadAll(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Embed_WithoutFfmpeg_FailsThatFileAlone_NamingThePackage()
    {
        using var dir = new Fixtures.TempDir();
        var music = Directory.CreateDirectory(dir["music"]).FullName;
        var source = Source(dir);
        File.Copy(source, Path.Combine(music, "a.wav"));
        File.Copy(Encode(dir, source, "m4a", ["-c:a", "aac"]), Path.Combine(music, "b.m4a"));
        // a PATH without ffmpeg (nor apt-get): the process can neither find nor install it
        var (code, output) = CliProcess.Run(["embed", "--model", Fixtures.Dir("mert-tiny"), "--out", dir["out"], music], path: "/nonexistent");
        Assert.Equal(1, code);                                               // some files failed
        var index = File.ReadAllText(Path.Combine(dir["out"], "index.csv"));
        Assert.Contains("a.wav", index);
        Assert.Contains("b.m4a", index);
        Assert.Single(index.Split('\n'), l => l.Contains(",ok,"));
        Assert.Contains("needs FFmpeg", output);
        Assert.Contains("apt-get install --no-install-recommends ffmpeg", output);
        Assert.Contains(Path.Combine(music, "b.m4a"), output);
    }
}
