namespace CultureMert.Audio;

/// <summary>
/// Samples already in memory as an <see cref="IAudioReader"/>: interleaved float32 frames at their own rate, so they
/// take the same mono-mix and resampling path as a decoded file. <see cref="IAudioReader.Path"/> is the caller's name
/// for them, used in messages. Non-finite samples are refused when the reader is made, naming the first.
/// </summary>
public sealed class MemoryAudioReader : IAudioReader
{
    readonly float[] samples;
    long position;                                         // in samples (frames × channels)

    public MemoryAudioReader(string name, float[] interleaved, int sampleRate, int channels)
    {
        if (channels <= 0) throw new ArgumentOutOfRangeException(nameof(channels), $"{name}: {channels} channels.");
        if (interleaved.Length % channels != 0)
            throw new ArgumentException($"{name}: {interleaved.Length} samples are not a whole number of {channels}-channel frames.");
        for (var i = 0; i < interleaved.Length; i++)
            if (!float.IsFinite(interleaved[i]))
                throw new ArgumentException($"{name}: sample {i} (frame {i / channels}, channel {i % channels}) is {interleaved[i]}; audio must be finite.");
        (Path, samples, SampleRate, Channels) = (name, interleaved, sampleRate, channels);
    }

    public string Path { get; }
    public int SampleRate { get; }
    public int Channels { get; }
    public long? Frames => samples.Length / Channels;

    public int Read(float[] buffer)
    {
        var n = (int)Math.Min(buffer.Length / Channels * Channels, samples.Length - position);
        Array.Copy(samples, position, buffer, 0, n);
        position += n;
        return n / Channels;
    }

    public void Dispose() { }
}
