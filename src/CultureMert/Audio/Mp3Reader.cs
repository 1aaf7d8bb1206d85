using NLayer;

namespace CultureMert.Audio;

/// <summary>
/// MPEG-1/2 layer I–III through NLayer's managed <see cref="MpegFile"/> (NAudio's Mp3FileReader needs Windows' ACM).
/// NLayer reads LAME's gapless header and drops the encoder delay (576 samples) and end padding, but not the 529-sample
/// synthesis delay of the MP3 decoder itself, so its output lags the source (and ffmpeg's gapless decode) by 529 samples
/// (~12 ms at 44.1 kHz; test Mp3_Mono44100_MatchesSourceWithinCodecError). We leave that as decoded.
/// <see cref="Frames"/> is null because an MP3 has no reliable length field.
/// </summary>
internal sealed class Mp3Reader : IAudioReader
{
    readonly MpegFile file;

    public string Path { get; }
    public int SampleRate { get; }
    public int Channels { get; }
    public long? Frames => null;

    public Mp3Reader(string path)
    {
        Path = path;
        try
        {
            file = new MpegFile(path);
            (SampleRate, Channels) = (file.SampleRate, file.Channels);
        }
        catch (Exception e) when (e is not IOException and not UnauthorizedAccessException)
        {
            throw new InvalidDataException($"{path}: not a decodable MP3 file ({e.GetType().Name}: {e.Message}).", e);
        }
        if (SampleRate <= 0 || Channels <= 0)
        {
            file.Dispose();
            throw new InvalidDataException($"{path}: no MPEG audio frame found (truncated or corrupt MP3).");
        }
    }

    public int Read(float[] buffer) => AudioDecoder.ReadWholeFrames(file.ReadSamples, buffer, Channels);

    public void Dispose() => file.Dispose();
}
