using System.Diagnostics;
using CultureMert.Audio;
using CultureMert.Checkpoints;
using CultureMert.Teachers;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace CultureMert.Tests.Teachers;

/// <summary>
/// k-means on blobs whose right partition is known, the edge cases (empty clusters, too few points), and the audio
/// teacher end to end: fit on synthetic tones, encode, save/load, combine, bad files.
/// </summary>
public class KMeansTests(ITestOutputHelper output)
{
    /// <summary><paramref name="blobs"/> Gaussian blobs (σ 0.3) around means spread over ±10 in <paramref name="dim"/>-D.</summary>
    static (Tensor X, long[] Label, Tensor Means) Blobs(int blobs = 5, int perBlob = 200, int dim = 8, int seed = 1)
    {
        var g = new Generator((ulong)seed);
        var means = rand([blobs, dim], generator: g) * 20 - 10;                      // (blobs, dim)
        var x = means.repeat_interleave(perBlob, 0) + randn([blobs * perBlob, dim], generator: g) * 0.3;   // (n, dim)
        var label = Enumerable.Range(0, blobs * perBlob).Select(i => (long)(i / perBlob)).ToArray();
        return (x, label, means);
    }

    /// <summary>Every blob maps to one cluster and different blobs to different clusters.</summary>
    static void AssertSamePartition(long[] truth, long[] got)
    {
        var map = new Dictionary<long, long>();
        for (var i = 0; i < truth.Length; i++)
        {
            if (!map.TryAdd(truth[i], got[i])) Assert.Equal(map[truth[i]], got[i]);
        }
        Assert.Equal(map.Count, map.Values.Distinct().Count());
    }

    static long[] Labels(KMeansCodebook book, Tensor x) => book.Assign(x).data<long>().ToArray();

    [Theory]
    [InlineData(0)]        // Lloyd
    [InlineData(256)]      // mini-batch
    public void Fit_FiveBlobs_RecoversPartitionAndMeans(int batch)
    {
        var (x, truth, means) = Blobs();
        using var book = KMeans.Fit(x, new KMeansOptions { K = 5, Seed = 3, BatchSize = batch });
        AssertSamePartition(truth, Labels(book, x));
        using var centres = book.Centroids * book.Std + book.Mean;                    // back to data units
        for (var b = 0; b < 5; b++)
        {
            var nearest = (centres - means[b]).square().sum(1).min().item<float>();
            Assert.True(Math.Sqrt(nearest) < 0.1, $"blob {b}: nearest centroid {Math.Sqrt(nearest):F3} away");  // σ/√200·√8 ≈ 0.06
        }
        Assert.True(book.Inertia < 0.1, $"inertia {book.Inertia}");                  // standardised: 8·(0.3/std ≈ 6)² ≈ 0.02–0.05
    }

    [Fact]
    public void Fit_SameSeed_SameCentroids_OtherSeed_SamePartition()
    {
        var (x, truth, _) = Blobs(seed: 7);
        using var a = KMeans.Fit(x, new KMeansOptions { K = 5, Seed = 11 });
        using var b = KMeans.Fit(x, new KMeansOptions { K = 5, Seed = 11 });
        using var c = KMeans.Fit(x, new KMeansOptions { K = 5, Seed = 12 });
        Assert.True(a.Centroids.equal(b.Centroids).all().item<bool>());
        using var ia = KMeans.InitPlusPlus(x, 5, new Random(4));
        using var ib = KMeans.InitPlusPlus(x, 5, new Random(4));
        Assert.True(ia.equal(ib).all().item<bool>());
        AssertSamePartition(Labels(a, x), Labels(c, x));
    }

    [Fact]
    public void Lloyd_ClusterStartingFarAway_IsReseededAndEveryBlobFound()
    {
        var (x, truth, means) = Blobs(blobs: 3, seed: 5);
        using var init = cat([means[..2], full(1, 8, 1000f)], 0);                   // third centroid wins no point
        var (c, _, reseeded) = KMeans.Lloyd(x, init, new KMeansOptions { K = 3 });
        using (c)
        {
            Assert.True(reseeded >= 1);
            var (idx, _) = KMeans.Assign(x, c);
            AssertSamePartition(truth, idx.data<long>().ToArray());
        }
    }

    [Fact]
    public void Fit_KLargerThanPoints_Throws()
    {
        var e = Assert.Throws<ArgumentException>(() => KMeans.Fit(randn(3, 4), new KMeansOptions { K = 5 }));
        Assert.Contains("k = 5", e.Message);
    }

    [Fact]
    public void Fit_KLargerThanDistinctPoints_Throws()
    {
        using var x = cat([zeros(6, 4), ones(6, 4)], 0);                            // 12 points, 2 distinct
        var e = Assert.Throws<ArgumentException>(() => KMeans.Fit(x, new KMeansOptions { K = 3 }));
        Assert.Contains("distinct", e.Message);
        Assert.Contains("only 2", e.Message);
    }

    // ---- the audio teacher ----

    static float[] Signal(double seconds, Func<double, double> f)
    {
        var n = (int)(seconds * 24000);
        return Enumerable.Range(0, n).Select(i => (float)f(i / 24000.0)).ToArray();
    }

    static readonly Func<double, double>[] Sounds =
    [
        t => 0.5 * Math.Sin(2 * Math.PI * 110 * t),                                   // low A
        t => 0.2 * Math.Sin(2 * Math.PI * 1760 * t),                                  // high A, quieter
        t => 0.2 * (Math.Sin(2 * Math.PI * 261.63 * t) + Math.Sin(2 * Math.PI * 329.63 * t) + Math.Sin(2 * Math.PI * 392 * t)),   // C major
        t => 0.2 * (Math.Sin(2 * Math.PI * 739.99 * t) + Math.Sin(2 * Math.PI * 932.33 * t) + Math.Sin(2 * Math.PI * 1108.73 * t)), // F♯5 major
    ];

    /// <summary>
    /// The four sounds as WAVs with 50-ms fades: pure sines with hard edges make the edge frames (broadband clicks lifting
    /// every log-mel band off the 1e-6 floor) the most distinct points of the data, and k = 4 would be spent on them.
    /// No noise: standardisation gives noise-only bands unit variance, and their frame-to-frame jitter (the same in nats at
    /// any level) would swamp the few bands where two tones differ.
    /// </summary>
    static List<string> WriteTones(Fixtures.TempDir dir, double seconds = 2)
    {
        var paths = new List<string>();
        for (var i = 0; i < Sounds.Length; i++)
        {
            paths.Add(dir[$"tone{i}.wav"]);
            var x = Signal(seconds, Sounds[i]);
            for (var n = 0; n < x.Length; n++)
            {
                var fade = Math.Min(1, Math.Min(n, x.Length - 1 - n) / 1200.0);
                x[n] = (float)(x[n] * fade);
            }
            AudioFile.WriteWav(paths[^1], x, 24000);
        }
        return paths;
    }

    static KMeansFitOptions FourTokens => new() { K = 4, Seed = 1 };

    [Fact]
    public void Teacher_FourTones_OneTokenEach_DistinctAcrossTones()
    {
        using var dir = new Fixtures.TempDir();
        var files = WriteTones(dir);
        var bad = dir["broken.wav"];
        File.WriteAllBytes(bad, "RIFF not really a wav file"u8.ToArray());
        var messages = new List<string>();
        using var teacher = KMeansTeacher.Fit([.. files, bad], FourTokens, new SyncProgress<string>(messages.Add));
        Assert.Contains(messages, m => m.Contains("broken.wav") && m.Contains("skipped"));
        Assert.Equal(files, teacher.FilesUsed);
        Assert.Equal((1, 4, 24000), (teacher.Codebooks, teacher.CodebookSize, teacher.SampleRate));
        Assert.Equal("kmeans-k4-logmel128+chroma12", teacher.Name);
        Assert.Matches("^[0-9a-f]{16}$", teacher.Hash);
        var tokens = new List<long>();
        foreach (var f in files)
        {
            using var wave = tensor(AudioFile.ReadMono(f, 24000));
            using var codes = teacher.Encode(wave);
            Assert.Equal(new long[] { 1, 48000 / 320 + 1 }, codes.shape);
            var all = codes[0].data<long>().ToArray();                                // edge frames included (fades)
            Assert.Single(all.Distinct());
            tokens.Add(all[0]);
        }
        Assert.Equal(4, tokens.Distinct().Count());
    }

    [Fact]
    public void Teacher_SaveLoad_SameTokensHashAndMetadata()
    {
        using var dir = new Fixtures.TempDir();
        var files = WriteTones(dir, 1);
        using var teacher = KMeansTeacher.Fit(files, FourTokens with { BatchSize = 0 });
        var path = dir["teacher.safetensors"];
        teacher.Save(path);
        var (infos, meta, _) = SafeTensors.ReadHeader(path);
        Assert.Equal(new long[] { 4, 140 }, infos.Single(i => i.Name == "centroids").Shape);
        Assert.Equal(new long[] { 140 }, infos.Single(i => i.Name == "std").Shape);
        Assert.Equal(("4", "1", "1"), (meta["k"], meta["seed"], meta["codebooks"]));
        Assert.Equal($"{4 * 76}", meta["frames_used"]);
        using var loaded = KMeansTeacher.Load(path);
        Assert.Equal((teacher.Name, teacher.Hash), (loaded.Name, loaded.Hash));
        Assert.Equal(files, loaded.FilesUsed);
        using var wave = tensor(Signal(3.3, t => Sounds[0](t) + Sounds[3](t) + 0.05 * Math.Sin(7 * t)));
        using var a = teacher.Encode(wave);
        using var b = loaded.Encode(wave);
        Assert.True(a.equal(b).all().item<bool>());
    }

    [Fact]
    public void Teacher_Combine_StacksCodebooks()
    {
        using var dir = new Fixtures.TempDir();
        var files = WriteTones(dir, 1);
        using var t1 = KMeansTeacher.Fit(files, FourTokens);
        using var t2 = KMeansTeacher.Fit(files, FourTokens with { Seed = 9, Features = new FrameFeatureOptions { NMels = 64 } });
        using var both = KMeansTeacher.Combine(t1, t2);
        Assert.Equal(2, both.Codebooks);
        Assert.Equal("kmeans-k4-logmel128+chroma12,kmeans-k4-logmel64+chroma12", both.Name);
        using var wave = tensor(AudioFile.ReadMono(files[2], 24000));
        using var codes = both.Encode(wave);
        using var c1 = t1.Encode(wave);
        using var c2 = t2.Encode(wave);
        Assert.True(codes.equal(cat([c1, c2], 0)).all().item<bool>());
        both.Save(dir["both.safetensors"]);
        using var loaded = KMeansTeacher.Load(dir["both.safetensors"]);
        Assert.Equal(both.Hash, loaded.Hash);
        using var again = loaded.Encode(wave);
        Assert.True(again.equal(codes).all().item<bool>());
    }

    [Fact]
    public void Teacher_LoadBadFiles_InvalidDataExceptionNamingFile()
    {
        using var dir = new Fixtures.TempDir();
        var garbage = dir["garbage.safetensors"];
        File.WriteAllBytes(garbage, new byte[100]);
        Assert.Contains("garbage.safetensors", Assert.Throws<InvalidDataException>(() => KMeansTeacher.Load(garbage)).Message);

        var opts = new FrameFeatureOptions().ToJson();
        var noMean = dir["nomean.safetensors"];
        SafeTensors.Save(noMean, [new("centroids", zeros(4, 140)), new("std", ones(140))], new Dictionary<string, string> { ["feature_options"] = opts });
        var e = Assert.Throws<InvalidDataException>(() => KMeansTeacher.Load(noMean));
        Assert.Contains("nomean.safetensors", e.Message);
        Assert.Contains("mean", e.Message);

        var wrong = dir["wrongshape.safetensors"];
        SafeTensors.Save(wrong, [new("centroids", zeros(4, 99)), new("mean", zeros(140)), new("std", ones(140))], new Dictionary<string, string> { ["feature_options"] = opts });
        e = Assert.Throws<InvalidDataException>(() => KMeansTeacher.Load(wrong));
        Assert.Contains("wrongshape.safetensors", e.Message);
        Assert.Contains("[4, 99]", e.Message);

        var noOptions = dir["nooptions.safetensors"];
        SafeTensors.Save(noOptions, [new("centroids", zeros(4, 140)), new("mean", zeros(140)), new("std", ones(140))]);
        e = Assert.Throws<InvalidDataException>(() => KMeansTeacher.Load(noOptions));
        Assert.Contains("feature_options", e.Message);
    }

    [Fact]
    public void Teacher_NoReadableFiles_Throws()
    {
        using var dir = new Fixtures.TempDir();
        var bad = dir["x.wav"];
        File.WriteAllBytes(bad, new byte[10]);
        var e = Assert.Throws<InvalidDataException>(() => KMeansTeacher.Fit([bad, dir["missing.wav"]], FourTokens));
        Assert.Contains("2 skipped", e.Message);
    }

    /// <summary>Real-size codebook (k 1024, F 140) on a 60-s clip: shape, and the speed printed for the record.</summary>
    [Fact]
    public void Teacher_K1024_SixtySecondClip_EncodesAndReportsSpeed()
    {
        using var dir = new Fixtures.TempDir();
        var rng = new Random(0);
        var clip = Signal(60, t => 0.2 * Math.Sin(2 * Math.PI * (110 + 40 * t) * t) + 0.05 * (rng.NextDouble() - 0.5));   // sweep + noise
        AudioFile.WriteWav(dir["clip.wav"], clip, 24000);
        var fit = Stopwatch.StartNew();
        using var teacher = KMeansTeacher.Fit([dir["clip.wav"]], new KMeansFitOptions { MaxFramesPerFile = 5000, MaxIterations = 20 });
        fit.Stop();
        using var wave = tensor(clip);
        using (teacher.Encode(wave)) { }                                              // warm-up
        var sw = Stopwatch.StartNew();
        using var codes = teacher.Encode(wave);
        sw.Stop();
        Assert.Equal(new long[] { 1, 60 * 75 + 1 }, codes.shape);
        Assert.True(codes.max().item<long>() < 1024 && codes.min().item<long>() >= 0);
        output.WriteLine($"fit k=1024 on 4501 frames: {fit.Elapsed.TotalSeconds:F2} s; encode 60 s: {sw.Elapsed.TotalSeconds:F3} s = {60 / sw.Elapsed.TotalSeconds:F0} audio s/s ({get_num_threads()} threads)");
    }
}
