using CultureMert.Checkpoints;
using CultureMert.Cli;

namespace CultureMert.Tests.Cli;

public class InitCommandTests
{
    [Fact]
    public void Init_TinyPreset_WritesLoadableHfFolderWithFixtureNames()
    {
        using var dir = new Fixtures.TempDir();
        Assert.Equal(0, CliApp.Run(["init", "--preset", "tiny", "--seed", "5", "--out", dir["m"]]));
        foreach (var f in new[] { "config.json", "preprocessor_config.json", "model.safetensors" })
            Assert.True(File.Exists(Path.Combine(dir["m"], f)), f);
        // The tiny preset has the mert-tiny fixture's architecture, so the fixture (written by an independent tool) fixes the names and shapes.
        var ours = SafeTensors.ReadHeader(Path.Combine(dir["m"], "model.safetensors")).Tensors.ToDictionary(t => t.Name, t => t.Shape);
        var reference = SafeTensors.ReadHeader(Path.Combine(Fixtures.Dir("mert-tiny"), "model.safetensors")).Tensors.ToDictionary(t => t.Name, t => t.Shape);
        Assert.Equal(reference.Keys.Order(), ours.Keys.Order());
        foreach (var (k, shape) in reference) Assert.Equal(shape, ours[k]);
        // Plain transformers maps model_type "hubert" to HubertConfig/HubertModel; "mert_model" would need remote code.
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(dir["m"], "config.json")))!;
        Assert.Equal("hubert", config["model_type"]!.GetValue<string>());
        Assert.Equal("HubertModel", config["architectures"]![0]!.GetValue<string>());
        Assert.False(config["do_stable_layer_norm"]!.GetValue<bool>());
        Assert.Equal(16, config["num_conv_pos_embeddings"]!.GetValue<int>());
        using var loaded = MertCheckpoint.Load(dir["m"]);
        Assert.Equal(2, loaded.Model.NumLayers);
    }
}
