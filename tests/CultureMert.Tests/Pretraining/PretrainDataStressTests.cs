using CultureMert.Audio;
using CultureMert.Model;
using CultureMert.Pretraining;
using CultureMert.Teachers;
using static TorchSharp.torch;

namespace CultureMert.Tests.Pretraining;

/// <summary>
/// The shipped tiny recipe's data path (k-means teacher targets, LRU caches, crops, batches) under the conditions its
/// crashes came with: collections forced from another thread while the drawing thread is inside libtorch, and a second
/// busy thread competing for the cores. Every batch must equal the quiet single-threaded run's, bit for bit.
/// </summary>
[Collection(ProcessWideMeasurements.Name)]      // it forces collections and sets libtorch's thread count: runs alone
public class PretrainDataStressTests
{
    const int Batches = 100;

    [Fact]
    public void Draw_HundredsOfBatchesUnderForcedCollectionsAndABusyThread_EqualTheQuietRunsBatches()
    {
        using var dir = new Fixtures.TempDir();
        // The shipped recipe with 4 clips a source instead of 12, and batches of 4 crops of 1 s instead of 8 of 2 s: every crop's
        // CQT target is computed from the crop (about 40 audio-s/s on one thread), which the full batches would make minutes.
        var shipped = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "recipes", "tiny-two-stage.json"));
        File.WriteAllText(dir["tiny.json"], shipped.Replace("\"clips\": 12", "\"clips\": 4").Replace("\"crop_seconds\": 2", "\"crop_seconds\": 1")
                                                   .Replace("\"batch_size\": 8", "\"batch_size\": 4"));
        var recipe = Recipe.Load(dir["tiny.json"]);
        Assert.Equal((3 * 4, 1.0, 4), (recipe.Sources.Values.Sum(s => s.Synthesize!.Clips), recipe.CropSeconds, recipe.BatchSize));
        var files = PretrainData.Scan(recipe, dir["data"], _ => { });
        var paths = files.Values.SelectMany(f => f).Select(f => f.Path).ToList();
        using var teacher = KMeansTeacher.Fit(paths, new KMeansFitOptions { K = recipe.Targets.KMeansK, Seed = recipe.Seed, MaxIterations = 20 }.Validate());

        var threads = get_num_threads();
        try
        {
            set_num_threads(1);
            var reference = Digests(recipe, files, teacher);                          // one thread, nothing else running
            AssertSame(reference, Stressed(() => Digests(recipe, files, teacher)), "forced collections, a busy thread and torch.set_num_threads(1)");
            set_num_threads(threads);
            AssertSame(reference, Stressed(() => Digests(recipe, files, teacher)), $"forced collections, a busy thread and {threads} torch threads");
        }
        finally { set_num_threads(threads); }
    }

    /// <summary>One digest per batch of a fresh <see cref="PretrainData"/> (empty caches): steps cycle through the stages' mixes.</summary>
    static List<string> Digests(Recipe recipe, Dictionary<string, List<TrainingFile>> files, KMeansTeacher teacher)
    {
        using var data = new PretrainData(MertConfig.Preset("tiny"), new PreprocessorConfig(false, PretrainData.SampleRate), files,
                                          recipe.CropSeconds, recipe.PadShort, teacher, teacher.Codebooks, teacher.CodebookSize);
        var digests = new List<string>(Batches);
        for (var step = 0; step < Batches; step++)
        {
            var mix = recipe.Stages[step % recipe.Stages.Count].Mix;
            using var batch = data.Draw(mix, recipe.BatchSize, new Random(Pretrainer.StepSeed(recipe.Seed, step, 0)));
            digests.Add(Digest(batch));
        }
        return digests;
    }

    static string Digest(TrainingBatch batch)
    {
        var parts = new[] { batch.Audio, batch.Codes, batch.Cqt, batch.Valid }.Select(t =>
        {
            var h = new HashCode();                                                   // fast; stable within the process
            h.AddBytes(t.contiguous().bytes);
            return $"{t.dtype}[{string.Join(",", t.shape)}]:{h.ToHashCode():x8}";
        });
        return $"{string.Join(" ", parts)} {string.Join(";", batch.Crops.Select(c => $"{Path.GetFileName(c.File.Path)}@{c.Start}"))}";
    }

    /// <summary>Runs <paramref name="work"/> while one thread forces collections (and runs the finalisers they queue) and another spins and allocates.</summary>
    static T Stressed<T>(Func<T> work)
    {
        using var stop = new CancellationTokenSource();
        var collections = 0;
        var collector = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                GC.Collect(0);                                              // cheap: thousands a second; temporaries are young
                GC.WaitForPendingFinalizers();
                collections++;
            }
        }) { IsBackground = true };
        var busy = new Thread(() =>
        {
            var sum = 0.0;
            while (!stop.IsCancellationRequested)
            {
                var a = new double[64];                                     // gen-0 garbage: collections from this thread too
                for (var i = 0; i < a.Length; i++) sum += a[i] = Math.Sqrt(i + sum % 7);
            }
            GC.KeepAlive(sum);
        }) { IsBackground = true };
        collector.Start();
        busy.Start();
        T result;
        try { result = work(); }
        finally
        {
            stop.Cancel();
            collector.Join();
            busy.Join();
        }
        Assert.True(collections > 10, $"only {collections} forced collections ran during the draws");
        return result;
    }

    static void AssertSame(List<string> expected, List<string> actual, string condition)
    {
        Assert.Equal(expected.Count, actual.Count);
        var first = Enumerable.Range(0, expected.Count).FirstOrDefault(i => expected[i] != actual[i], -1);
        Assert.True(first < 0, $"under {condition}, batch {first} differs from the quiet run's:\n  {actual[Math.Max(first, 0)]}\n  expected {expected[Math.Max(first, 0)]}");
    }
}
