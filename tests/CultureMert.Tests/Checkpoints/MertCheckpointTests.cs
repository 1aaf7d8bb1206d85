using System.IO.Compression;
using System.Text.Json.Nodes;
using CultureMert.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Tests.Checkpoints;

/// <summary>
/// How <see cref="MertCheckpoint.Load"/> fails on broken Hugging Face folders, and the non-float32 / sharded layouts it
/// must accept. Each broken folder is a temp copy of a fixture with one thing changed; every error must say which file
/// and which tensor or key is at fault.
/// </summary>
public class MertCheckpointTests
{
    const string Tiny = "mert-tiny";

    /// <summary>Copies config.json and preprocessor_config.json (and the weights unless told not to) into a temp folder.</summary>
    static Fixtures.TempDir CopyFixture(string fixture = Tiny, bool weights = true)
    {
        var tmp = new Fixtures.TempDir();
        foreach (var f in Directory.GetFiles(Fixtures.Dir(fixture)))
        {
            var name = Path.GetFileName(f);
            var isWeights = name.StartsWith("model.safetensors") || name.StartsWith("pytorch_model.bin");
            if (name is "config.json" or "preprocessor_config.json" || (weights && isWeights)) File.Copy(f, tmp[name]);
        }
        return tmp;
    }

    /// <summary>Rewrites the temp folder's model.safetensors after <paramref name="edit"/> changed the fixture's tensors.</summary>
    static string EditWeights(Fixtures.TempDir tmp, Action<Dictionary<string, Tensor>> edit)
    {
        var path = tmp["model.safetensors"];
        var state = SafeTensors.Load(Path.Combine(Fixtures.Dir(Tiny), "model.safetensors"));
        edit(state);
        SafeTensors.Save(path, state, new Dictionary<string, string> { ["format"] = "pt" });
        foreach (var t in state.Values) t.Dispose();
        return path;
    }

    static void EditConfig(Fixtures.TempDir tmp, Action<JsonObject> edit)
    {
        var json = JsonNode.Parse(File.ReadAllText(tmp["config.json"]))!.AsObject();
        edit(json);
        File.WriteAllText(tmp["config.json"], json.ToJsonString());
    }

    static List<Tensor> GoldenStates(string fixture = Tiny)
    {
        var expected = Fixtures.Expected(fixture, "hidden_states");
        return Enumerable.Range(0, (int)expected.size(0)).Select(i => expected[i]).ToList();
    }

    static double MaxStateError(LoadedMert loaded, string fixture = Tiny)
    {
        using var _ = inference_mode();
        var states = loaded.Model.HiddenStates(loaded.Preprocessor.Apply(Fixtures.Expected(fixture, "waveform").unsqueeze(0)));
        var golden = GoldenStates(fixture);
        Assert.Equal(golden.Count, states.Count);
        return states.Zip(golden, (s, g) => Fixtures.MaxAbsDiff(s[0], g)).Max();
    }

    // ---- tensors that do not match config.json ---------------------------------------------------------------

    [Fact]
    public void Load_MissingTensor_ThrowsNamingFileAndTensor()
    {
        using var tmp = CopyFixture(weights: false);
        const string name = "encoder.layers.1.attention.k_proj.bias";
        var path = EditWeights(tmp, s => { s[name].Dispose(); s.Remove(name); });
        var e = Assert.Throws<InvalidDataException>(() => MertCheckpoint.Load(tmp.Path));
        Assert.Contains(path, e.Message);
        Assert.Contains($"missing tensor {name}", e.Message);
    }

    [Fact]
    public void Load_UnexpectedTensor_ThrowsNamingFileAndTensor()
    {
        using var tmp = CopyFixture(weights: false);
        const string name = "encoder.layers.2.attention.k_proj.bias";   // the fixture has 2 layers: 0 and 1
        var path = EditWeights(tmp, s => s[name] = zeros(64));
        var e = Assert.Throws<InvalidDataException>(() => MertCheckpoint.Load(tmp.Path));
        Assert.Contains(path, e.Message);
        Assert.Contains($"unexpected tensor {name}", e.Message);
    }

    [Fact]
    public void Load_MisShapedTensor_ThrowsNamingFileTensorAndShapes()
    {
        using var tmp = CopyFixture(weights: false);
        const string name = "feature_projection.projection.weight";      // (64, 32) in the fixture
        var path = EditWeights(tmp, s => { s[name].Dispose(); s[name] = zeros(32, 64); });
        var e = Assert.Throws<InvalidDataException>(() => MertCheckpoint.Load(tmp.Path));
        Assert.Contains(path, e.Message);
        Assert.Contains($"{name} has shape [32, 64], expected [64, 32]", e.Message);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void Load_NonFiniteWeight_ThrowsNamingFileAndTensor(double bad)
    {
        using var tmp = CopyFixture(weights: false);
        const string name = "encoder.layers.1.feed_forward.output_dense.weight";
        var path = EditWeights(tmp, s => { using var _ = no_grad(); s[name][3, 5] = tensor((float)bad); });
        var e = Assert.Throws<InvalidDataException>(() => MertCheckpoint.Load(tmp.Path));
        Assert.Contains(path, e.Message);
        Assert.Contains($"tensor {name} holds NaN or infinite values", e.Message);
    }

    [Fact]
    public void Load_IntegerDTypeTensor_ThrowsNamingFileAndTensor()
    {
        using var tmp = CopyFixture(weights: false);
        const string name = "encoder.layer_norm.bias";
        var path = EditWeights(tmp, s => { var t = s[name]; s[name] = t.to(ScalarType.Int64); t.Dispose(); });
        var e = Assert.Throws<InvalidDataException>(() => MertCheckpoint.Load(tmp.Path));
        Assert.Contains(path, e.Message);
        Assert.Contains($"{name} has dtype Int64", e.Message);
    }

    // ---- damaged weight files ----------------------------------------------------------------------------------

    [Fact]
    public void Load_TruncatedSafetensors_ThrowsNamingFileAndFirstCutTensor()
    {
        using var tmp = CopyFixture();
        var path = tmp["model.safetensors"];
        var (infos, _, dataStart) = SafeTensors.ReadHeader(path);
        var cutInside = infos[infos.Count / 2];                          // cut in the middle of this tensor's data
        using (var f = new FileStream(path, FileMode.Open)) f.SetLength(dataStart + cutInside.Begin + cutInside.ByteLength / 2);
        var e = Assert.Throws<InvalidDataException>(() => MertCheckpoint.Load(tmp.Path));
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated", e.Message);
        // the header names every tensor; the first one that no longer fits is reported (infos are in file order)
        Assert.Contains($"tensor {cutInside.Name} ", e.Message);
    }

    [Fact]
    public void Load_SafetensorsHeaderNotJson_ThrowsNamingFile()
    {
        using var tmp = CopyFixture();
        var path = tmp["model.safetensors"];
        var bytes = File.ReadAllBytes(path);
        bytes[8] = (byte)'#';                                            // the header's opening brace
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidDataException>(() => MertCheckpoint.Load(tmp.Path));
        Assert.Contains(path, e.Message);
        Assert.Contains("corrupt safetensors header", e.Message);
    }

    [Theory]
    [InlineData("dtype")]
    [InlineData("shape")]
    [InlineData("data_offsets")]
    public void Load_SafetensorsHeaderEntryLacksField_ThrowsNamingFileTensorAndField(string field)
    {
        // Valid JSON with a broken entry: must be a format error naming the tensor, not a NullReferenceException.
        using var tmp = CopyFixture();
        var path = tmp["model.safetensors"];
        var bytes = File.ReadAllBytes(path);
        var headerLen = (int)BitConverter.ToInt64(bytes, 0);
        var header = JsonNode.Parse(bytes.AsSpan(8, headerLen))!.AsObject();
        const string name = "encoder.layer_norm.weight";
        header[name]!.AsObject().Remove(field);
        var newHeader = System.Text.Encoding.UTF8.GetBytes(header.ToJsonString().PadRight(headerLen));
        Assert.Equal(headerLen, newHeader.Length);                       // same length: the data section stays in place
        newHeader.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidDataException>(() => MertCheckpoint.Load(tmp.Path));
        Assert.Contains(path, e.Message);
        Assert.Contains(name, e.Message);
        Assert.Contains(field, e.Message);
    }

    [Fact]
    public void Load_SafetensorsMetadataValueNotString_ThrowsNamingFileAndKey()
    {
        using var tmp = CopyFixture(weights: false);
        var path = EditWeights(tmp, _ => { });                           // our writer adds {"format":"pt"}
        var bytes = File.ReadAllBytes(path);
        var text = System.Text.Encoding.UTF8.GetString(bytes);
        var at = text.IndexOf("\"format\":\"pt\"", StringComparison.Ordinal);
        Assert.True(at > 0);
        System.Text.Encoding.UTF8.GetBytes("\"format\":1234").CopyTo(bytes, at);   // same length: offsets unchanged
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidDataException>(() => MertCheckpoint.Load(tmp.Path));
        Assert.Contains(path, e.Message);
        Assert.Contains("__metadata__ key format", e.Message);
    }

    [Fact]
    public void Load_TruncatedPytorchBin_ThrowsNamingFile()
    {
        using var tmp = CopyFixture("mert-tiny-bin");
        var path = tmp["pytorch_model.bin"];
        using (var f = new FileStream(path, FileMode.Open)) f.SetLength(f.Length / 2);   // the zip's central directory is gone
        var e = Assert.Throws<InvalidDataException>(() => MertCheckpoint.Load(tmp.Path));
        Assert.Contains(path, e.Message);
        Assert.Contains("corrupt/truncated", e.Message);
    }

    /// <summary>Rebuilds the zip of mert-tiny-bin with <paramref name="edit"/> deciding each entry's fate (null = drop).</summary>
    static string RewriteZip(Fixtures.TempDir tmp, Func<string, byte[], byte[]?> edit)
    {
        var path = tmp["pytorch_model.bin"];
        using var src = ZipFile.OpenRead(Path.Combine(Fixtures.Dir("mert-tiny-bin"), "pytorch_model.bin"));
        using var dst = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var entry in src.Entries)
        {
            using var ms = new MemoryStream();
            using (var s = entry.Open()) s.CopyTo(ms);
            var data = edit(entry.FullName, ms.ToArray());
            if (data is null) continue;
            using var o = dst.CreateEntry(entry.FullName, CompressionLevel.NoCompression).Open();
            o.Write(data);
        }
        return path;
    }

    [Fact]
    public void Load_PytorchBinPickleCutShort_ThrowsNamingFile()
    {
        using var tmp = CopyFixture("mert-tiny-bin", weights: false);
        var path = RewriteZip(tmp, (name, data) => name.EndsWith("/data.pkl") ? data[..(data.Length / 2)] : data);
        var e = Assert.Throws<InvalidDataException>(() => MertCheckpoint.Load(tmp.Path));
        Assert.Contains(path, e.Message);
        Assert.Contains("corrupt pickle data", e.Message);
    }

    [Fact]
    public void Load_PytorchBinStorageMissing_ThrowsNamingFileAndTensor()
    {
        using var tmp = CopyFixture("mert-tiny-bin", weights: false);
        // pickletools.dis of the fixture's data.pkl: storage key "0" belongs to feature_extractor.conv_layers.0.conv.weight.
        var path = RewriteZip(tmp, (name, data) => name.EndsWith("/data/0") ? null : data);
        var e = Assert.Throws<InvalidDataException>(() => MertCheckpoint.Load(tmp.Path));
        Assert.Contains(path, e.Message);
        Assert.Contains("storage data/0 of feature_extractor.conv_layers.0.conv.weight is missing", e.Message);
    }

    [Fact]
    public void Load_PickleWithForbiddenGlobal_RefusesNamingFileAndGlobal()
    {
        // fixtures/forbidden-global (tests/fixtures/make_forbidden_pickle.py): data.pkl = os.system('echo pickled').
        using var tmp = CopyFixture("mert-tiny-bin", weights: false);
        var path = tmp["pytorch_model.bin"];
        File.Copy(Path.Combine(Fixtures.Dir("forbidden-global"), "pytorch_model.bin"), path);
        var e = Assert.Throws<InvalidDataException>(() => MertCheckpoint.Load(tmp.Path));
        Assert.Contains(path, e.Message);
        Assert.Contains("os.system", e.Message);
    }

    // ---- config.json ---------------------------------------------------------------------------------------

    [Theory]
    [InlineData("feature_extractor_cqt", "true", typeof(NotSupportedException))]
    [InlineData("deepnorm", "true", typeof(NotSupportedException))]
    [InlineData("feat_extract_norm", "\"batch\"", typeof(NotSupportedException))]
    [InlineData("model_type", "\"bert\"", typeof(NotSupportedException))]
    [InlineData("conv_kernel", "[10, 3, 3, 3, 3, 2]", typeof(InvalidDataException))]
    [InlineData("conv_stride", "[5, 2, 2, 2, 2, 2, 2, 2]", typeof(InvalidDataException))]
    [InlineData("hidden_size", "1048576", typeof(InvalidDataException))]            // implausible: refused before allocating 16 TB
    [InlineData("num_hidden_layers", "null", typeof(InvalidDataException))]         // not silently the default 12
    [InlineData("hidden_size", "\"64\"", typeof(InvalidDataException))]
    public void Load_UnsupportedOrInconsistentConfig_ThrowsNamingFileAndKey(string key, string value, Type exception)
    {
        using var tmp = CopyFixture();
        EditConfig(tmp, j => j[key] = JsonNode.Parse(value));
        var e = Assert.Throws(exception, () => MertCheckpoint.Load(tmp.Path));
        Assert.Contains(tmp["config.json"], e.Message);
        Assert.Contains(key, e.Message);
    }

    [Theory]
    [InlineData("do_normalize", "\"no\"", "true or false")]
    [InlineData("sampling_rate", "\"24k\"", "an integer")]
    [InlineData("feature_extractor_type", "3", "a string")]
    public void Load_PreprocessorValueOfWrongType_NamesFileKeyAndExpectedType(string key, string value, string expected)
    {
        using var tmp = CopyFixture();
        var json = JsonNode.Parse(File.ReadAllText(tmp["preprocessor_config.json"]))!.AsObject();
        json[key] = JsonNode.Parse(value);
        File.WriteAllText(tmp["preprocessor_config.json"], json.ToJsonString());
        var e = Assert.Throws<InvalidDataException>(() => MertCheckpoint.Load(tmp.Path));
        Assert.Contains(tmp["preprocessor_config.json"], e.Message);
        Assert.Contains($"\"{key}\"", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Load_NoWeightsFile_ThrowsFileNotFoundNamingFolderAndCandidates()
    {
        using var tmp = CopyFixture(weights: false);
        var e = Assert.Throws<FileNotFoundException>(() => MertCheckpoint.Load(tmp.Path));
        Assert.Contains(tmp.Path, e.Message);
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains("pytorch_model.bin", e.Message);
    }

    [Fact]
    public void Load_NoConfigJson_ThrowsFileNotFoundNamingConfig()
    {
        using var tmp = CopyFixture();
        File.Delete(tmp["config.json"]);
        var e = Assert.Throws<FileNotFoundException>(() => MertCheckpoint.Load(tmp.Path));
        Assert.Contains(tmp.Path, e.Message);
        Assert.Contains("config.json", e.Message);
        Assert.Equal(tmp["config.json"], e.FileName);
    }

    // ---- layouts that must load ----------------------------------------------------------------------------

    [Fact]
    public void Load_PretrainingHeads_ReportedAsIgnoredAndModelMatchesGolden()
    {
        using var tmp = CopyFixture(weights: false);
        EditWeights(tmp, s =>
        {
            s["final_proj.weight"] = randn(2048, 64);                    // fairseq MERT's projection to the codebooks
            s["final_proj.bias"] = randn(2048);
            s["label_embs_concat"] = randn(4096, 256);
        });
        using var loaded = MertCheckpoint.Load(tmp.Path);
        Assert.Equal(["final_proj.bias", "final_proj.weight", "label_embs_concat"], loaded.IgnoredHeads.Order());
        Assert.InRange(MaxStateError(loaded), 0, 1e-4);
    }

    /// <summary>
    /// Half-precision checkpoints are widened to float32 on load, so the model computes in float32 with weights rounded
    /// to nearest with unit roundoff u = 2⁻¹¹ (fp16, 10 stored mantissa bits) or 2⁻⁸ (bf16, 7 bits). Two checks: every
    /// loaded parameter is exactly the rounded fixture value (the rounding is TorchSharp's cast, the values the
    /// fixture's), and the hidden states stay within 8·u·max|h_golden| of the float32 golden (max|h| ≈ 4.4 here): each
    /// output is a chain of ~10 products of rounded tensors whose relative errors add up (first order) and the LayerNorms
    /// after every block rescale rather than amplify them, so a handful of u relative to the state's scale is the
    /// expected size (measured: ≈ 2.4·u for fp16); a wrong byte order or dtype mapping gives errors of order |h| or NaN.
    /// </summary>
    [Theory]
    [InlineData(ScalarType.Float16, "F16", 11)]
    [InlineData(ScalarType.BFloat16, "BF16", 8)]
    public void Load_HalfPrecisionSafetensors_MatchesFloat32WithinRounding(ScalarType dtype, string stName, int roundoffBits)
    {
        var tol = 8 * Math.Pow(2, -roundoffBits) * Fixtures.Expected(Tiny, "hidden_states").abs().max().item<float>();
        using var tmp = CopyFixture(weights: false);
        var rounded = new Dictionary<string, Tensor>();
        var path = EditWeights(tmp, s =>
        {
            foreach (var k in s.Keys.ToList())
            {
                var half = s[k].to(dtype);
                rounded[k] = half.to(ScalarType.Float32);
                s[k].Dispose();
                s[k] = half;
            }
        });
        Assert.All(SafeTensors.ReadHeader(path).Tensors, t => Assert.Equal(stName, t.DType));
        using var loaded = MertCheckpoint.Load(tmp.Path);
        var parameters = loaded.Model.state_dict();
        foreach (var (k, v) in rounded)
        {
            var ours = parameters[k];
            Assert.Equal(ScalarType.Float32, ours.dtype);
            Assert.True(ours.equal(v).all().item<bool>(), $"{k} is not the {dtype}-rounded fixture value");
        }
        var err = MaxStateError(loaded);
        Assert.True(err < tol, $"{dtype}: hidden states differ from the float32 golden by {err:e2} (bound {tol:e2})");
        Assert.True(err > 0, "half-precision rounding should perturb the hidden states at all");
    }

    [Fact]
    public void Load_ShardedSafetensorsWithIndex_MatchesGolden()
    {
        using var tmp = CopyFixture(weights: false);
        var state = SafeTensors.Load(Path.Combine(Fixtures.Dir(Tiny), "model.safetensors"));
        var keys = state.Keys.Order(StringComparer.Ordinal).ToList();
        var shards = new[] { "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors" };
        var weightMap = new JsonObject();
        for (var s = 0; s < 2; s++)
        {
            var part = keys.Where((_, i) => i % 2 == s).ToList();
            SafeTensors.Save(tmp[shards[s]], part.Select(k => KeyValuePair.Create(k, state[k])), new Dictionary<string, string> { ["format"] = "pt" });
            foreach (var k in part) weightMap[k] = shards[s];
        }
        foreach (var t in state.Values) t.Dispose();
        var index = new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = 0 }, ["weight_map"] = weightMap };
        File.WriteAllText(tmp["model.safetensors.index.json"], index.ToJsonString());
        using var loaded = MertCheckpoint.Load(tmp.Path);
        Assert.Equal(tmp["model.safetensors.index.json"], loaded.WeightsFile);
        Assert.InRange(MaxStateError(loaded), 0, 1e-4);
    }

    [Fact]
    public void Load_ShardIndexNamesMissingShard_ThrowsNamingIndexAndShard()
    {
        using var tmp = CopyFixture(weights: false);
        var index = new JsonObject { ["weight_map"] = new JsonObject { ["masked_spec_embed"] = "model-00009-of-00009.safetensors" } };
        File.WriteAllText(tmp["model.safetensors.index.json"], index.ToJsonString());
        var e = Assert.Throws<FileNotFoundException>(() => MertCheckpoint.Load(tmp.Path));
        Assert.Contains(tmp["model.safetensors.index.json"], e.Message);
        Assert.Contains("model-00009-of-00009.safetensors", e.Message);
    }
}
