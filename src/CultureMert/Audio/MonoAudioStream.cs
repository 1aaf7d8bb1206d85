namespace CultureMert.Audio;

/// <summary>
/// Decode → mono → resample, streaming: what MERT's Hugging Face usage does with
/// <c>torchaudio.load</c>, <c>waveform.mean(0)</c> and <c>torchaudio.transforms.Resample(sr, 24000)</c>, but one block at a
/// time, so memory stays flat in the file's length (a decode block, the resampler's filter history, one output block).
/// </summary>
public sealed class MonoAudioStream : IDisposable
{
    const int BlockFrames = 16384;

    readonly IAudioReader reader;
    readonly Resampler resampler;
    readonly float[] block, mono;
    readonly List<float> pending = [];          // resampled samples not yet handed out
    int pendingPos;
    bool ended;

    public string Path => reader.Path;
    public int SourceRate => reader.SampleRate;
    public int SourceChannels => reader.Channels;
    public int TargetRate { get; }
    /// <summary>From the container when it states the length (WAV, FLAC, Ogg), else null (MP3).</summary>
    public double? DurationSeconds => reader.Frames is { } f ? (double)f / reader.SampleRate : null;

    MonoAudioStream(IAudioReader reader, int targetRate)
    {
        (this.reader, TargetRate) = (reader, targetRate);
        resampler = new Resampler(reader.SampleRate, targetRate);
        block = new float[BlockFrames * reader.Channels];
        mono = new float[BlockFrames];
    }

    /// <summary>Highest source rate and channel count accepted: beyond them a header is corrupt, not unusual.</summary>
    public const int MaxSampleRate = 768_000, MaxChannels = 256;

    public static MonoAudioStream Open(string path, int targetRate)
    {
        if (targetRate <= 0) throw new ArgumentOutOfRangeException(nameof(targetRate), $"{path}: target sample rate must be positive (got {targetRate}).");
        return Open(AudioDecoder.Open(path), targetRate);
    }

    /// <summary>The same over an open reader (a decoder, or samples already in memory), which the stream then owns.</summary>
    public static MonoAudioStream Open(IAudioReader reader, int targetRate)
    {
        var path = reader.Path;
        try
        {
            if (targetRate <= 0) throw new ArgumentOutOfRangeException(nameof(targetRate), $"{path}: target sample rate must be positive (got {targetRate}).");
            if (reader.SampleRate is <= 0 or > MaxSampleRate)
                throw new InvalidDataException($"{path}: implausible sample rate {reader.SampleRate} Hz (corrupt header?); supported: 1 to {MaxSampleRate} Hz.");
            if (reader.Channels is <= 0 or > MaxChannels)
                throw new InvalidDataException($"{path}: implausible channel count {reader.Channels} (corrupt header?); supported: 1 to {MaxChannels}.");
            return new MonoAudioStream(reader, targetRate);
        }
        catch
        {
            reader.Dispose();
            throw;
        }
    }

    /// <summary>Fills up to buffer.Length mono samples at <see cref="TargetRate"/>; returns the count, 0 at the end.</summary>
    public int Read(float[] buffer)
    {
        while (pending.Count - pendingPos < buffer.Length && !ended) Decode();
        var n = Math.Min(buffer.Length, pending.Count - pendingPos);
        pending.CopyTo(pendingPos, buffer, 0, n);
        pendingPos += n;
        if (pendingPos > BlockFrames)                                      // keep the queue short
        {
            pending.RemoveRange(0, pendingPos);
            pendingPos = 0;
        }
        return n;
    }

    void Decode()
    {
        var frames = reader.Read(block);
        if (frames == 0)
        {
            resampler.Flush(pending);
            ended = true;
            return;
        }
        var c = reader.Channels;
        if (c == 1) block.AsSpan(0, frames).CopyTo(mono);
        else
            for (var i = 0; i < frames; i++)
            {
                var sum = 0f;                                              // float32 sum then divide, as torch's mean(0)
                for (var ch = 0; ch < c; ch++) sum += block[i * c + ch];
                mono[i] = sum / c;
            }
        resampler.Process(mono.AsSpan(0, frames), pending);
    }

    public void Dispose() => reader.Dispose();
}
