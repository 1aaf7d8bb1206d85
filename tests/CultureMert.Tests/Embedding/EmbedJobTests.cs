using CultureMert.Checkpoints;
using CultureMert.Cli;
using CultureMert.Batch;
using CultureMert.Embedding;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Tests.Embedding;

/// <summary>`embed` through the library and through the CLI, against torchaudio goldens.</summary>
public class EmbedJobTests
{
    const double Tol = 1e-4;

    static string FixtureWav(string fixture) => Path.Combine(Fixtures.Dir(fixture), "input.wav");

    [Theory]
    [InlineData("mert-tiny")]
    [InlineData("mert-tiny-bin")]
    public void Embed_PoolNone_MatchesGoldenHiddenStates(string fixture)
    {
        using var mert = MertCheckpoint.Load(Fixtures.Dir(fixture));
        using var result = new Embedder(mert, new EmbedOptions { Pool = Pooling.None }).Embed(FixtureWav(fixture));
        Assert.True(Fixtures.MaxAbsDiff(result.HiddenStates!, Fixtures.Expected(fixture, "hidden_states")) < Tol);
    }

    /// <summary>A model that computes NaN (one weight poisoned) gives each file an error row naming it, and no output.</summary>
    [Theory]
    [InlineData(Pooling.Mean)]
    [InlineData(Pooling.None)]
    public void Embed_NonFiniteModelOutput_IsThatFilesErrorAndWritesNothing(Pooling pool)
    {
        using var dir = new Fixtures.TempDir();
        File.Copy(FixtureWav("mert-tiny"), dir["a.wav"]);
        using var mert = MertCheckpoint.Load(Fixtures.Dir("mert-tiny"));
        using (no_grad())
            mert.Model.named_parameters().Single(p => p.name == "feature_projection.projection.bias").parameter[3].fill_(double.NaN);
        var rows = new EmbedJob(mert, new EmbedOptions { Pool = pool }, dir["out"], overwrite: false).Run(BatchJob.Plan([dir["a.wav"]], dir["out"]));
        var row = Assert.Single(rows);
        Assert.Equal("error", row.Status);
        Assert.Contains(dir["a.wav"], row.Error);
        Assert.Contains("NaN", row.Error);
        Assert.False(File.Exists(dir["out/a.safetensors"]));
    }

    [Fact]
    public void Embed_PoolMeanOneChunk_IsTimeMeanOfGolden()
    {
        // 1.0 s of audio with 5 s chunks: one chunk, which is the whole file, so its embedding is the golden's time-mean.
        using var mert = MertCheckpoint.Load(Fixtures.Dir("mert-tiny"));
        using var result = new Embedder(mert, new EmbedOptions()).Embed(FixtureWav("mert-tiny"));
        var expected = Fixtures.Expected("mert-tiny", "hidden_states").mean([1]);   // (layers, hidden)
        Assert.Equal(new long[] { 1, 3, 64 }, result.ChunkEmbeddings!.shape);
        Assert.True(Fixtures.MaxAbsDiff(result.ChunkEmbeddings![0], expected) < Tol);
        Assert.True(Fixtures.MaxAbsDiff(result.Embedding!, expected) < Tol);
    }

    [Fact]
    public void Embed_Resampled44kStereo_MatchesTorchaudioPipeline()
    {
        // Reference: scipy read → channel mean → torchaudio resample 44.1→24 kHz → torchaudio wav2vec2 (make_golden.py).
        using var mert = MertCheckpoint.Load(Fixtures.Dir("mert-tiny"));
        var wav = Path.Combine(Fixtures.Dir("e2e-44k-stereo"), "input-44k-stereo.wav");
        using var result = new Embedder(mert, new EmbedOptions { Pool = Pooling.None }).Embed(wav);
        var expected = SafeTensors.LoadTensor(Path.Combine(Fixtures.Dir("e2e-44k-stereo"), "expected.safetensors"), "hidden_states");
        Assert.True(Fixtures.MaxAbsDiff(result.HiddenStates!, expected) < Tol);
        Assert.Equal(44100, result.SourceRate);
        Assert.Equal(2, result.SourceChannels);
    }

    [Fact]
    public void Embed_BatchSize_DoesNotChangeResults()
    {
        using var dir = new Fixtures.TempDir();
        var wav = dir["long.wav"];
        var rng = new Random(3);
        var audio = Enumerable.Range(0, 24000 * 4 + 9000).Select(i => (float)(0.3 * Math.Sin(i * 0.05) + 0.05 * (rng.NextDouble() - 0.5))).ToArray();
        CultureMert.Audio.AudioFile.WriteWav(wav, audio, 24000);
        using var mert = MertCheckpoint.Load(Fixtures.Dir("mert-tiny"));
        var opts = new EmbedOptions { ChunkSeconds = 1.0, Layers = [0, 2] };
        using var one = new Embedder(mert, opts with { BatchSize = 1 }).Embed(wav);
        using var three = new Embedder(mert, opts with { BatchSize = 3 }).Embed(wav);
        using var measured = new Embedder(mert, opts with { BatchSize = null }).Embed(wav);   // sizes 1, 1, 2 while it measures
        // 4 full chunks + 0.375 s tail (dropped: shorter than 1 s and not the only chunk)
        Assert.Equal(new long[] { 4, 2, 64 }, one.ChunkEmbeddings!.shape);
        Assert.True(Fixtures.MaxAbsDiff(one.ChunkEmbeddings!, three.ChunkEmbeddings!) < 1e-5);
        Assert.True(Fixtures.MaxAbsDiff(one.ChunkEmbeddings!, measured.ChunkEmbeddings!) < 1e-5);
        // Each chunk equals an independent forward of exactly that second of audio.
        using var __ = inference_mode();
        var chunk2 = tensor(audio[(2 * 24000)..(3 * 24000)]).unsqueeze(0);
        var states = mert.Model.HiddenStates(chunk2);
        Assert.True(Fixtures.MaxAbsDiff(one.ChunkEmbeddings![2][1], states[2][0].mean([0])) < Tol);
        Assert.True(Fixtures.MaxAbsDiff(one.Embedding!, one.ChunkEmbeddings!.mean([0])) < 1e-6);
    }

    [Fact]
    public void Cli_Embed_WritesOutputsIndexAndResumes()
    {
        using var dir = new Fixtures.TempDir();
        var music = Directory.CreateDirectory(dir["music/sub"]).Parent!.FullName;
        File.Copy(FixtureWav("mert-tiny"), Path.Combine(music, "sub", "a.wav"));
        File.Copy(Path.Combine(Fixtures.Dir("e2e-44k-stereo"), "input-44k-stereo.wav"), Path.Combine(music, "b.wav"));
        File.WriteAllBytes(Path.Combine(music, "broken.wav"), "RIFF\x10\0\0\0WAVEjunk"u8.ToArray());
        File.WriteAllText(Path.Combine(music, "notes.txt"), "not audio, not picked up");
        var outDir = dir["emb"];

        var rc = CliApp.Run(["embed", "--model", Fixtures.Dir("mert-tiny"), "--out", outDir, "--layers", "0,2", music]);
        Assert.Equal(1, rc);                                              // one file failed → non-zero, after doing the rest
        var a = Path.Combine(outDir, "sub", "a.safetensors");
        var (tensors, meta, _) = SafeTensors.ReadHeader(a);
        Assert.Equal(["chunk_embeddings", "embedding"], tensors.Select(t => t.Name).Order());
        Assert.Equal(new long[] { 2, 64 }, tensors.Single(t => t.Name == "embedding").Shape);
        Assert.Equal("0,2", meta["layers"]);
        Assert.Equal("mert-tiny", meta["model"]);
        var expected = Fixtures.Expected("mert-tiny", "hidden_states").mean([1]);
        var emb = SafeTensors.LoadTensor(a, "embedding");
        Assert.True(Fixtures.MaxAbsDiff(emb, stack([expected[0], expected[2]])) < Tol);

        var index = Manifest.ReadIndex(Path.Combine(outDir, "index.csv"));
        Assert.Equal(3, index.Count);
        var broken = index.Single(r => r.Path.EndsWith("broken.wav"));
        Assert.Equal("error", broken.Status);
        Assert.Contains("broken.wav", broken.Error);
        Assert.Equal("ok", index.Single(r => r.Path.EndsWith("a.wav")).Status);
        Assert.Equal(1.0, index.Single(r => r.Path.EndsWith("a.wav")).DurationSeconds!.Value, 6);
        Assert.Empty(Directory.EnumerateFiles(outDir, "*.tmp", SearchOption.AllDirectories));

        // Rerun: finished files are skipped, not rewritten.
        var stamp = File.GetLastWriteTimeUtc(a);
        Thread.Sleep(20);
        CliApp.Run(["embed", "--model", Fixtures.Dir("mert-tiny"), "--out", outDir, "--layers", "0,2", music]);
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(a));
        Assert.Equal("skipped", Manifest.ReadIndex(Path.Combine(outDir, "index.csv")).Single(r => r.Path.EndsWith("a.wav")).Status);
        // --overwrite recomputes.
        CliApp.Run(["embed", "--model", Fixtures.Dir("mert-tiny"), "--out", outDir, "--layers", "0,2", "--overwrite", music]);
        Assert.NotEqual(stamp, File.GetLastWriteTimeUtc(a));
    }

    [Fact]
    public void Job_CancelledAfterFirstFile_LeavesOnlyFinishedOutputsAndCleansStaleTemporaries()
    {
        using var dir = new Fixtures.TempDir();
        File.Copy(FixtureWav("mert-tiny"), dir["a.wav"]);
        File.Copy(FixtureWav("mert-tiny"), dir["b.wav"]);
        Directory.CreateDirectory(dir["out"]);
        var stale = dir["out/.cmtmp.999999.0123456789ab.tmp"];                // as a killed process (pid 999999) leaves it
        File.WriteAllText(stale, "half");
        using var mert = MertCheckpoint.Load(Fixtures.Dir("mert-tiny"));
        var job = new EmbedJob(mert, new EmbedOptions(), dir["out"], overwrite: false);
        using var cancel = new CancellationTokenSource();
        var tasks = BatchJob.Plan([dir["a.wav"], dir["b.wav"]], dir["out"]);
        var rows = job.Run(tasks, new CancelAfterFirst(cancel), cancel.Token);
        Assert.Single(rows);
        Assert.True(File.Exists(dir["out/a.safetensors"]));
        Assert.False(File.Exists(dir["out/b.safetensors"]));
        Assert.False(File.Exists(stale));
        Assert.Single(Manifest.ReadIndex(dir["out/index.csv"]));
    }

    sealed class CancelAfterFirst(CancellationTokenSource cancel) : IProgress<JobProgress>
    {
        public void Report(JobProgress p) { if (p.FilesDone == 1) cancel.Cancel(); }
    }

    [Fact]
    public void Cli_EmbedManifest_ResolvesRelativePathsAndPoolNone()
    {
        using var dir = new Fixtures.TempDir();
        Directory.CreateDirectory(dir["data/clips"]);
        File.Copy(FixtureWav("mert-tiny-bin"), dir["data/clips/x.wav"]);
        File.WriteAllText(dir["data/manifest.csv"], "path,labels\nclips/x.wav,\"a;b\"\n");
        var rc = CliApp.Run(["embed", "--model", Fixtures.Dir("mert-tiny-bin"), "--out", dir["out"], "--pool", "none", dir["data/manifest.csv"]]);
        Assert.Equal(0, rc);
        var hs = SafeTensors.LoadTensor(dir["out/clips/x.safetensors"], "hidden_states");
        Assert.True(Fixtures.MaxAbsDiff(hs, Fixtures.Expected("mert-tiny-bin", "hidden_states")) < Tol);
    }

    [Fact]
    public void Embed_ReadAhead_SameResultWhetherUsedSkippedOrFailing()
    {
        // Prefetch decodes a file on another thread for the next Embed: used when the names match, dropped when they
        // do not; a file that fails to decode fails its own Embed, not the one running while it was read ahead.
        using var dir = new Fixtures.TempDir();
        File.WriteAllBytes(dir["broken.wav"], "RIFF\x10\0\0\0WAVEjunk"u8.ToArray());
        using var mert = MertCheckpoint.Load(Fixtures.Dir("mert-tiny"));
        var embedder = new Embedder(mert, new EmbedOptions { ChunkSeconds = 0.4, BatchSize = 2 });
        var wav = FixtureWav("mert-tiny");
        using var direct = embedder.Embed(wav);
        embedder.Prefetch(wav);
        using var prefetched = embedder.Embed(wav);
        embedder.Prefetch(dir["broken.wav"]);
        using var other = embedder.Embed(wav);                                // not the file read ahead
        embedder.Prefetch(dir["broken.wav"]);
        var e = Assert.Throws<InvalidDataException>(() => embedder.Embed(dir["broken.wav"]));
        Assert.Contains("broken.wav", e.Message);
        embedder.CancelPrefetch();
        foreach (var r in new[] { prefetched, other })
        {
            Assert.Equal(direct.Chunks, r.Chunks);
            Assert.Equal(0.0, Fixtures.MaxAbsDiff(r.ChunkEmbeddings!, direct.ChunkEmbeddings!));
        }
    }

    [Fact]
    public void Embed_TooShortOrSilent_ErrorNamesFile()
    {
        using var dir = new Fixtures.TempDir();
        CultureMert.Audio.AudioFile.WriteWav(dir["short.wav"], new float[399].Select((_, i) => (float)Math.Sin(i)).ToArray(), 24000);
        CultureMert.Audio.AudioFile.WriteWav(dir["silent.wav"], new float[24000], 24000);
        using var mert = MertCheckpoint.Load(Fixtures.Dir("mert-tiny"));
        var embedder = new Embedder(mert, new EmbedOptions());
        var e1 = Assert.Throws<InvalidDataException>(() => embedder.Embed(dir["short.wav"]));
        Assert.Contains("short.wav", e1.Message);
        Assert.Contains("too short", e1.Message);
        var e2 = Assert.Throws<InvalidDataException>(() => embedder.Embed(dir["silent.wav"]));
        Assert.Contains("silent.wav", e2.Message);
        Assert.Contains("silent", e2.Message);
    }

    [Theory]
    [InlineData(Pooling.Mean)]
    [InlineData(Pooling.None)]
    public void Embed_Repeated_LeavesNoLiveTensors(Pooling pool)
    {
        using var mert = MertCheckpoint.Load(Fixtures.Dir("mert-tiny"));
        var embedder = new Embedder(mert, new EmbedOptions { Pool = pool, ChunkSeconds = 0.4, BatchSize = 2 });
        var wav = Path.Combine(Fixtures.Dir("e2e-44k-stereo"), "input-44k-stereo.wav");
        embedder.Embed(wav).Dispose();                                    // warm-up: anything cached once stays
        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (var i = 0; i < 3; i++) embedder.Embed(wav).Dispose();
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void Cli_Rerun_OutputFromOtherSourceOrSettings_IsAnErrorNotASkip()
    {
        using var dir = new Fixtures.TempDir();
        Directory.CreateDirectory(dir["a"]);
        Directory.CreateDirectory(dir["b"]);
        File.Copy(FixtureWav("mert-tiny"), dir["a/x.wav"]);
        File.Copy(Path.Combine(Fixtures.Dir("e2e-44k-stereo"), "input-44k-stereo.wav"), dir["b/x.wav"]);
        var model = Fixtures.Dir("mert-tiny");
        Assert.Equal(0, CliApp.Run(["embed", "--model", model, "--out", dir["o"], dir["a"]]));
        var before = File.ReadAllBytes(dir["o/x.safetensors"]);
        // Same output name, other source: the existing file is kept and the new file is reported, not skipped.
        Assert.Equal(1, CliApp.Run(["embed", "--model", model, "--out", dir["o"], dir["b"]]));
        var row = Manifest.ReadIndex(dir["o/index.csv"]).Single(r => r.Path == dir["b/x.wav"]);
        Assert.Equal("error", row.Status);
        Assert.Contains("already exists from a different source", row.Error);
        Assert.Equal(before, File.ReadAllBytes(dir["o/x.safetensors"]));
        // Same source, other layers: likewise.
        Assert.Equal(1, CliApp.Run(["embed", "--model", model, "--out", dir["o"], "--layers", "0", dir["a"]]));
        Assert.Contains("layers", Manifest.ReadIndex(dir["o/index.csv"]).Single(r => r.Path == dir["a/x.wav"]).Error);
        // --overwrite replaces it.
        Assert.Equal(0, CliApp.Run(["embed", "--model", model, "--out", dir["o"], "--layers", "0", "--overwrite", dir["a"]]));
        Assert.Equal(new long[] { 1, 64 }, SafeTensors.ReadHeader(dir["o/x.safetensors"]).Tensors.Single(t => t.Name == "embedding").Shape);
    }

    [Fact]
    public void Cli_CollidingOutputsAndMissingInput_AreErrorRowsAndTheRestRuns()
    {
        using var dir = new Fixtures.TempDir();
        Directory.CreateDirectory(dir["in"]);
        File.Copy(FixtureWav("mert-tiny"), dir["in/song.wav"]);
        File.Copy(Path.Combine(Fixtures.Dir("audio"), "flac_s16_stereo.flac"), dir["in/song.flac"]);
        File.Copy(FixtureWav("mert-tiny-bin"), dir["in/other.wav"]);
        Assert.Equal(1, CliApp.Run(["embed", "--model", Fixtures.Dir("mert-tiny"), "--out", dir["o"], dir["in"], dir["nope.wav"]]));
        var index = Manifest.ReadIndex(dir["o/index.csv"]);
        Assert.Equal(4, index.Count);
        Assert.Equal(2, index.Count(r => r.Status == "ok"));                     // other.wav and the first song.*
        Assert.Contains(index, r => r.Status == "error" && r.Error.Contains("would overwrite that of"));
        Assert.Contains(index, r => r.Status == "error" && r.Error.Contains("nope.wav: no such file or folder"));
    }

    [Fact]
    public void Cli_ForeignIndexCsvInOut_RefusedBeforeAnyWork()
    {
        using var dir = new Fixtures.TempDir();
        Directory.CreateDirectory(dir["o"]);
        File.WriteAllText(dir["o/index.csv"], "path,output,status\nx,y,ok\n");
        Assert.Equal(3, CliApp.Run(["embed", "--model", Fixtures.Dir("mert-tiny"), "--out", dir["o"], FixtureWav("mert-tiny")]));
        Assert.False(File.Exists(dir["o/input.safetensors"]));
        Assert.Equal("path,output,status\nx,y,ok\n", File.ReadAllText(dir["o/index.csv"]));
    }

    [Fact]
    public void Embed_AbsurdSampleRateHeader_ErrorRowNamesFile()
    {
        using var dir = new Fixtures.TempDir();
        CultureMert.Audio.AudioFile.WriteWav(dir["odd.wav"], new float[500].Select((_, i) => (float)Math.Sin(i)).ToArray(), 24000);
        var bytes = File.ReadAllBytes(dir["odd.wav"]);
        BitConverter.GetBytes(1_000_000_007).CopyTo(bytes, 24);                 // fmt chunk: sample rate field
        File.WriteAllBytes(dir["odd.wav"], bytes);
        using var mert = MertCheckpoint.Load(Fixtures.Dir("mert-tiny"));
        var e = Assert.Throws<InvalidDataException>(() => new Embedder(mert, new EmbedOptions()).Embed(dir["odd.wav"]));
        Assert.Contains("odd.wav", e.Message);
        Assert.Contains("sample rate", e.Message);
    }

    [Theory]
    [InlineData("--layers", ",")]
    [InlineData("--layers", "1,1")]
    [InlineData("--layers", "99999999999")]
    [InlineData("--chunk-seconds", "NaN")]
    [InlineData("--chunk-seconds", "1e9")]
    [InlineData("--batch-size", "0")]
    public void Cli_Embed_InvalidOption_ExitCode2(string option, string value)
    {
        using var dir = new Fixtures.TempDir();
        Assert.Equal(2, CliApp.Run(["embed", "--model", Fixtures.Dir("mert-tiny"), "--out", dir["o"], option, value, FixtureWav("mert-tiny")]));
        Assert.False(File.Exists(dir["o/input.safetensors"]));
    }

    [Fact]
    public void Cli_Embed_BadArguments_ClearErrors()
    {
        using var dir = new Fixtures.TempDir();
        Assert.Equal(3, CliApp.Run(["embed", "--model", dir["nope"], "--out", dir["o"], FixtureWav("mert-tiny")]));
        Assert.Equal(2, CliApp.Run(["embed", "--model", Fixtures.Dir("mert-tiny"), "--out", dir["o"], "--layers", "0,7", FixtureWav("mert-tiny")]));
        Assert.NotEqual(0, CliApp.Run(["embed", "--model", Fixtures.Dir("mert-tiny"), "--out", dir["o"], dir["missing.wav"]]));
    }
}
