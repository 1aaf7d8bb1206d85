using System.Buffers.Binary;
using CultureMert.Audio;
using static CultureMert.Tests.Audio.AudioFixtures;

namespace CultureMert.Tests.Audio;

/// <summary>Decode → mean(0) → resample, end to end, against torchaudio goldens and hand-computed signals.</summary>
[Collection(ProcessWideMeasurements.Name)]
public class MonoAudioStreamTests
{
    /// <summary>resample_44100's stereo input as an interleaved float32 WAV, written by the test's own writer.</summary>
    static string StereoGoldenWav(Fixtures.TempDir dir)
    {
        var stereo = Floats("resample_44100.safetensors", "input");          // (2, T)
        var t = stereo.Length / 2;
        var interleaved = new float[2 * t];
        for (var i = 0; i < t; i++) (interleaved[2 * i], interleaved[2 * i + 1]) = (stereo[i], stereo[t + i]);
        var path = dir["stereo44100.wav"];
        System.IO.File.WriteAllBytes(path, Wav(3, 2, 44100, 32, Float32Bytes(interleaved)));
        return path;
    }

    [Fact]
    public void AudioFile_ReadMonoStereo44100_MatchesTorchaudio()
    {
        using var dir = new Fixtures.TempDir();
        var y = AudioFile.ReadMono(StereoGoldenWav(dir), 24000);
        Assert.InRange(MaxAbsDiff(y, Floats("resample_44100.safetensors", "output")), 0, 1e-5);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(333)]
    [InlineData(100_000)]
    public void MonoAudioStream_AnyReadSize_MatchesTorchaudio(int readSize)
    {
        using var dir = new Fixtures.TempDir();
        using var s = MonoAudioStream.Open(StereoGoldenWav(dir), 24000);
        Assert.Equal((44100, 2, 24000), (s.SourceRate, s.SourceChannels, s.TargetRate));
        Assert.Equal(26417 / 44100.0, s.DurationSeconds);
        var all = new List<float>();
        var buffer = new float[readSize];
        int n;
        while ((n = s.Read(buffer)) > 0) all.AddRange(buffer.AsSpan(0, n));
        Assert.Equal(0, s.Read(buffer));                                     // stays at the end
        Assert.InRange(MaxAbsDiff(all.ToArray(), Floats("resample_44100.safetensors", "output")), 0, 1e-5);
    }

    [Fact]
    public void MonoAudioStream_LongFile_MemoryFlat()
    {
        // 10 minutes of a 440 Hz int16 sine at 16 kHz (19 MB), written in pieces; resampled to 24 kHz it would be 58 MB of
        // floats if anything held on to it
        const int rate = 16000, seconds = 600, frames = rate * seconds;
        using var dir = new Fixtures.TempDir();
        var path = dir["long.wav"];
        using (var f = System.IO.File.Create(path))
        {
            f.Write(Wav(1, 1, rate, 16, [])[..40]);
            f.Write(BitConverter.GetBytes(frames * 2));
            var chunk = new byte[2 * rate];
            for (var sec = 0; sec < seconds; sec++)
            {
                for (var i = 0; i < rate; i++)                               // 440 Hz: a whole number of periods per second
                    BinaryPrimitives.WriteInt16LittleEndian(chunk.AsSpan(2 * i), (short)Math.Round(16384 * Math.Sin(2 * Math.PI * 440 * i / rate)));
                f.Write(chunk);
            }
        }

        var baseline = GC.GetTotalMemory(true);
        long peak = 0, count = 0;
        using (var s = MonoAudioStream.Open(path, 24000))
        {
            Assert.Equal(600.0, s.DurationSeconds);
            var buffer = new float[1 << 16];
            int n, reads = 0;
            while ((n = s.Read(buffer)) > 0)
            {
                if (count > 24000 * 10 && count < 24000 * 11)                 // seconds 10–11: compare with the analytic sine
                    for (var i = 0; i < n; i += 97)
                        Assert.InRange(buffer[i] - 0.5 * Math.Sin(2 * Math.PI * 440 * (count + i) / 24000.0), -2e-3, 2e-3);
                count += n;
                if (++reads % 40 == 0) peak = Math.Max(peak, GC.GetTotalMemory(true) - baseline);
            }
        }
        Assert.Equal(24000L * seconds, count);                               // ceil(3 · T / 2), 16000 → 24000 is 2 → 3
        Assert.InRange(peak, long.MinValue, 8L << 20);                       // a few blocks, never the file
    }

    [Fact]
    public void MonoAudioStream_NonPositiveTargetRate_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => MonoAudioStream.Open(File("wav_pcm16.wav"), 0));

    [Fact]
    public void AudioFile_WriteWav_WritesFloat32MonoHeaderAndSamples()
    {
        using var dir = new Fixtures.TempDir();
        var path = dir["out/x.wav"];
        AudioFile.WriteWav(path, [0.5f, -1f, 0.25f], 24000);
        var b = System.IO.File.ReadAllBytes(path);
        Assert.Equal(44 + 12, b.Length);
        Assert.Equal("RIFF", System.Text.Encoding.ASCII.GetString(b, 0, 4));
        Assert.Equal(48, BitConverter.ToInt32(b, 4));                        // RIFF size = file − 8
        Assert.Equal("WAVEfmt ", System.Text.Encoding.ASCII.GetString(b, 8, 8));
        Assert.Equal((16, (short)3, (short)1, 24000, 96000, (short)4, (short)32),
            (BitConverter.ToInt32(b, 16), BitConverter.ToInt16(b, 20), BitConverter.ToInt16(b, 22), BitConverter.ToInt32(b, 24),
             BitConverter.ToInt32(b, 28), BitConverter.ToInt16(b, 32), BitConverter.ToInt16(b, 34)));
        Assert.Equal("data", System.Text.Encoding.ASCII.GetString(b, 36, 4));
        Assert.Equal(12, BitConverter.ToInt32(b, 40));
        Assert.Equal([0.5f, -1f, 0.25f], new[] { BitConverter.ToSingle(b, 44), BitConverter.ToSingle(b, 48), BitConverter.ToSingle(b, 52) });
        Assert.Single(Directory.GetFiles(dir["out"]));                       // no temporary file left behind
        Assert.Equal([0.5f, -1f, 0.25f], AudioFile.ReadMono(path, 24000));   // same rate: passed through unchanged
    }
}
