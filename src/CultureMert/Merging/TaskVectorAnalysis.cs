using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using CultureMert.Checkpoints;
using CultureMert.Reports;
using TorchSharp;
using static TorchSharp.torch;
using static CultureMert.Scalars;
using CultureMert.IO;

namespace CultureMert.Merging;

/// <summary>
/// How the task vectors τ_i = θ_i − θ_base of several models interact, per layer and overall: L2 norms, pairwise cosine
/// similarity and sign-conflict rate (the interference TIES resolves, Yadav et al. 2023, arXiv:2306.01708 §3). Streaming:
/// dot products, squared norms and sign counts are accumulated tensor by tensor.
/// </summary>
public sealed class TaskVectorAnalysis
{
    /// <summary>Model labels (folder names, numbered when two coincide).</summary>
    public required string[] Models { get; init; }
    /// <summary>Layer groups in model order; index <c>Layers.Length</c> of every per-layer array is the whole model.</summary>
    public required string[] Layers { get; init; }
    /// <summary>Entries per layer (floating-point tensors only), then overall.</summary>
    public required long[] Entries { get; init; }
    /// <summary>‖τ_i‖² per model and layer.</summary>
    public required double[,] SquaredNorms { get; init; }
    /// <summary>⟨τ_i, τ_j⟩ per pair and layer.</summary>
    public required double[,,] Dots { get; init; }
    /// <summary>Entries where τ_i and τ_j are both non-zero, per pair and layer.</summary>
    public required long[,,] BothNonZero { get; init; }
    /// <summary>Entries where τ_i and τ_j are both non-zero with opposite signs, per pair and layer.</summary>
    public required long[,,] Conflicts { get; init; }

    /// <summary>Cosine similarity of τ_i and τ_j on layer l (NaN if either is zero there).</summary>
    public double Cosine(int i, int j, int l)
    {
        var d = Math.Sqrt(SquaredNorms[i, l] * SquaredNorms[j, l]);
        return d > 0 ? Dots[i, j, l] / d : double.NaN;
    }

    /// <summary>Fraction of the layer's entries where both task vectors are non-zero and their signs differ.</summary>
    public double ConflictRate(int i, int j, int l) => Entries[l] > 0 ? (double)Conflicts[i, j, l] / Entries[l] : double.NaN;

    /// <summary>
    /// The layer group of a tensor: feature_extractor, feature_projection, encoder.pre (positional conv and the encoder's
    /// layer norm, applied before the first layer), encoder.layers.{i}, or other (e.g. masked_spec_embed).
    /// </summary>
    public static string LayerOf(string name)
    {
        if (name.StartsWith("feature_extractor.")) return "feature_extractor";
        if (name.StartsWith("feature_projection.")) return "feature_projection";
        if (name.StartsWith("encoder.pos_conv_embed.") || name.StartsWith("encoder.layer_norm.")) return "encoder.pre";
        var m = Regex.Match(name, @"^encoder\.layers\.(\d+)\.");
        return m.Success ? $"encoder.layers.{m.Groups[1].Value}" : "other";
    }

    static (int, int) LayerRank(string layer) => layer switch
    {
        "feature_extractor" => (0, 0),
        "feature_projection" => (1, 0),
        "encoder.pre" => (2, 0),
        "other" => (4, 0),
        _ => (3, int.Parse(layer["encoder.layers.".Length..], CultureInfo.InvariantCulture)),
    };

    /// <param name="device">where the task vectors are compared (null: the CPU)</param>
    public static TaskVectorAnalysis Compute(string baseDir, IReadOnlyList<string> modelDirs, Device? device = null)
    {
        if (modelDirs.Count < 1) throw new ArgumentException("--models: at least one model is needed.");
        NativeHeap.ReturnLargeBuffersToTheSystem();
        using var inputs = MergeInputs.Open(baseDir, modelDirs);
        static bool IsFloat(SafeTensorInfo t) => SafeTensors.ScalarTypeOf(t.DType) is ScalarType.Float64 or ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16;
        var layers = inputs.Base.Tensors.Where(IsFloat).Select(t => LayerOf(t.Name)).Distinct().OrderBy(LayerRank).ToArray();
        var index = layers.Select((l, i) => (l, i)).ToDictionary(x => x.l, x => x.i);
        int M = inputs.Models.Count, L = layers.Length;
        var a = new TaskVectorAnalysis
        {
            Models = Labels(modelDirs), Layers = layers, Entries = new long[L + 1], SquaredNorms = new double[M, L + 1],
            Dots = new double[M, M, L + 1], BothNonZero = new long[M, M, L + 1], Conflicts = new long[M, M, L + 1],
        };
        foreach (var (info, _, stored) in inputs.Each(IsFloat))                  // every tensor of this name dies at the next
        {
            var d = inputs.Deltas(info.Name, stored.to(device ?? CPU)).reshape(M, -1);                        // (models, n)
            var s = d.sign();
            var (pos, neg) = (s.gt(Of(0)).to(ScalarType.Float64), s.lt(Of(0)).to(ScalarType.Float64));              // (models, n)
            var nz = pos.add(neg, One);
            var dots = d.matmul(d.t()).cpu().data<double>().ToArray();                                       // (models, models)
            var both = nz.matmul(nz.t()).cpu().data<double>().ToArray();
            var conflicts = pos.matmul(neg.t()).add(neg.matmul(pos.t()), One).cpu().data<double>().ToArray();
            var l = index[LayerOf(info.Name)];
            foreach (var k in new[] { l, L })
            {
                a.Entries[k] += d.size(1);
                for (var i = 0; i < M; i++)
                    for (var j = 0; j < M; j++)
                    {
                        a.Dots[i, j, k] += dots[i * M + j];
                        a.BothNonZero[i, j, k] += (long)both[i * M + j];
                        a.Conflicts[i, j, k] += (long)conflicts[i * M + j];
                    }
            }
        }
        for (var i = 0; i < M; i++)
            for (var k = 0; k <= L; k++) a.SquaredNorms[i, k] = a.Dots[i, i, k];
        return a;
    }

    /// <summary>Folder names, with " (2)", " (3)" … after repeats.</summary>
    static string[] Labels(IReadOnlyList<string> dirs)
    {
        var names = dirs.Select(d => Path.GetFileName(Path.GetFullPath(d).TrimEnd('/', '\\'))).ToArray();
        var seen = new Dictionary<string, int>();
        return names.Select(n => (seen[n] = seen.GetValueOrDefault(n) + 1) == 1 ? n : $"{n} ({seen[n]})").ToArray();
    }

    static string F(double x) => double.IsNaN(x) ? "" : x.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Writes norms.csv, cosine.csv, sign_conflicts.csv, summary.json, cosine-heatmap.png and layer-norms.png.</summary>
    public void Write(string outDir)
    {
        Directory.CreateDirectory(outDir);
        int M = Models.Length, L = Layers.Length;
        var layerNames = Layers.Append("overall").ToArray();
        var layers = Enumerable.Range(0, L + 1);
        var pairs = Enumerable.Range(0, M).SelectMany(i => Enumerable.Range(i + 1, M - i - 1).Select(j => (i, j))).ToList();
        string N(long n) => n.ToString(CultureInfo.InvariantCulture);
        Csv.Write(Path.Combine(outDir, "norms.csv"), ["layer", "model", "l2_norm", "entries"],
            layers.SelectMany(k => Enumerable.Range(0, M).Select(i => new[] { layerNames[k], Models[i], F(Math.Sqrt(SquaredNorms[i, k])), N(Entries[k]) })));
        Csv.Write(Path.Combine(outDir, "cosine.csv"), ["layer", "model_a", "model_b", "cosine"],
            layers.SelectMany(k => pairs.Select(p => new[] { layerNames[k], Models[p.i], Models[p.j], F(Cosine(p.i, p.j, k)) })));
        Csv.Write(Path.Combine(outDir, "sign_conflicts.csv"), ["layer", "model_a", "model_b", "entries", "both_nonzero", "conflicts", "conflict_rate"],
            layers.SelectMany(k => pairs.Select(p => new[] { layerNames[k], Models[p.i], Models[p.j], N(Entries[k]),
                N(BothNonZero[p.i, p.j, k]), N(Conflicts[p.i, p.j, k]), F(ConflictRate(p.i, p.j, k)) })));

        JsonArray Matrix(Func<int, int, double> f) => new(Enumerable.Range(0, M).Select(i =>
            (JsonNode)new JsonArray(Enumerable.Range(0, M).Select(j => { var v = f(i, j); return (JsonNode?)(double.IsNaN(v) ? null : JsonValue.Create(v)); }).ToArray())).ToArray());
        var summary = new JsonObject
        {
            ["models"] = new JsonArray(Models.Select(m => (JsonNode)JsonValue.Create(m)).ToArray()),
            ["layers"] = new JsonArray(Layers.Select(m => (JsonNode)JsonValue.Create(m)).ToArray()),
            ["entries"] = Entries[L],
            ["norms"] = new JsonArray(Enumerable.Range(0, M).Select(i => (JsonNode)JsonValue.Create(Math.Sqrt(SquaredNorms[i, L]))).ToArray()),
            ["cosine"] = Matrix((i, j) => Cosine(i, j, L)),
            ["sign_conflict_rate"] = Matrix((i, j) => ConflictRate(i, j, L)),
        };
        AtomicFile.WriteText(Path.Combine(outDir, "summary.json"), summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");

        var cos = new double[M, M];
        for (var i = 0; i < M; i++) for (var j = 0; j < M; j++) cos[i, j] = Cosine(i, j, L);
        Heatmap.SavePng(Path.Combine(outDir, "cosine-heatmap.png"), "Task-vector cosine similarity (whole model)", Models, Models, cos, "0.000");
        var layerNorms = new double[L, M];
        for (var k = 0; k < L; k++) for (var i = 0; i < M; i++) layerNorms[k, i] = Math.Sqrt(SquaredNorms[i, k]);
        Heatmap.SavePng(Path.Combine(outDir, "layer-norms.png"), "Task-vector L2 norm per layer", Layers, Models, layerNorms, "0.00");
    }
}
