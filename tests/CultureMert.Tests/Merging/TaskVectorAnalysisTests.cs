using CultureMert.Checkpoints;
using CultureMert.Merging;
using static CultureMert.Tests.Merging.MergeFixtures;
using static TorchSharp.torch;

namespace CultureMert.Tests.Merging;

public class TaskVectorAnalysisTests
{
    [Fact]
    public void Analyze_HandMadePair_CosineNormsAndConflictsByHand()
    {
        using var tmp = new Fixtures.TempDir();
        var raw = Init(tmp, "raw", 0);
        var b = Enumerable.Range(0, 16).Select(i => i * 0.25).ToArray();
        double[] da = [1, 2, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        double[] db = [2, -1, -1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        var baseDir = Edit(tmp, "base", raw, new Dictionary<string, Tensor> { [T] = F32(b) });
        var a = Edit(tmp, "lyra", baseDir, new Dictionary<string, Tensor> { [T] = F32(b.Zip(da, (x, d) => x + d).ToArray()) });
        var c = Edit(tmp, "makam", baseDir, new Dictionary<string, Tensor> { [T] = F32(b.Zip(db, (x, d) => x + d).ToArray()) });
        var (code, err) = Run("merge", "analyze", "--base", baseDir, "--models", a, c, "--out", tmp["an"]);
        Assert.True(code == 0, err);
        foreach (var f in new[] { "norms.csv", "cosine.csv", "sign_conflicts.csv", "summary.json", "cosine-heatmap.png", "layer-norms.png" })
            Assert.True(File.Exists(Path.Combine(tmp["an"], f)), f);

        var r = TaskVectorAnalysis.Compute(baseDir, [a, c]);
        Assert.Equal(["lyra", "makam"], r.Models);
        Assert.Equal(["feature_extractor", "feature_projection", "encoder.pre", "encoder.layers.0", "encoder.layers.1", "other"], r.Layers);
        var pre = Array.IndexOf(r.Layers, "encoder.pre");
        var all = r.Layers.Length;
        // ⟨a, b⟩ = 2 − 2 + 1 = 1, ‖a‖² = 6, ‖b‖² = 15; both non-zero at 0, 1, 2; opposite signs at 1 only.
        Assert.Equal(1 / Math.Sqrt(90), r.Cosine(0, 1, pre), 12);
        Assert.Equal(1 / Math.Sqrt(90), r.Cosine(0, 1, all), 12);
        Assert.Equal(Math.Sqrt(6), Math.Sqrt(r.SquaredNorms[0, all]), 12);
        Assert.Equal(3, r.BothNonZero[0, 1, pre]);
        Assert.Equal(1, r.Conflicts[0, 1, pre]);
        Assert.Equal(1, r.Conflicts[0, 1, all]);
        var total = SafeTensors.ReadHeader(WeightsOf(baseDir)).Tensors.Sum(t => t.Shape.Aggregate(1L, (x, y) => x * y));
        Assert.Equal(total, r.Entries[all]);
        Assert.Equal(1.0 / total, r.ConflictRate(0, 1, all), 15);
        Assert.True(double.IsNaN(r.Cosine(0, 1, Array.IndexOf(r.Layers, "encoder.layers.0"))));   // no change there
        Assert.Equal(0, r.SquaredNorms[0, 0]);

        var cosine = File.ReadAllLines(Path.Combine(tmp["an"], "cosine.csv"));
        Assert.Contains(cosine, l => l.StartsWith("overall,lyra,makam,0.1054092553389459"));
        var norms = File.ReadAllLines(Path.Combine(tmp["an"], "norms.csv"));
        Assert.Contains(norms, l => l.StartsWith("encoder.pre,makam,3.872983346207417,"));
    }

    [Fact]
    public void Analyze_Mismatch_ListsProblems()
    {
        using var tmp = new Fixtures.TempDir();
        var baseDir = Init(tmp, "base", 0);
        var bad = Edit(tmp, "bad", Init(tmp, "raw", 1), new Dictionary<string, Tensor>(), drop: n => n == T);
        var (code, err) = Run("merge", "analyze", "--base", baseDir, "--models", bad, "--out", tmp["an"]);
        Assert.Equal(3, code);
        Assert.Contains($"missing tensor {T}", err);
    }

    [Theory]
    [InlineData("feature_extractor.conv_layers.0.conv.weight", "feature_extractor")]
    [InlineData("encoder.pos_conv_embed.conv.weight_v", "encoder.pre")]
    [InlineData("encoder.layer_norm.bias", "encoder.pre")]
    [InlineData("encoder.layers.11.attention.q_proj.weight", "encoder.layers.11")]
    [InlineData("masked_spec_embed", "other")]
    public void LayerOf_Names_Grouped(string name, string layer) => Assert.Equal(layer, TaskVectorAnalysis.LayerOf(name));
}
