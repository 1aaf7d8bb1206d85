using System.Text;
using System.Text.Json.Nodes;
using CultureMert.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Tests.Checkpoints;

/// <summary>
/// <see cref="MertCheckpoint.Save"/> must write a strictly valid Hugging Face MERT folder. The fixtures (written by
/// Python, tests/fixtures and shared/reference/mert_golden.py) are the independent reference for tensor names, shapes
/// and config keys; the header is parsed here by hand, not with our <see cref="SafeTensors"/> reader. Checked once
/// offline as well: shared/reference/hf_mert_forward.py (strict names/shapes, torchaudio forward) on saved mert-tiny and
/// mert-tiny-bin folders reproduces the fixture goldens within 3.1e-6.
/// </summary>
public class MertCheckpointSaveTests
{
    static readonly string[] ArchitectureKeys =
    [
        "model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "hidden_act",
        "conv_dim", "conv_kernel", "conv_stride", "conv_bias", "feat_extract_norm", "feat_extract_activation",
        "feat_proj_layer_norm", "num_conv_pos_embeddings", "num_conv_pos_embedding_groups", "do_stable_layer_norm",
        "layer_norm_eps", "mask_time_prob", "feature_extractor_cqt", "deepnorm", "sample_rate",
    ];

    /// <summary>The raw safetensors header as JSON, parsed independently of <see cref="SafeTensors"/>.</summary>
    static (JsonObject Header, long HeaderLength, long FileLength) RawHeader(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var n = BitConverter.ToInt64(bytes, 0);
        return (JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, (int)n))!.AsObject(), n, bytes.LongLength);
    }

    static Fixtures.TempDir SaveFixture(string fixture)
    {
        var tmp = new Fixtures.TempDir();
        using var loaded = MertCheckpoint.Load(Fixtures.Dir(fixture));
        MertCheckpoint.Save(loaded.Model, tmp.Path, loaded.Preprocessor);
        return tmp;
    }

    [Theory]
    [InlineData("mert-tiny")]
    [InlineData("mert-tiny-preln")]
    [InlineData("mert-tiny-layernorm")]
    public void Save_LoadedFixture_HeaderIsPtFormatF32WithFixtureNamesAndShapes(string fixture)
    {
        using var tmp = SaveFixture(fixture);
        var (saved, headerLen, fileLen) = RawHeader(tmp["model.safetensors"]);
        var (reference, _, _) = RawHeader(Path.Combine(Fixtures.Dir(fixture), "model.safetensors"));

        var metadata = Assert.IsType<JsonObject>(saved["__metadata__"]);
        Assert.Equal("""{"format":"pt"}""", metadata.ToJsonString());
        Assert.Equal(0, headerLen % 8);                                             // data section 8-byte aligned
        var names = saved.Select(kv => kv.Key).Where(k => k != "__metadata__").Order(StringComparer.Ordinal).ToList();
        var expected = reference.Select(kv => kv.Key).Where(k => k != "__metadata__").Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, names);

        var ranges = new List<(long Begin, long End)>();
        foreach (var name in names)
        {
            var entry = saved[name]!.AsObject();
            Assert.Equal("F32", entry["dtype"]!.GetValue<string>());
            Assert.Equal(reference[name]!["shape"]!.ToJsonString(), entry["shape"]!.ToJsonString());
            var offsets = entry["data_offsets"]!.AsArray().Select(x => x!.GetValue<long>()).ToArray();
            var numel = entry["shape"]!.AsArray().Aggregate(1L, (a, d) => a * d!.GetValue<long>());
            Assert.Equal(4 * numel, offsets[1] - offsets[0]);
            ranges.Add((offsets[0], offsets[1]));
        }
        // the data ranges tile the data section exactly: no gaps, no overlaps, nothing after the last tensor
        ranges.Sort();
        Assert.Equal(0, ranges[0].Begin);
        for (var i = 1; i < ranges.Count; i++) Assert.Equal(ranges[i - 1].End, ranges[i].Begin);
        Assert.Equal(fileLen - 8 - headerLen, ranges[^1].End);
    }

    [Fact]
    public void Save_NewNamePosConvCheckpoint_WritesWeightGAndWeightV()
    {
        // mert-tiny-bin stores the pos-conv as parametrizations.weight.original0/1; HF MERT folders use weight_g/weight_v.
        using var tmp = SaveFixture("mert-tiny-bin");
        var (saved, _, _) = RawHeader(tmp["model.safetensors"]);
        Assert.Equal("[1,1,8]", saved["encoder.pos_conv_embed.conv.weight_g"]!["shape"]!.ToJsonString());
        Assert.Equal("[48,24,8]", saved["encoder.pos_conv_embed.conv.weight_v"]!["shape"]!.ToJsonString());
        Assert.DoesNotContain(saved, kv => kv.Key.Contains("parametrizations"));
    }

    [Theory]
    [InlineData("mert-tiny")]
    [InlineData("mert-tiny-bin")]
    public void Save_ThenLoad_ReproducesEveryTensorBitForBit(string fixture)
    {
        using var tmp = new Fixtures.TempDir();
        using var original = MertCheckpoint.Load(Fixtures.Dir(fixture));
        MertCheckpoint.Save(original.Model, tmp.Path, original.Preprocessor);
        using var reloaded = MertCheckpoint.Load(tmp.Path);
        var a = original.Model.state_dict();
        var b = reloaded.Model.state_dict();
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var (k, v) in a)
            Assert.True(v.equal(b[k]).all().item<bool>(), $"{fixture}: {k} changed in the round trip");
        Assert.Empty(reloaded.IgnoredHeads);
    }

    [Theory]
    [InlineData("mert-tiny")]
    [InlineData("mert-tiny-bin")]
    [InlineData("mert-tiny-preln")]
    [InlineData("mert-tiny-layernorm")]
    public void Save_ThenLoad_HiddenStatesMatchFixtureGolden(string fixture)
    {
        using var tmp = SaveFixture(fixture);
        using var reloaded = MertCheckpoint.Load(tmp.Path);
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var input = reloaded.Preprocessor.Apply(Fixtures.Expected(fixture, "waveform").unsqueeze(0));  // do_normalize must survive too
        var states = reloaded.Model.HiddenStates(input);
        var expected = Fixtures.Expected(fixture, "hidden_states");
        Assert.Equal(expected.size(0), states.Count);
        for (var i = 0; i < states.Count; i++)
            Assert.InRange(Fixtures.MaxAbsDiff(states[i][0], expected[i]), 0, 1e-4);
    }

    [Theory]
    [InlineData("mert-tiny")]
    [InlineData("mert-tiny-bin")]
    [InlineData("mert-tiny-preln")]
    [InlineData("mert-tiny-layernorm")]
    public void Save_ConfigAndPreprocessor_RoundTripArchitectureKeys(string fixture)
    {
        using var tmp = SaveFixture(fixture);
        var saved = JsonNode.Parse(File.ReadAllText(tmp["config.json"]))!.AsObject();
        var reference = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.Dir(fixture), "config.json")))!.AsObject();
        foreach (var key in ArchitectureKeys)
            AssertSameJson(reference[key], saved[key], $"{fixture} config.json {key}");
        var savedPre = JsonNode.Parse(File.ReadAllText(tmp["preprocessor_config.json"]))!.AsObject();
        var refPre = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.Dir(fixture), "preprocessor_config.json")))!.AsObject();
        foreach (var key in new[] { "do_normalize", "sampling_rate", "feature_extractor_type" })
            AssertSameJson(refPre[key], savedPre[key], $"{fixture} preprocessor_config.json {key}");
    }

    /// <summary>JSON equality with numbers compared by value (1e-05 and 1E-05 are the same eps).</summary>
    [Fact]
    public void Save_FromFolderWithRemoteCode_CopiesPyFilesAndKeepsModelType()
    {
        using var src = new Fixtures.TempDir();
        foreach (var f in Directory.EnumerateFiles(Fixtures.Dir("mert-tiny"))) File.Copy(f, src[Path.GetFileName(f)]);
        File.WriteAllText(src["modeling_MERT.py"], "# MERT remote code stand-in\n");
        using var loaded = MertCheckpoint.Load(src.Path);
        using var dst = new Fixtures.TempDir();
        MertCheckpoint.Save(loaded.Model, dst.Path, loaded.Preprocessor, sourceDirectory: src.Path);
        Assert.Equal("# MERT remote code stand-in\n", File.ReadAllText(dst["modeling_MERT.py"]));
        var config = JsonNode.Parse(File.ReadAllText(dst["config.json"]))!;
        Assert.Equal("mert_model", config["model_type"]!.GetValue<string>());   // as the fixture's config.json says
    }

    static void AssertSameJson(JsonNode? expected, JsonNode? actual, string what)
    {
        Assert.True(expected is not null, $"{what}: missing in the reference");
        Assert.True(actual is not null, $"{what}: missing after save");
        switch (expected)
        {
            case JsonArray ea:
                var aa = Assert.IsType<JsonArray>(actual);
                Assert.Equal(ea.Count, aa.Count);
                for (var i = 0; i < ea.Count; i++) AssertSameJson(ea[i], aa[i], $"{what}[{i}]");
                break;
            case JsonValue ev when ev.GetValueKind() == System.Text.Json.JsonValueKind.Number:
                Assert.Equal(ev.GetValue<double>(), actual!.GetValue<double>());
                break;
            default:
                Assert.Equal(expected.ToJsonString(), actual!.ToJsonString());
                break;
        }
    }
}
