using System.Buffers.Binary;
using CultureMert.Audio;
using static CultureMert.Tests.Audio.AudioFixtures;

namespace CultureMert.Tests.Audio;

/// <summary>
/// Files cut short, where the container says how long they should be (the rule in <see cref="AudioDecoder.MaxMissingFraction"/>):
/// up to 1% of the declared frames missing decodes what is there with a warning, more is an error naming the file; a
/// FLAC cut mid-frame is an error; an Ogg stream that ends without its end-of-stream page decodes with a warning.
/// </summary>
public class CutShortTests
{
    static (float[] Samples, string? Warning) ReadAll(string path)
    {
        AudioWarnings.Take(path);
        using var r = AudioDecoder.Open(path);
        var all = new List<float>();
        var buffer = new float[1000 * r.Channels + 1];
        int n;
        while ((n = r.Read(buffer)) > 0) all.AddRange(buffer.AsSpan(0, n * r.Channels));
        return (all.ToArray(), AudioWarnings.Take(path));
    }

    [Fact]
    public void Wav_CutByLessThanOnePercent_DecodesWhatIsThereWithAWarning()
    {
        using var dir = new Fixtures.TempDir();
        var path = dir["cut.wav"];
        var bytes = System.IO.File.ReadAllBytes(File("wav_pcm16.wav"));      // scipy: 44-byte header, 1999 stereo int16 frames
        System.IO.File.WriteAllBytes(path, bytes[..(44 + 1990 * 4 + 3)]);   // 1990 frames and part of the next
        var (samples, warning) = ReadAll(path);
        Assert.Equal(Floats("wav_expected.safetensors", "wav_pcm16")[..3980], samples);   // whole frames only
        Assert.Equal("cut short: the header declares 1999 frames (0.125 s), the file holds 1990 (0.45% missing)", warning);
    }

    [Fact]
    public void Wav_CutByMoreThanOnePercent_IsAnErrorNamingTheFile()
    {
        using var dir = new Fixtures.TempDir();
        var path = dir["cut.wav"];
        System.IO.File.WriteAllBytes(path, System.IO.File.ReadAllBytes(File("wav_pcm16.wav"))[..(44 + 1000 * 4)]);
        var e = Assert.Throws<InvalidDataException>(() => ReadAll(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("declares 1999 frames", e.Message);
        Assert.Contains("holds 1000 (49.97% missing); more than 1% missing is an error", e.Message);
    }

    [Fact]
    public void Wav_WholeOrStreamingSize_NoWarning()
    {
        using var dir = new Fixtures.TempDir();
        Assert.Null(ReadAll(File("wav_pcm16.wav")).Warning);
        var streaming = System.IO.File.ReadAllBytes(File("wav_pcm16.wav"));
        BinaryPrimitives.WriteUInt32LittleEndian(streaming.AsSpan(40), uint.MaxValue);   // a recorder that never went back to write the size
        System.IO.File.WriteAllBytes(dir["s.wav"], streaming);
        var (samples, warning) = ReadAll(dir["s.wav"]);
        Assert.Null(warning);
        Assert.Equal(3998, samples.Length);
    }

    [Theory]
    [InlineData(40)]                                                         // inside the last FLAC frame
    [InlineData(7000)]                                                       // half the file
    public void Flac_CutMidStream_IsAnErrorNamingTheFile(int bytesCut)
    {
        // libsndfile loses sync in a FLAC frame cut in two and says so: unlike WAV, no cut is small enough for a warning.
        using var dir = new Fixtures.TempDir();
        var bytes = System.IO.File.ReadAllBytes(File("flac_s16_stereo.flac"));
        System.IO.File.WriteAllBytes(dir["cut.flac"], bytes[..^bytesCut]);
        var e = Assert.Throws<InvalidDataException>(() => ReadAll(dir["cut.flac"]));
        Assert.Contains(dir["cut.flac"], e.Message);
        Assert.Contains(bytesCut < 1000 ? "lost sync" : "not a decodable", e.Message);
    }

    [Fact]
    public void Ogg_WithoutEndOfStreamPage_DecodesWithAWarning()
    {
        using var dir = new Fixtures.TempDir();
        var pages = OggPage.Split(System.IO.File.ReadAllBytes(File("lossy_mono22050.ogg")));
        // The fixture's audio is one page; re-paged into two (an independent writer of the Ogg framing, RFC 3533),
        // it decodes the same audio, and without its last page it is a stream cut short.
        var (first, last) = OggPage.SplitPacketsOf(pages[^1], sequenceOfSecond: BinaryPrimitives.ReadUInt32LittleEndian(pages[^1].AsSpan(18)) + 1);
        System.IO.File.WriteAllBytes(dir["two.ogg"], [.. pages[..^1].SelectMany(p => p), .. first, .. last]);
        System.IO.File.WriteAllBytes(dir["cut.ogg"], [.. pages[..^1].SelectMany(p => p), .. first]);

        var (whole, none) = ReadAll(File("lossy_mono22050.ogg"));
        Assert.Null(none);
        var (repaged, none2) = ReadAll(dir["two.ogg"]);
        Assert.Null(none2);
        // The same audio (how much is trimmed at the end depends on the first page's granule position, which is only estimated here)
        Assert.Equal(whole, repaged[..whole.Length]);
        var (cut, warning) = ReadAll(dir["cut.ogg"]);
        Assert.Equal("cut short: the Ogg stream ends without its end-of-stream page (how much is missing is unknown)", warning);
        Assert.InRange(cut.Length, 1, whole.Length * 3 / 4);
        Assert.Equal(whole[..cut.Length], cut);
    }
}

/// <summary>Ogg pages (RFC 3533), to make cut-short streams from a complete one in tests.</summary>
static class OggPage
{
    public static List<byte[]> Split(byte[] file)
    {
        var pages = new List<byte[]>();
        for (var at = 0; at < file.Length;)
        {
            int segments = file[at + 26], length = 27 + segments + file.AsSpan(at + 27, segments).ToArray().Sum(b => b);
            pages.Add(file[at..(at + length)]);
            at += length;
        }
        return pages;
    }

    /// <summary>The page's packets as two pages: the first half (no end-of-stream flag) and the rest (the page's flags).</summary>
    public static (byte[] First, byte[] Second) SplitPacketsOf(byte[] page, uint sequenceOfSecond)
    {
        int segments = page[26];
        var lacing = page.AsSpan(27, segments).ToArray();
        var packetEnds = Enumerable.Range(0, segments).Where(i => lacing[i] < 255).ToList();
        var cut = packetEnds[packetEnds.Count / 2] + 1;                         // segments of the first page
        var bodyCut = lacing[..cut].Sum(b => b);
        var body = page.AsSpan(27 + segments).ToArray();
        var granule = BinaryPrimitives.ReadInt64LittleEndian(page.AsSpan(6));
        var first = Page(page, headerType: (byte)(page[5] & ~0x04), granule * bodyCut / body.Length, BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(18)),
                         lacing[..cut], body[..bodyCut]);
        var second = Page(page, page[5], granule, sequenceOfSecond, lacing[cut..], body[bodyCut..]);
        return (first, second);
    }

    /// <summary>Recomputes the CRC of every whole page, so that a mutation reaches the codec instead of failing the page check.</summary>
    public static byte[] FixCrcs(byte[] file)
    {
        var b = (byte[])file.Clone();
        for (var at = 0; at + 27 <= b.Length && b.AsSpan(at, 4).SequenceEqual("OggS"u8);)
        {
            int segments = b[at + 26];
            if (at + 27 + segments > b.Length) break;
            var length = 27 + segments + b.AsSpan(at + 27, segments).ToArray().Sum(x => x);
            if (at + length > b.Length) break;
            BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at + 22), 0);
            BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at + 22), Crc(b[at..(at + length)]));
            at += length;
        }
        return b;
    }

    static byte[] Page(byte[] like, byte headerType, long granule, uint sequence, byte[] lacing, byte[] body)
    {
        var p = new byte[27 + lacing.Length + body.Length];
        like.AsSpan(0, 27).CopyTo(p);
        p[5] = headerType;
        BinaryPrimitives.WriteInt64LittleEndian(p.AsSpan(6), granule);
        BinaryPrimitives.WriteUInt32LittleEndian(p.AsSpan(18), sequence);
        BinaryPrimitives.WriteUInt32LittleEndian(p.AsSpan(22), 0);
        p[26] = (byte)lacing.Length;
        lacing.CopyTo(p.AsSpan(27));
        body.CopyTo(p.AsSpan(27 + lacing.Length));
        BinaryPrimitives.WriteUInt32LittleEndian(p.AsSpan(22), Crc(p));
        return p;
    }

    /// <summary>Ogg's CRC-32: polynomial 0x04C11DB7, initial 0, not reflected, over the page with its CRC field zeroed.</summary>
    static uint Crc(byte[] data)
    {
        uint crc = 0;
        foreach (var b in data)
        {
            crc ^= (uint)b << 24;
            for (var k = 0; k < 8; k++) crc = (crc & 0x80000000) != 0 ? crc << 1 ^ 0x04C11DB7 : crc << 1;
        }
        return crc;
    }
}
