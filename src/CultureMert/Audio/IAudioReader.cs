namespace CultureMert.Audio;

/// <summary>
/// A decoder positioned at the start of one audio file, yielding interleaved float32 frames at the file's native rate.
/// Opened by <see cref="AudioDecoder.Open"/>, which also checks every block for NaN/Inf and the stream for 0 frames.
/// </summary>
public interface IAudioReader : IDisposable
{
    string Path { get; }
    /// <summary>Native rate of the file, in Hz.</summary>
    int SampleRate { get; }
    int Channels { get; }
    /// <summary>Total frames if the container says so, else null.</summary>
    long? Frames { get; }
    /// <summary>Reads up to buffer.Length / Channels frames, interleaved float32 in [-1, 1]; returns frames read, 0 at end of stream.</summary>
    int Read(float[] buffer);
}
