using CultureMert.Audio;
using CultureMert.Checkpoints;
using CultureMert.Embedding;

namespace CultureMert.Tests.Embedding;

/// <summary>The in-memory API: samples already decoded give what `embed` gives on the file, from any number of threads.</summary>
public class MertEmbedderTests
{
    static readonly string Wav = Path.Combine(Fixtures.Dir("e2e-44k-stereo"), "input-44k-stereo.wav");

    /// <summary>The file's interleaved samples at its own rate, as a .NET application would hold them.</summary>
    static (float[] Samples, int Rate, int Channels) Decoded()
    {
        using var reader = AudioDecoder.Open(Wav);
        var all = new List<float>();
        var buffer = new float[4096 * reader.Channels];
        for (int n; (n = reader.Read(buffer)) > 0;) all.AddRange(buffer.AsSpan(0, n * reader.Channels));
        return ([.. all], reader.SampleRate, reader.Channels);
    }

    [Fact]
    public void Embed_StereoSamplesAt44k_MatchTorchaudioGoldenAndEmbedOnTheFile()
    {
        var (samples, rate, channels) = Decoded();
        using var encoder = MertEmbedder.Load(Fixtures.Dir("mert-tiny"), new EmbedOptions { Pool = Pooling.None });
        var e = encoder.Embed(samples, rate, channels);
        // Independent reference: scipy read → channel mean → torchaudio resample → torchaudio wav2vec2 (make_golden.py).
        using var expected = SafeTensors.LoadTensor(Path.Combine(Fixtures.Dir("e2e-44k-stereo"), "expected.safetensors"), "hidden_states");
        var golden = expected.data<float>().ToArray();
        Assert.Equal(golden.Length, e.Frames!.Length);
        Assert.True(golden.Zip(e.Frames).Max(x => Math.Abs(x.First - x.Second)) < 1e-4);
        // And exactly what embed computes from the file (same path from decoded samples on).
        using var mert = MertCheckpoint.Load(Fixtures.Dir("mert-tiny"));
        using var fromFile = new Embedder(mert, new EmbedOptions { Pool = Pooling.None }).Embed(Wav);
        Assert.Equal(fromFile.HiddenStates!.data<float>().ToArray(), e.Frames);
        Assert.Equal(fromFile.DurationSeconds, e.DurationSeconds);
    }

    [Fact]
    public void Embed_MeanPooled_FromFourThreads_EqualsTheCliOutput()
    {
        using var dir = new Fixtures.TempDir();
        var (samples, rate, channels) = Decoded();
        var options = new EmbedOptions { ChunkSeconds = 1.0, BatchSize = 2, Layers = [0, 2] };
        Assert.Equal(0, CultureMert.Cli.CliApp.Run(["embed", "--model", Fixtures.Dir("mert-tiny"), "--chunk-seconds", "1", "--batch-size", "2",
                                                    "--layers", "0,2", "--out", dir["out"], Wav]));
        using var cli = SafeTensors.LoadTensor(Directory.GetFiles(dir["out"], "*.safetensors").Single(), "chunk_embeddings");
        var expected = cli.data<float>().ToArray();

        using var encoder = MertEmbedder.Load(Fixtures.Dir("mert-tiny"), options);
        var results = new MertEmbedding[4];
        Parallel.For(0, results.Length, i => results[i] = encoder.Embed(samples, rate, channels, $"caller {i}"));
        foreach (var r in results)
        {
            Assert.Equal(expected, r.Chunks);
            Assert.Equal([0, 2], r.Layers);
            Assert.Equal(expected.Length / (2 * r.Hidden), r.ChunkCount);
        }
        var layer2 = results[0].Layer(2);
        for (var h = 0; h < layer2.Length; h++)                                // the mean embedding is the chunks' mean
            Assert.Equal(Enumerable.Range(0, results[0].ChunkCount).Average(c => (double)expected[(c * 2 + 1) * results[0].Hidden + h]), layer2[h], 5);
    }

    [Fact]
    public void Embed_BadSamples_ClearErrors()
    {
        using var encoder = MertEmbedder.Load(Fixtures.Dir("mert-tiny"));
        var samples = new float[48000];
        samples[1001] = float.NaN;
        var nan = Assert.Throws<ArgumentException>(() => encoder.Embed(samples, 24000, 2, "take 3"));
        Assert.Contains("take 3: sample 1001 (frame 500, channel 1) is NaN", nan.Message);
        Assert.Contains("whole number of 2-channel frames", Assert.Throws<ArgumentException>(() => encoder.Embed(new float[3], 24000, 2)).Message);
        Assert.Contains("silent", Assert.Throws<InvalidDataException>(() => encoder.Embed(new float[24000], 24000)).Message);
    }
}
