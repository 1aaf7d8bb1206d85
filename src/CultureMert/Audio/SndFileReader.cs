using System.Runtime.InteropServices;

namespace CultureMert.Audio;

/// <summary>
/// FLAC (and Ogg Opus, RF64, …) through the native libsndfile (Debian <c>libsndfile1</c>), because no managed FLAC
/// decoder is available to us. A minimal <c>sf_open</c>/<c>sf_readf_float</c>/<c>sf_close</c> binding modelled on NAudio's
/// NAudio.SoundFile (MIT). libsndfile's float output scales integers by 1/2^(bits−1), the same as torchaudio.
/// </summary>
internal sealed partial class SndFileReader : IAudioReader
{
    const string Lib = "libsndfile.so.1";
    const int SFM_READ = 0x10;

    /// <summary>libsndfile's SF_INFO (sndfile.h); sf_count_t is 64-bit on Linux.</summary>
    [StructLayout(LayoutKind.Sequential)]
    struct SF_INFO
    {
        public long frames;
        public int samplerate, channels, format, sections, seekable;
    }

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr sf_open(string path, int mode, ref SF_INFO info);
    [LibraryImport(Lib)]
    private static unsafe partial long sf_readf_float(IntPtr sndfile, float* ptr, long frames);
    [LibraryImport(Lib)]
    private static partial int sf_close(IntPtr sndfile);
    [LibraryImport(Lib)]
    private static partial IntPtr sf_strerror(IntPtr sndfile);
    [LibraryImport(Lib)]
    private static partial int sf_error(IntPtr sndfile);

    IntPtr handle;

    public string Path { get; }
    public int SampleRate { get; }
    public int Channels { get; }
    public long? Frames { get; }

    public SndFileReader(string path, string formatName)
    {
        Path = path;
        var info = new SF_INFO();
        Setup.SystemPackages.Require(Setup.SystemPackages.Flac);      // installed on first use where this process may
        try { handle = sf_open(path, SFM_READ, ref info); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            throw new NotSupportedException(
                $"{path}: decoding {formatName} needs the native libsndfile ({Lib}), which could not be loaded; install libsndfile1 (apt-get install libsndfile1).", e);
        }
        if (handle == IntPtr.Zero)
            throw new InvalidDataException($"{path}: not a decodable {formatName} file (libsndfile: {Marshal.PtrToStringUTF8(sf_strerror(IntPtr.Zero))}).");
        if (info.samplerate <= 0 || info.channels <= 0)
        {
            sf_close(handle);
            throw new InvalidDataException($"{path}: corrupt {formatName} header ({info.samplerate} Hz, {info.channels} channels).");
        }
        (SampleRate, Channels) = (info.samplerate, info.channels);
        // libsndfile reports SF_COUNT_MAX when the length is unknown (e.g. a FLAC stream header with 0 total samples)
        Frames = info.frames is > 0 and < long.MaxValue / 2 ? info.frames : null;
    }

    public unsafe int Read(float[] buffer)
    {
        ObjectDisposedException.ThrowIf(handle == IntPtr.Zero, this);
        var frames = buffer.Length / Channels;
        if (frames == 0) return 0;
        fixed (float* p = buffer)
        {
            var n = sf_readf_float(handle, p, frames);
            // a short read is either the end or a decode error (corrupt frame); only sf_error tells them apart
            if (n < 0 || (n < frames && sf_error(handle) != 0)) throw new InvalidDataException($"{Path}: libsndfile read failed ({Marshal.PtrToStringUTF8(sf_strerror(handle))}).");
            return (int)n;
        }
    }

    public void Dispose()
    {
        if (handle == IntPtr.Zero) return;
        sf_close(handle);
        handle = IntPtr.Zero;
    }
}
