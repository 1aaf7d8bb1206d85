using CultureMert.Checkpoints;
using CultureMert.Teachers;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace CultureMert.Tests.Teachers;

/// <summary>
/// Chunked EnCodec encoding (<see cref="EncodecTeacher.ChunkSamples"/>) against one pass over the whole signal: the causal
/// convolutions' left contexts and the LSTM state carried across chunks must reproduce it (codes identical, embeddings
/// up to float summation order).
/// </summary>
public class EncodecStreamingTests(ITestOutputHelper output)
{
    const string Fixture = "encodec-tiny";
    const double Tol = 1e-5;
    const long OnePass = 320L * 1_000_000;   // a chunk longer than any test input: the one-pass path

    /// <summary>Embeddings and codes of <paramref name="wave"/> with chunks of <paramref name="chunk"/> samples.</summary>
    static (Tensor Embedding, Tensor Codes) Run(EncodecTeacher teacher, Tensor wave, long chunk)
    {
        teacher.ChunkSamples = chunk;
        return (teacher.Embed(wave), teacher.Encode(wave));
    }

    void AssertSameAsOnePass(EncodecTeacher teacher, Tensor wave, params long[] chunks)
    {
        var (emb, codes) = Run(teacher, wave, OnePass);
        foreach (var chunk in chunks)
        {
            var (e, c) = Run(teacher, wave, chunk);
            var diff = Fixtures.MaxAbsDiff(e, emb);
            var same = c.eq(codes).all().item<bool>();
            output.WriteLine($"{wave.shape[0]} samples, chunk {chunk}: max |Δ embedding| = {diff:E2}, codes identical: {same}");
            Assert.Equal(emb.shape, e.shape);
            Assert.Equal(codes.shape, c.shape);
            Assert.InRange(diff, 0, Tol);
            Assert.True(same, $"chunk {chunk}: codes differ from one pass");
        }
    }

    [Fact]
    public void TinyFixture_Chunked_EqualsOnePass()
    {
        using var teacher = EncodecTeacher.Load(Fixtures.Dir(Fixture));
        using var scope = NewDisposeScope();
        var wave = SafeTensors.LoadTensor(Path.Combine(Fixtures.Dir(Fixture), "expected.safetensors"), "waveform");   // 1.5 s
        Assert.Equal(36000, wave.shape[0]);
        // 320: the smallest chunk (the first is raised to MinFirstChunk); 12800 does not divide 36000; 2240 = MinFirstChunk.
        AssertSameAsOnePass(teacher, wave, 320, 2240, 3200, 12800, 35840);
    }

    [Fact]
    public void TinyFixture_Chunked_MatchesGolden()
    {
        using var teacher = EncodecTeacher.Load(Fixtures.Dir(Fixture));
        using var scope = NewDisposeScope();
        var file = Path.Combine(Fixtures.Dir(Fixture), "expected.safetensors");
        teacher.ChunkSamples = 3200;
        var emb = teacher.Embed(SafeTensors.LoadTensor(file, "waveform"));
        Assert.InRange(Fixtures.MaxAbsDiff(emb, SafeTensors.LoadTensor(file, "embedding")), 0, 1e-4);   // EncodecTests' tolerance
    }

    /// <summary>Lengths around the chunk edges: last chunk of 1 sample, of a partial frame, of exactly one chunk.</summary>
    [Theory]
    [InlineData(2241)]
    [InlineData(2240 + 320)]
    [InlineData(2240 + 321)]
    [InlineData(2240 + 3 * 320 + 17)]
    public void TinyFixture_ChunkEdges_EqualOnePass(int samples)
    {
        using var teacher = EncodecTeacher.Load(Fixtures.Dir(Fixture));
        using var scope = NewDisposeScope();
        var wave = randn(new long[] { samples }, generator: new Generator(5)) * 0.1;
        AssertSameAsOnePass(teacher, wave, 320, 640);
    }

    [Fact]
    public void RandomRealSize_Chunked_EqualsOnePass()
    {
        using var teacher = EncodecTeacher.Random(new EncodecConfig(), seed: 4);
        using var scope = NewDisposeScope();
        var wave = randn(new long[] { 56_017 }, generator: new Generator(6)) * 0.1;   // 2.3 s, not a multiple of the hop
        // 24000 does not divide the length (and is trimmed after); 320 is the smallest chunk.
        AssertSameAsOnePass(teacher, wave, 320, 24_000);
    }

    [Fact]
    public void Chunked_DoesNotLeakTensors()
    {
        using var teacher = EncodecTeacher.Load(Fixtures.Dir(Fixture));
        teacher.ChunkSamples = 3200;
        using var wave = randn(new long[] { 20_000 }, generator: new Generator(7)) * 0.1;
        teacher.Encode(wave).Dispose();                                     // warm-up allocations outside the count
        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        teacher.Encode(wave).Dispose();
        teacher.Embed(wave).Dispose();
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-320)]
    [InlineData(1000)]
    public void ChunkSamples_NotPositiveMultipleOfHop_Throws(long chunk)
    {
        using var teacher = EncodecTeacher.Load(Fixtures.Dir(Fixture));
        Assert.Throws<ArgumentOutOfRangeException>(() => teacher.ChunkSamples = chunk);
        Assert.Equal(EncodecTeacher.DefaultChunkSamples, teacher.ChunkSamples);
    }
}
