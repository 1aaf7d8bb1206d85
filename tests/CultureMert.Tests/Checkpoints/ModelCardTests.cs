using CultureMert.Checkpoints;
using CultureMert.Tests.Merging;
using YamlDotNet.RepresentationModel;

namespace CultureMert.Tests.Checkpoints;

/// <summary>Model cards (README.md with Hugging Face front matter) of init, merge and evaluate, read back with a YAML parser.</summary>
public class ModelCardTests
{
    /// <summary>The card's front matter as a YAML mapping, and its body.</summary>
    static (YamlMappingNode Front, string Body) Read(string dir)
    {
        var text = File.ReadAllText(Path.Combine(dir, "README.md"));
        Assert.StartsWith("---\n", text);
        var close = text.IndexOf("\n---\n", 4, StringComparison.Ordinal);
        var yaml = new YamlStream();
        yaml.Load(new StringReader(text[4..(close + 1)]));
        return ((YamlMappingNode)yaml.Documents[0].RootNode, text[(close + 5)..]);
    }

    static string Scalar(YamlMappingNode m, string key) => ((YamlScalarNode)m[key]).Value!;
    static string[] Seq(YamlMappingNode m, string key) => [.. ((YamlSequenceNode)m[key]).Select(n => ((YamlScalarNode)n).Value!)];

    [Fact]
    public void Merge_CardNamesInputsMethodAndInheritsTheBaseLicense_EvaluateFillsItsResults()
    {
        using var tmp = new Fixtures.TempDir();
        var (b, m1, m2) = (MergeFixtures.Init(tmp, "base", 0), MergeFixtures.Init(tmp, "lyra", 1), MergeFixtures.Init(tmp, "makam", 2));
        var (initFront, _) = Read(b);
        Assert.Equal("other", Scalar(initFront, "license"));
        Assert.Contains("random-init", Seq(initFront, "tags"));
        const string foreign = "---\nlicense: cc-by-nc-4.0\n---\n# MERT-v1-95M\n";
        File.WriteAllText(Path.Combine(b, "README.md"), foreign);             // the base's own card, as the Hub has it
        var (code, err) = MergeFixtures.Run("merge", "--base", b, "--models", m1, m2, "--method", "ties", "--lambda", "0.3", "--out", tmp["merged"]);
        Assert.True(code == 0, err);

        var (front, body) = Read(tmp["merged"]);
        Assert.Equal("cc-by-nc-4.0", Scalar(front, "license"));
        Assert.Equal(["base", "lyra", "makam"], Seq(front, "base_model"));
        Assert.Equal("merge", Scalar(front, "base_model_relation"));
        Assert.Contains("ties", Seq(front, "tags"));
        Assert.Contains("| λ | 0.3 |", body);
        Assert.Contains("| density | 0.2 |", body);
        Assert.Contains(ModelCard.Marker, body);
        Assert.Contains("Not evaluated yet", body);

        CardResult[] results = [new("makam", "roc_auc", 81.24, 1.04), new("makam-retrieval", "map_at_10", 40.0)];
        Assert.True(ModelCard.AddResults(tmp["merged"], results));
        Assert.True(ModelCard.AddResults(tmp["merged"], results));            // a second run replaces, never appends
        (front, body) = Read(tmp["merged"]);
        Assert.Equal(["roc_auc", "map_at_10"], Seq(front, "metrics"));
        Assert.Equal("cc-by-nc-4.0", Scalar(front, "license"));
        Assert.Contains("| makam | roc_auc | 81.2 ± 1.0 |", body);
        Assert.Contains("| makam-retrieval | map_at_10 | 40.0 |", body);
        Assert.Equal(1, body.Split("## Evaluation").Length - 1);
        Assert.DoesNotContain("Not evaluated yet", body);

        Assert.False(ModelCard.AddResults(b, results));                      // a card this toolkit did not write is left alone
        Assert.Equal(foreign, File.ReadAllText(Path.Combine(b, "README.md")));
    }

    [Fact]
    public void IdOf_HubNameOrPath_ElseFolderName()
    {
        using var tmp = new Fixtures.TempDir();
        Directory.CreateDirectory(tmp["a"]);
        File.WriteAllText(tmp["a/config.json"], "{\"_name_or_path\": \"m-a-p/MERT-v1-95M\"}");
        Directory.CreateDirectory(tmp["local"]);
        File.WriteAllText(tmp["local/config.json"], "{\"_name_or_path\": \"/home/me/models/x\"}");
        Assert.Equal("m-a-p/MERT-v1-95M", ModelCard.IdOf(tmp["a"]));
        Assert.Equal("local", ModelCard.IdOf(tmp["local"]));
        Assert.Null(ModelCard.LicenseOf(tmp["a"]));
    }

    [Theory]
    [InlineData("---\nlicense: cc-by-nc-4.0\ntags:\n- music\n---\n# MERT", "cc-by-nc-4.0")]
    [InlineData("---\ntags: [music, audio]\nlicense: \"apache-2.0\"   # as the Hub writes it\n---\n", "apache-2.0")]
    [InlineData("---\nmodel-index:\n- name: x\n  license: not-this-one\n---\n", null)]     // only the top-level key
    [InlineData("---\nlicense: [unclosed\n---\n", null)]                                     // not YAML: no license, no error
    [InlineData("# A card without front matter\nlicense: mit\n", null)]
    public void LicenseOf_ReadsTheFrontMattersTopLevelKey(string card, string? expected)
    {
        using var tmp = new Fixtures.TempDir();
        Directory.CreateDirectory(tmp["m"]);
        File.WriteAllText(tmp["m/README.md"], card);
        Assert.Equal(expected, ModelCard.LicenseOf(tmp["m"]));
    }
}
