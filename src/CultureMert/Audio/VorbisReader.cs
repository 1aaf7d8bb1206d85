namespace CultureMert.Audio;

/// <summary>
/// Ogg Vorbis through NVorbis' managed <see cref="NVorbis.VorbisReader"/>. Vorbis is gapless: the decoded length equals
/// the encoded source's, given by the last page's granule position (<see cref="Frames"/>).
/// </summary>
internal sealed class VorbisReader : IAudioReader
{
    readonly NVorbis.VorbisReader reader;

    public string Path { get; }
    public int SampleRate { get; }
    public int Channels { get; }
    public long? Frames { get; }

    public VorbisReader(string path)
    {
        Path = path;
        try
        {
            reader = new NVorbis.VorbisReader(path);
            (SampleRate, Channels) = (reader.SampleRate, reader.Channels);
            Frames = reader.TotalSamples > 0 ? reader.TotalSamples : null;
        }
        catch (Exception e) when (e is not IOException and not UnauthorizedAccessException)
        {
            throw new InvalidDataException($"{path}: not a decodable Ogg Vorbis file ({e.GetType().Name}: {e.Message}).", e);
        }
    }

    public int Read(float[] buffer) => AudioDecoder.ReadWholeFrames(reader.ReadSamples, buffer, Channels);

    public void Dispose() => reader.Dispose();
}
