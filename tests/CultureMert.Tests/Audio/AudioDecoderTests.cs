using CultureMert.Audio;
using static CultureMert.Tests.Audio.AudioFixtures;

namespace CultureMert.Tests.Audio;

/// <summary>
/// Decoders against files made by scipy/sox/flac/lame/oggenc from known signals (fixtures/audio/make_goldens.py):
/// lossless formats must decode sample-exactly to what scipy's scaling gives, lossy ones within codec error.
/// </summary>
public class AudioDecoderTests
{
    static (float[] Samples, IAudioReader Info) ReadAll(string path)
    {
        using var r = AudioDecoder.Open(path);
        var all = new List<float>();
        var buffer = new float[1000 * r.Channels + 1];                      // not a multiple of anything the files use
        int n;
        while ((n = r.Read(buffer)) > 0) all.AddRange(buffer.AsSpan(0, n * r.Channels));
        return (all.ToArray(), r);
    }

    [Theory]
    [InlineData("wav_pcm8")]
    [InlineData("wav_pcm16")]
    [InlineData("wav_pcm24")]                                                // sox writes 24-bit as WAVE_FORMAT_EXTENSIBLE
    [InlineData("wav_pcm32")]
    [InlineData("wav_float32")]
    [InlineData("wav_float64")]
    [InlineData("wav_ext_pcm16")]
    [InlineData("wav_ext_float32")]
    public void Wav_EachSampleFormat_DecodesExactly(string name)
    {
        var (samples, r) = ReadAll(File(name + ".wav"));
        Assert.Equal((16000, 2, 1999L), (r.SampleRate, r.Channels, r.Frames));
        Assert.Equal(Floats("wav_expected.safetensors", name), samples);    // (frames, channels) interleaved, bit-exact
    }

    [Fact]
    public void Wav_Pcm24_DecodesExactly()
    {
        var (samples, _) = ReadAll(File("wav_pcm24.wav"));
        Assert.Equal(-1f, samples[0]);                                       // int24 −2^23 / 2^23, hand-computed
        Assert.Equal(Floats("wav_expected.safetensors", "wav_pcm24"), samples);
    }

    [Fact]
    public void Wav_Pcm8_UsesUnsignedOffset()
    {
        using var dir = new Fixtures.TempDir();
        System.IO.File.WriteAllBytes(dir["u8.wav"], Wav(1, 1, 8000, 8, [0, 64, 128, 192, 255]));
        Assert.Equal([-1f, -0.5f, 0f, 0.5f, 127f / 128], ReadAll(dir["u8.wav"]).Samples);   // (x − 128) / 128
    }

    [Fact]
    public void Flac_Stereo_MatchesSource()
    {
        var (samples, r) = ReadAll(File("flac_s16_stereo.flac"));
        Assert.Equal((16000, 2, 1999L), (r.SampleRate, r.Channels, r.Frames));
        Assert.Equal(Floats("wav_expected.safetensors", "wav_pcm16"), samples);   // FLAC is lossless: int16 / 2^15 exactly
    }

    [Fact]
    public void Mp3_Mono44100_MatchesSourceWithinCodecError()
    {
        var source = Floats("lossy_source.safetensors", "mono44100");
        var (samples, r) = ReadAll(File("lossy_mono44100.mp3"));
        Assert.Equal((44100, 1), (r.SampleRate, r.Channels));
        Assert.Null(r.Frames);
        // NLayer honours LAME's gapless header (drops the 576-sample encoder delay and the end padding, so the length is
        // the source's) but not the 529-sample MDCT synthesis delay of every MP3 decoder (ffmpeg drops 576 + 529):
        // the output is the source shifted right by 529 samples
        Assert.Equal(source.Length, samples.Length);
        var lag = BestLag(samples, source.AsSpan(0, source.Length - 1200).ToArray(), 1200);
        Assert.InRange(lag, 529 - 1, 529 + 1);
        AssertCloseToSource(samples.AsSpan(lag), source.AsSpan(0, source.Length - lag).ToArray(), minCorrelation: 0.998, maxRms: 0.03);   // signal RMS ≈ 0.32
    }

    [Fact]
    public void Ogg_Mono22050_MatchesSourceWithinCodecError()
    {
        var source = Floats("lossy_source.safetensors", "mono22050");
        var (samples, r) = ReadAll(File("lossy_mono22050.ogg"));
        Assert.Equal((22050, 1, (long?)22050), (r.SampleRate, r.Channels, r.Frames));
        Assert.Equal(source.Length, samples.Length);                         // Vorbis is gapless: no delay, no padding
        Assert.Equal(0, BestLag(samples, source, 100));
        AssertCloseToSource(samples, source, minCorrelation: 0.999, maxRms: 0.01);
    }

    [Fact]
    public void Decoder_EmptyFile_ThrowsNamingFile()
    {
        using var dir = new Fixtures.TempDir();
        var path = dir["empty.wav"];
        System.IO.File.WriteAllBytes(path, []);
        var e = Assert.Throws<InvalidDataException>(() => AudioDecoder.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("0 bytes", e.Message);
    }

    [Theory]
    [InlineData("wav_pcm16.wav", 20)]                                        // cut inside the fmt chunk
    [InlineData("wav_pcm16.wav", 4)]                                         // "RIFF" only: sniffed by extension
    [InlineData("flac_s16_stereo.flac", 30)]                                 // cut inside STREAMINFO
    [InlineData("lossy_mono22050.ogg", 40)]                                  // cut inside the first Ogg page
    public void Decoder_TruncatedHeader_Throws(string name, int bytes)
    {
        using var dir = new Fixtures.TempDir();
        var path = dir[name];
        System.IO.File.WriteAllBytes(path, System.IO.File.ReadAllBytes(File(name))[..bytes]);
        var e = Assert.Throws<InvalidDataException>(() => ReadAll(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Decoder_NaNSamples_Throws()
    {
        using var dir = new Fixtures.TempDir();
        var path = dir["nan.wav"];
        System.IO.File.WriteAllBytes(path, Wav(3, 1, 16000, 32, Float32Bytes([0.1f, 0.2f, float.NaN, 0.3f])));
        var e = Assert.Throws<InvalidDataException>(() => ReadAll(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("NaN/Inf", e.Message);
    }

    [Fact]
    public void Decoder_InfSamples_Throws()
    {
        using var dir = new Fixtures.TempDir();
        var path = dir["inf.wav"];
        System.IO.File.WriteAllBytes(path, Wav(3, 1, 16000, 32, Float32Bytes([0.1f, float.PositiveInfinity])));
        Assert.Contains("NaN/Inf", Assert.Throws<InvalidDataException>(() => ReadAll(path)).Message);
    }

    [Fact]
    public void Decoder_ZeroFrames_ThrowsNamingFile()
    {
        using var dir = new Fixtures.TempDir();
        var path = dir["silent.wav"];
        System.IO.File.WriteAllBytes(path, Wav(1, 1, 16000, 16, []));
        var e = Assert.Throws<InvalidDataException>(() => ReadAll(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("0 audio frames", e.Message);
    }

    [Theory]
    [InlineData("notes.txt")]
    [InlineData("song.xyz")]
    public void Decoder_UnsupportedFormat_ThrowsNotSupported(string name)
    {
        using var dir = new Fixtures.TempDir();
        var path = dir[name];
        System.IO.File.WriteAllText(path, "this is not audio at all");
        var e = Assert.Throws<NotSupportedException>(() => AudioDecoder.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(".flac", e.Message);                                 // lists what is supported
    }

    [Fact]
    public void Decoder_GarbageWithWavExtension_ThrowsInvalidData()
    {
        using var dir = new Fixtures.TempDir();
        var path = dir["fake.wav"];
        System.IO.File.WriteAllText(path, "this is not audio at all, just text in a .wav file");
        Assert.Contains(path, Assert.Throws<InvalidDataException>(() => AudioDecoder.Open(path)).Message);
    }

    [Fact]
    public void Decoder_MisnamedFlac_SniffedByContent()
    {
        using var dir = new Fixtures.TempDir();
        var path = dir["really-a-flac.mp3"];
        System.IO.File.Copy(File("flac_s16_stereo.flac"), path);
        Assert.Equal(Floats("wav_expected.safetensors", "wav_pcm16"), ReadAll(path).Samples);
    }

    [Theory]
    [InlineData("a.wav", true)]
    [InlineData("b.WAVE", true)]
    [InlineData("dir/c.Flac", true)]
    [InlineData("d.mp3", true)]
    [InlineData("e.ogg", true)]
    [InlineData("f.oga", true)]
    [InlineData("g.txt", false)]
    [InlineData("h.aiff", true)]
    [InlineData("i.M4A", true)]
    [InlineData("j.opus", true)]
    [InlineData("k.mid", false)]
    [InlineData("wav", false)]
    public void AudioDecoder_IsAudioFile_ByExtension(string path, bool expected) =>
        Assert.Equal(expected, AudioDecoder.IsAudioFile(path));

    static int BestLag(float[] decoded, float[] source, int maxLag)
    {
        var (best, bestDot) = (0, double.MinValue);
        for (var lag = 0; lag <= maxLag && lag + source.Length <= decoded.Length; lag++)
        {
            var dot = 0.0;
            for (var i = 0; i < source.Length; i += 3) dot += (double)decoded[lag + i] * source[i];
            if (dot > bestDot) (best, bestDot) = (lag, dot);
        }
        return best;
    }

    static void AssertCloseToSource(ReadOnlySpan<float> decoded, float[] source, double minCorrelation, double maxRms)
    {
        double sxy = 0, sxx = 0, syy = 0, err = 0;
        for (var i = 0; i < source.Length; i++)
        {
            sxy += (double)decoded[i] * source[i]; sxx += (double)decoded[i] * decoded[i]; syy += (double)source[i] * source[i];
            err += Math.Pow(decoded[i] - source[i], 2);
        }
        Assert.InRange(sxy / Math.Sqrt(sxx * syy), minCorrelation, 1.0);
        Assert.InRange(Math.Sqrt(err / source.Length), 0, maxRms);
    }
}
