using CultureMert.Audio;
using CultureMert.Checkpoints;
using static CultureMert.Tests.Audio.AudioFixtures;

namespace CultureMert.Tests.Faults;

/// <summary>
/// Seeded byte-flip fuzzing of every input format we parse: a few hundred mutations of a valid WAV, FLAC, MP3, Ogg Vorbis
/// and safetensors file each, and 80 of an M4A (AAC) and a WMA file, which FFmpeg decodes. Every mutant either decodes (finite samples) / loads, or fails with a per-file error naming
/// the file (InvalidDataException, NotSupportedException, IOException); never another exception, a crash or a hang.
/// </summary>
public class ByteFlipFuzzTests
{
    const int Mutations = 300;

    /// <summary>Mutant <paramref name="k"/> of <paramref name="original"/>: a few random bytes changed, or cut, or a run of bytes zeroed.</summary>
    public static byte[] Mutate(byte[] original, int k)
    {
        var rng = new Random(1000 + k);
        var b = (byte[])original.Clone();
        switch (k % 4)
        {
            case 0 or 1:                                                     // 1 to 8 bytes set to random values
                for (var i = rng.Next(1, 9); i > 0; i--) b[rng.Next(b.Length)] = (byte)rng.Next(256);
                break;
            case 2:                                                          // a run zeroed (a block lost on a disk)
                var at = rng.Next(b.Length);
                b.AsSpan(at, Math.Min(b.Length - at, rng.Next(1, 512))).Clear();
                break;
            default:                                                         // bit flips in the first 256 bytes (headers)
                for (var i = rng.Next(1, 4); i > 0; i--) b[rng.Next(Math.Min(256, b.Length))] ^= (byte)(1 << rng.Next(8));
                break;
        }
        return b;
    }

    static bool IsPerFileError(Exception e) => e is InvalidDataException or NotSupportedException or IOException;

    [Theory]
    [InlineData("wav_pcm16.wav")]
    [InlineData("wav_ext_float32.wav")]
    [InlineData("flac_s16_stereo.flac")]
    [InlineData("lossy_mono44100.mp3")]
    [InlineData("lossy_mono22050.ogg")]
    public Task Audio_Mutants_DecodeOrFailWithAPerFileError(string name) =>
        MutantsDecodeOrFail(name, System.IO.File.ReadAllBytes(File(name)), Mutations);

    /// <summary>The formats FFmpeg decodes (a process per file: fewer mutants), from a file the ffmpeg program makes here.</summary>
    [Theory]
    [InlineData("m4a", "aac")]
    [InlineData("wma", "wmav2")]
    public Task Audio_FfmpegMutants_DecodeOrFailWithAPerFileError(string container, string codec)
    {
        CultureMert.Setup.SystemPackages.Require(CultureMert.Setup.SystemPackages.Ffmpeg);
        using var dir = new Fixtures.TempDir();
        var path = dir[$"source.{container}"];
        Audio.FfmpegDecodingTests.Ffmpeg(["-f", "lavfi", "-i", "sine=f=440:d=2:sample_rate=44100", "-c:a", codec, path]);
        return MutantsDecodeOrFail(Path.GetFileName(path), System.IO.File.ReadAllBytes(path), 80);
    }

    static async Task MutantsDecodeOrFail(string name, byte[] original, int mutations)
    {
        using var dir = new Fixtures.TempDir();
        var outcomes = new Dictionary<string, int>();
        for (var k = 0; k < mutations; k++)
        {
            var path = dir[$"m{k:D3}{Path.GetExtension(name)}"];
            var mutant = Mutate(original, k);
            // Ogg pages carry a CRC: without fixing it half the time, every mutant would stop at the page check, never in the codec
            if (name.EndsWith(".ogg") && k % 2 == 0) mutant = Audio.OggPage.FixCrcs(mutant);
            System.IO.File.WriteAllBytes(path, mutant);
            var decode = Task.Run(() =>
            {
                using var stream = MonoAudioStream.Open(path, 24000);        // what embed and tokenize read through
                var buffer = new float[4096];
                long n = 0;
                int got;
                while ((got = stream.Read(buffer)) > 0)
                {
                    for (var i = 0; i < got; i++) Assert.True(float.IsFinite(buffer[i]), $"{path}: non-finite sample");
                    n += got;
                }
                return n;
            });
            var outcome = "decoded";
            try { await decode.WaitAsync(TimeSpan.FromSeconds(20)); }
            catch (TimeoutException) { Assert.Fail($"{name} mutant {k} hangs"); }
            catch (Exception e)
            {
                Assert.True(IsPerFileError(e), $"{name} mutant {k}: {e.GetType().Name}: {e.Message}");
                Assert.Contains(path, e.Message);
                outcome = e.GetType().Name;
            }
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
            AudioWarnings.Take(path);
            System.IO.File.Delete(path);
        }
        Assert.Equal(mutations, outcomes.Values.Sum());
        Console.WriteLine($"FUZZ {name}: {string.Join(", ", outcomes.Select(kv => $"{kv.Key} {kv.Value}"))}");
    }

    [Fact]
    public async Task Safetensors_Mutants_LoadOrFailNamingTheFile()
    {
        using var dir = new Fixtures.TempDir();
        var model = Fixtures.Dir("mert-tiny");
        var original = System.IO.File.ReadAllBytes(Path.Combine(model, "model.safetensors"));
        foreach (var f in new[] { "config.json", "preprocessor_config.json" }) System.IO.File.Copy(Path.Combine(model, f), dir[f]);
        var failed = 0;
        for (var k = 0; k < Mutations; k++)
        {
            // Mutate the header (where the parsing is) three times in four: the data bytes only change values
            var mutant = k % 4 == 3 ? Mutate(original, k) : [.. Mutate(original[..4096], k), .. original[4096..]];
            System.IO.File.WriteAllBytes(dir["model.safetensors"], mutant);
            var load = Task.Run(() => { using var m = MertCheckpoint.Load(dir.Path); });
            try { await load.WaitAsync(TimeSpan.FromSeconds(20)); }
            catch (TimeoutException) { Assert.Fail($"mutant {k} hangs"); }
            catch (Exception e)
            {
                Assert.True(IsPerFileError(e), $"mutant {k}: {e.GetType().Name}: {e.Message}");
                Assert.Contains(dir.Path, e.Message);
                failed++;
            }
        }
        Assert.InRange(failed, Mutations / 4, Mutations);                    // most header mutants are caught, not loaded as garbage
    }

    [Fact]
    public void Embed_FolderOfMutants_EveryFileARow_NeverAnInternalError()
    {
        using var dir = new Fixtures.TempDir();
        string[] formats = ["wav_pcm16.wav", "flac_s16_stereo.flac", "lossy_mono44100.mp3", "lossy_mono22050.ogg"];
        Directory.CreateDirectory(dir["music"]);
        foreach (var name in formats)
            for (var k = 0; k < 15; k++)
                System.IO.File.WriteAllBytes(dir[$"music/{k:D2}-{name}"], Mutate(System.IO.File.ReadAllBytes(File(name)), 7 * k + 3));
        var (code, err) = CliProcess.Run(["embed", "--model", Fixtures.Dir("mert-tiny"), "--out", dir["out"], dir["music"]]);
        Assert.True(code is 0 or 1, $"exit {code}: {err}");
        Assert.DoesNotContain("internal error", err);
        var rows = CultureMert.Batch.Manifest.ReadIndex(dir["out/index.csv"]);
        Assert.Equal(60, rows.Count);
        Assert.All(rows.Where(r => r.Status == "error"), r => Assert.StartsWith(r.Path, r.Error));
        Assert.All(rows.Where(r => r.Status == "ok"), r => Assert.True(System.IO.File.Exists(dir[$"out/{r.Output}"])));
    }
}
