using System.Text.Json.Nodes;
using CultureMert.Checkpoints;
using CultureMert.Teachers;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace CultureMert.Tests.Teachers;

/// <summary>
/// Parity of the EnCodec teacher with the original facebookresearch/encodec code (tests/fixtures/encodec-tiny: reduced
/// width, real 24 kHz structure, random weights under HF names), plus the loader's checks and edge cases.
/// </summary>
public class EncodecTests(ITestOutputHelper output)
{
    const string Fixture = "encodec-tiny";
    const double Tol = 1e-4;             // fixtures/README: embeddings within 1e-4 absolute
    const double MinCodeAgreement = 0.995; // an argmin can flip on near-ties

    static Tensor Golden(string tensor, string file = "expected.safetensors") =>
        SafeTensors.LoadTensor(Path.Combine(Fixtures.Dir(Fixture), file), tensor);

    /// <summary>A copy of the fixture folder whose tensors (and config keys) the test may rewrite.</summary>
    static Fixtures.TempDir CopyFixture(Func<Dictionary<string, Tensor>, IEnumerable<KeyValuePair<string, Tensor>>>? rewrite = null,
                                        Action<JsonObject>? config = null)
    {
        var dir = new Fixtures.TempDir();
        var src = Fixtures.Dir(Fixture);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(src, "config.json")))!.AsObject();
        config?.Invoke(json);
        File.WriteAllText(dir["config.json"], json.ToJsonString());
        if (rewrite is null) File.Copy(Path.Combine(src, "model.safetensors"), dir["model.safetensors"]);
        else
        {
            using var scope = NewDisposeScope();
            SafeTensors.Save(dir["model.safetensors"], rewrite(SafeTensors.Load(Path.Combine(src, "model.safetensors"))).ToList());
        }
        return dir;
    }

    static double Agreement(Tensor a, Tensor b)
    {
        Assert.Equal(b.shape, a.shape);
        return a.eq(b).to(ScalarType.Float64).mean().item<double>();
    }

    [Fact]
    public void Embed_TinyFixture_MatchesGolden()
    {
        using var teacher = EncodecTeacher.Load(Fixtures.Dir(Fixture));
        using var scope = NewDisposeScope();
        var emb = teacher.Embed(Golden("waveform"));
        Assert.Equal(ScalarType.Float32, emb.dtype);
        var diff = Fixtures.MaxAbsDiff(emb, Golden("embedding"));
        output.WriteLine($"max |Δ embedding| = {diff:E2}");
        Assert.InRange(diff, 0, Tol);
    }

    [Fact]
    public void Encode_TinyFixture_CodesMatchGolden()
    {
        using var teacher = EncodecTeacher.Load(Fixtures.Dir(Fixture));
        using var scope = NewDisposeScope();
        var codes = teacher.Encode(Golden("waveform"));
        Assert.Equal(ScalarType.Int64, codes.dtype);
        Assert.Equal(8, teacher.Codebooks);
        var agreement = Agreement(codes, Golden("codes"));
        output.WriteLine($"codes identical in {agreement:P3} of {codes.numel()} positions");
        Assert.InRange(agreement, MinCodeAgreement, 1.0);
    }

    /// <summary>120 samples: deeper layers see inputs no longer than their padding (pad1d's zero-extension case).</summary>
    [Theory]
    [InlineData("expected-120.safetensors", 120, 1)]
    [InlineData("expected-328.safetensors", 328, 2)]
    public void Encode_ShortInput_MatchesGoldenWithCeilFrames(string file, int samples, int frames)
    {
        using var teacher = EncodecTeacher.Load(Fixtures.Dir(Fixture));
        using var scope = NewDisposeScope();
        var wave = Golden("waveform", file);
        Assert.Equal(samples, wave.shape[0]);
        var emb = teacher.Embed(wave);
        Assert.Equal(new long[] { 16, frames }, emb.shape);
        Assert.InRange(Fixtures.MaxAbsDiff(emb, Golden("embedding", file)), 0, Tol);
        Assert.InRange(Agreement(teacher.Encode(wave), Golden("codes", file)), MinCodeAgreement, 1.0);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(319)]
    [InlineData(320)]
    [InlineData(321)]
    [InlineData(4801)]
    public void Encode_AnyLength_GivesCeilFrames(int samples)
    {
        using var teacher = EncodecTeacher.Load(Fixtures.Dir(Fixture));
        using var scope = NewDisposeScope();
        var codes = teacher.Encode(randn(new long[] { samples }, generator: new Generator(3)) * 0.1);
        Assert.Equal(new long[] { 8, (samples + 319) / 320 }, codes.shape);
        Assert.True(codes.ge(0).all().item<bool>() && codes.lt(1024).all().item<bool>());
    }

    [Fact]
    public void Load_ParametrizationNames_SameAsWeightGV()
    {
        using var dir = CopyFixture(state => state.Select(kv => KeyValuePair.Create(
            kv.Key.Replace(".conv.weight_g", ".conv.parametrizations.weight.original0")
                  .Replace(".conv.weight_v", ".conv.parametrizations.weight.original1"), kv.Value)));
        Assert.Contains("encoder.layers.0.conv.parametrizations.weight.original0",
                        SafeTensors.ReadHeader(dir["model.safetensors"]).Tensors.Select(t => t.Name));
        using var teacher = EncodecTeacher.Load(dir.Path);
        using var scope = NewDisposeScope();
        var wave = Golden("waveform");
        Assert.InRange(Fixtures.MaxAbsDiff(teacher.Embed(wave), Golden("embedding")), 0, Tol);
        Assert.InRange(Agreement(teacher.Encode(wave), Golden("codes")), MinCodeAgreement, 1.0);
    }

    [Fact]
    public void Load_ShardedSafetensors_SameAsSingleFile()
    {
        using var dir = new Fixtures.TempDir();
        File.Copy(Path.Combine(Fixtures.Dir(Fixture), "config.json"), dir["config.json"]);
        using (var scope = NewDisposeScope())
        {
            var state = SafeTensors.Load(Path.Combine(Fixtures.Dir(Fixture), "model.safetensors"));
            var (first, second) = (state.Where(kv => kv.Key.StartsWith("encoder.")).ToList(), state.Where(kv => !kv.Key.StartsWith("encoder.")).ToList());
            SafeTensors.Save(dir["model-00001-of-00002.safetensors"], first);
            SafeTensors.Save(dir["model-00002-of-00002.safetensors"], second);
            var map = new JsonObject();
            foreach (var kv in first) map[kv.Key] = "model-00001-of-00002.safetensors";
            foreach (var kv in second) map[kv.Key] = "model-00002-of-00002.safetensors";
            File.WriteAllText(dir["model.safetensors.index.json"], new JsonObject { ["metadata"] = new JsonObject(), ["weight_map"] = map }.ToJsonString());
        }
        using var sharded = EncodecTeacher.Load(dir.Path);
        using var single = EncodecTeacher.Load(Fixtures.Dir(Fixture));
        using var s = NewDisposeScope();
        var wave = Golden("waveform");
        Assert.Equal(1.0, Agreement(sharded.Encode(wave), single.Encode(wave)));
        Assert.NotEqual(single.Hash, sharded.Hash);
    }

    [Fact]
    public void Load_DecoderAndTrainingBuffers_AreIgnored()
    {
        using var dir = CopyFixture(state => state.Append(KeyValuePair.Create("decoder.layers.0.conv.weight_g", ones(4, 1, 1)))
            .Append(KeyValuePair.Create("quantizer.layers.0.codebook.embed_avg", zeros(1024, 16)))
            .Append(KeyValuePair.Create("quantizer.layers.0.codebook.cluster_size", zeros(1024)))
            .Append(KeyValuePair.Create("quantizer.layers.0.codebook.inited", ones(1)))
            .Append(KeyValuePair.Create("quantizer.layers.8.codebook.embed", zeros(1024, 3))));   // beyond 6 kbps: not even shape-checked
        using var teacher = EncodecTeacher.Load(dir.Path);
        using var scope = NewDisposeScope();
        Assert.InRange(Agreement(teacher.Encode(Golden("waveform")), Golden("codes")), MinCodeAgreement, 1.0);
    }

    [Theory]
    [InlineData(1.5, 2)]
    [InlineData(3.0, 4)]
    public void Encode_LowerBandwidth_GivesFirstCodebooksOf6Kbps(double bandwidth, int codebooks)
    {
        using var full = EncodecTeacher.Load(Fixtures.Dir(Fixture));
        using var low = EncodecTeacher.Load(Fixtures.Dir(Fixture), bandwidth);
        using var scope = NewDisposeScope();
        Assert.Equal(codebooks, low.Codebooks);
        var wave = Golden("waveform");
        Assert.Equal(1.0, Agreement(low.Encode(wave), full.Encode(wave)[..codebooks]));
        Assert.NotEqual(full.Hash, low.Hash);
        Assert.Equal($"encodec_24khz@{bandwidth:0.###}kbps", low.Name);
    }

    [Fact]
    public void Load_BandwidthNeedingMoreCodebooksThanStored_ThrowsNamingFile()
    {
        var e = Assert.Throws<InvalidDataException>(() => EncodecTeacher.Load(Fixtures.Dir(Fixture), 12.0));
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains("the file has 8 codebook(s)", e.Message);
        Assert.Contains("needs the first 16", e.Message);
    }

    [Fact]
    public void Load_BandwidthNotInTargetBandwidths_Throws()
    {
        var e = Assert.Throws<ArgumentException>(() => EncodecTeacher.Load(Fixtures.Dir(Fixture), 5.0));
        Assert.Contains("target_bandwidths", e.Message);
    }

    [Fact]
    public void Load_MissingAndMisShapedTensors_OneErrorListingAll()
    {
        using var dir = CopyFixture(state => state
            .Where(kv => kv.Key != "encoder.layers.13.lstm.weight_hh_l1" && kv.Key != "quantizer.layers.5.codebook.embed")
            .Select(kv => kv.Key == "encoder.layers.4.block.1.conv.weight_v" ? KeyValuePair.Create(kv.Key, zeros(2, 2, 2)) : kv));
        var e = Assert.Throws<InvalidDataException>(() => EncodecTeacher.Load(dir.Path));
        output.WriteLine(e.Message);
        Assert.Contains(dir["model.safetensors"], e.Message);
        Assert.Contains("missing tensor encoder.layers.13.lstm.weight_hh_l1 [256, 64]", e.Message);
        Assert.Contains("missing tensor quantizer.layers.5.codebook.embed [1024, 16]", e.Message);
        Assert.Contains("encoder.layers.4.block.1.conv.weight_v has shape [2, 2, 2], expected [4, 8, 3]", e.Message);
    }

    [Theory]
    [InlineData("use_causal_conv", "false")]
    [InlineData("norm_type", "\"time_group_norm\"")]
    [InlineData("normalize", "true")]
    [InlineData("chunk_length_s", "1.0")]
    [InlineData("audio_channels", "2")]
    [InlineData("pad_mode", "\"constant\"")]
    [InlineData("use_conv_shortcut", "false")]
    public void Load_UnsupportedConfigKey_ThrowsNamingKeyAndFile(string key, string value)
    {
        using var dir = CopyFixture(config: json => json[key] = JsonNode.Parse(value));
        var e = Assert.Throws<NotSupportedException>(() => EncodecTeacher.Load(dir.Path));
        Assert.Contains(key, e.Message);
        Assert.Contains(dir["config.json"], e.Message);
    }

    [Fact]
    public void Config_Defaults_AreEncodec24khz()
    {
        var c = EncodecConfig.FromJson(new JsonObject(), "test");
        Assert.Equal((320, 75, 128, 32), (c.HopLength, c.FrameRate, c.HiddenSize, c.NumFilters));
        Assert.Equal(new[] { 2, 4, 8, 16, 32 }, c.TargetBandwidths.Select(c.NumQuantizers).ToArray());
    }

    /// <summary>Real-size names and shapes (spec §6 table), including TorchSharp's LSTM parameter names.</summary>
    [Fact]
    public void RandomModel_RealSize_HasHuggingFaceNamesAndShapes()
    {
        using var model = new EncodecModel(new EncodecConfig(), 8);
        var shapes = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        Assert.Equal(new long[] { 32, 1, 7 }, shapes["encoder.layers.0.conv.weight_v"]);
        Assert.Equal(new long[] { 32, 1, 1 }, shapes["encoder.layers.0.conv.weight_g"]);
        Assert.Equal(new long[] { 16, 32, 3 }, shapes["encoder.layers.1.block.1.conv.weight_v"]);
        Assert.Equal(new long[] { 32, 16, 1 }, shapes["encoder.layers.1.block.3.conv.weight_v"]);
        Assert.Equal(new long[] { 32, 32, 1 }, shapes["encoder.layers.1.shortcut.conv.weight_v"]);
        Assert.Equal(new long[] { 512, 256, 16 }, shapes["encoder.layers.12.conv.weight_v"]);
        foreach (var l in new[] { 0, 1 })
        {
            Assert.Equal(new long[] { 2048, 512 }, shapes[$"encoder.layers.13.lstm.weight_ih_l{l}"]);
            Assert.Equal(new long[] { 2048, 512 }, shapes[$"encoder.layers.13.lstm.weight_hh_l{l}"]);
            Assert.Equal(new long[] { 2048 }, shapes[$"encoder.layers.13.lstm.bias_ih_l{l}"]);
            Assert.Equal(new long[] { 2048 }, shapes[$"encoder.layers.13.lstm.bias_hh_l{l}"]);
        }
        Assert.Equal(new long[] { 128, 512, 7 }, shapes["encoder.layers.15.conv.weight_v"]);
        Assert.Equal(new long[] { 1024, 128 }, shapes["quantizer.layers.7.codebook.embed"]);
        Assert.Equal(6 * 3 + 4 * 9 + 8 + 8, shapes.Count);   // 6 convs, 4 residual blocks of 3 convs, LSTM, codebooks
    }

    [Fact]
    public void RandomTeacher_OneSecond_Gives75FramesWithoutLeaking()
    {
        using var teacher = EncodecTeacher.Random(new EncodecConfig(), seed: 1);
        using var wave = randn(new long[] { 24000 }, generator: new Generator(2)) * 0.1;
        teacher.Encode(wave).Dispose();                                     // warm-up allocations outside the count
        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        using (var codes = teacher.Encode(wave))
        {
            Assert.Equal(new long[] { 8, 75 }, codes.shape);
            using var top = codes.max();
            Assert.True(top.item<long>() > 0);                              // random codebooks: not all the same entry
        }
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        Assert.Equal(16, teacher.Hash.Length);
    }
}
