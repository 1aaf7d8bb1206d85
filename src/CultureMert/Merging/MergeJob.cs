using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using CultureMert.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;
using CultureMert.IO;

namespace CultureMert.Merging;

/// <summary>How to merge: the method, the λ values (one output folder each), per-model weights, density and seed.</summary>
public sealed record MergeOptions
{
    public MergeMethod Method { get; init; } = MergeMethod.TaskArithmetic;
    public double[] Lambdas { get; init; } = [0.2];
    /// <summary>Per-model weights w_i; null: all 1.</summary>
    public double[]? Weights { get; init; }
    /// <summary>Fraction kept by TIES trimming, DARE dropping, Breadcrumbs or DELLA, in (0, 1]; unused by the other methods.</summary>
    public double Density { get; init; } = 0.2;
    /// <summary>Breadcrumbs: the fraction of largest-magnitude entries dropped as outliers (mergekit's default 0.01).</summary>
    public double Gamma { get; init; } = 0.01;
    /// <summary>DELLA: the spread of keep probabilities, density ± ε/2 from the smallest to the largest magnitude.</summary>
    public double Epsilon { get; init; } = 0.1;
    public long Seed { get; init; }

    public bool UsesDensity => Method.UsesDensity();
    public bool UsesSeed => Method.UsesSeed();

    /// <summary>Checks the options against the number of models; bad values are <see cref="ArgumentException"/>s.</summary>
    public MergeOptions Validate(int models)
    {
        if (models < 1) throw new ArgumentException("--models: at least one model to merge is needed.");
        if (Lambdas.Length == 0) throw new ArgumentException("--lambda: no value given.");
        if (Lambdas.Any(l => !double.IsFinite(l))) throw new ArgumentException($"--lambda: {string.Join(",", Lambdas)} holds a non-finite value.");
        if (Lambdas.Distinct().Count() != Lambdas.Length) throw new ArgumentException($"--lambda: {string.Join(",", Lambdas.Select(Format))} repeats a value.");
        if (Weights is { } w && w.Length != models)
            throw new ArgumentException($"--weights: {w.Length} weight{(w.Length == 1 ? "" : "s")} for {models} model{(models == 1 ? "" : "s")}; give one per --models folder.");
        if (Weights is { } w2 && w2.Any(x => !double.IsFinite(x))) throw new ArgumentException("--weights: every weight must be a finite number.");
        if (UsesDensity && !(Density > 0 && Density <= 1)) throw new ArgumentException($"--density {Format(Density)} is outside (0, 1].");
        if (Weights is not null && !Method.UsesWeights()) throw new ArgumentException($"--weights: {Method.Name()} takes no per-model weights.");
        switch (Method)
        {
            case MergeMethod.Slerp when models != 1:
                throw new ArgumentException($"--models: slerp interpolates between the base and one model ({models} given).");
            case MergeMethod.ModelStock when models < 2:
                throw new ArgumentException("--models: model-stock needs at least two models (its ratio comes from their task vectors' cosine).");
            case MergeMethod.Breadcrumbs when !(Gamma >= 0 && Gamma + Density <= 1):
                throw new ArgumentException($"--gamma {Format(Gamma)}: needs 0 ≤ gamma and gamma + density ≤ 1 (density {Format(Density)}).");
            case MergeMethod.Della when !(Epsilon >= 0 && Density - Epsilon / 2 > 0 && Density + Epsilon / 2 <= 1):
                throw new ArgumentException($"--epsilon {Format(Epsilon)}: the keep probabilities density ± epsilon/2 must lie in (0, 1] (density {Format(Density)}).");
        }
        return this;
    }

    public static string Format(double x) => x.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>λ when none is given: 1 where the weights or the method set the scale (--weights, model-stock, tsv, iso-c), else 0.2.</summary>
    public static double DefaultLambda(MergeMethod method, bool weighted) =>
        weighted || method is MergeMethod.ModelStock or MergeMethod.Tsv or MergeMethod.IsoC ? 1 : 0.2;

    /// <summary>Parses a comma-separated list of numbers (invariant culture): "0.1,0.2,0.3".</summary>
    public static double[] ParseList(string text, string option)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = new double[parts.Length];
        for (var i = 0; i < parts.Length; i++)
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]))
                throw new ArgumentException($"{option} {text}: \"{parts[i]}\" is not a number (use a comma-separated list such as 0.1,0.2,0.3).");
        return values;
    }
}

/// <summary>What a merge wrote.</summary>
public sealed record MergeResult(IReadOnlyList<string> OutputDirs, int Tensors, int MergedTensors, int CopiedTensors, long Parameters);

/// <summary>
/// Merges model folders against a base, streaming: one tensor name at a time, the base's and each model's tensor are
/// read, their task vectors combined by the chosen method, and θ_base + λ·τ written for every λ (one
/// <see cref="SafeTensorsWriter"/> per output folder, all in the same pass). Memory: a few tensors, not the models
/// (except for pytorch_model.bin inputs, which are unpickled whole). Tensors are read on the CPU and combined on the
/// chosen device; the writers copy each result back to the host as they write it.
/// </summary>
public static class MergeJob
{
    public const string Tool = "CultureMERT.NET culturemert merge";

    /// <summary>Output folder of one λ: <paramref name="outDir"/> itself for a single λ, else <c>outDir/lambda-{λ}</c>.</summary>
    public static string OutputDir(string outDir, MergeOptions o, double lambda) =>
        o.Lambdas.Length == 1 ? outDir : Path.Combine(outDir, $"{(o.Method == MergeMethod.Slerp ? "t" : "lambda")}-{MergeOptions.Format(lambda)}");

    /// <param name="device">where the task vectors are combined (null: the CPU)</param>
    public static MergeResult Run(string baseDir, IReadOnlyList<string> modelDirs, MergeOptions options, string outDir, Action<string>? log = null,
                                  Device? device = null)
    {
        options.Validate(modelDirs.Count);
        NativeHeap.ReturnLargeBuffersToTheSystem();
        var full = Path.GetFullPath(outDir).TrimEnd('/', '\\');
        foreach (var input in modelDirs.Prepend(baseDir))
            if (Path.GetFullPath(input).TrimEnd('/', '\\') == full)
                throw new ArgumentException($"--out {outDir} is an input folder; choose a new folder.");
        if (!File.Exists(Path.Combine(baseDir, "config.json")))
            throw new FileNotFoundException($"{baseDir}: no config.json (the base must be a Hugging Face model folder).", Path.Combine(baseDir, "config.json"));

        // The lock sits beside the output (.culturemert.NAME.lock in its parent), so that the model folder holds only the model.
        using var held = FolderLock.Acquire(Path.GetDirectoryName(full)!, Path.GetFileName(full));
        AtomicFile.CleanStale(full);                                          // temporaries of a merge that was killed
        using var inputs = MergeInputs.Open(baseDir, modelDirs);
        var (baseT, models) = (inputs.Base, inputs.Models);
        var writers = new List<SafeTensorsWriter>();
        try
        {
            var weights = options.Weights ?? Enumerable.Repeat(1.0, models.Count).ToArray();
            log?.Invoke($"hashing {models.Count + 1} weight files");
            var baseHash = baseT.Hash();
            var hashes = models.Select(m => m.Hash()).ToList();

            var outputs = options.Lambdas.Select(l => OutputDir(outDir, options, l)).ToList();
            var header = baseT.Tensors.Select(t => (t.Name, t.DType, t.Shape)).ToList();
            var meta = new Dictionary<string, string> { ["format"] = "pt" };
            foreach (var dir in outputs) writers.Add(new SafeTensorsWriter(Path.Combine(dir, "model.safetensors"), header, meta));

            int merged = 0, copied = 0;
            long parameters = 0;
            foreach (var (info, i, stored) in inputs.Each())                      // every tensor of this name dies at the next
            {
                parameters += stored.numel();
                if (!stored.is_floating_point() || stored.numel() == 0)
                {
                    foreach (var w in writers) w.Write(info.Name, stored);        // not a weight to merge: the base's, as is
                    copied++;
                    continue;
                }
                var b = stored.to(device ?? CPU);
                var deltas = inputs.Deltas(info.Name, b);                                             // (models, ...) on b's device
                if (options.Method == MergeMethod.Slerp)                                              // not θ_base + λ·τ: one tensor per t
                    for (var j = 0; j < writers.Count; j++)
                        writers[j].Write(info.Name, Slerp.Interpolate(b.to(ScalarType.Float64), deltas[0], options.Lambdas[j]).to(b.dtype));
                else
                {
                    var combined = Combine(deltas, weights, options, info.Name);                      // (...)
                    for (var j = 0; j < writers.Count; j++) writers[j].Write(info.Name, TaskVectors.Apply(b, combined, options.Lambdas[j]));
                }
                merged++;
                if ((i + 1) % 50 == 0 || i + 1 == baseT.Tensors.Count) log?.Invoke($"[{i + 1}/{baseT.Tensors.Count}] tensors merged");
            }

            for (var j = 0; j < outputs.Count; j++)
            {
                File.Delete(Path.Combine(outputs[j], "model.safetensors"));      // an earlier merge's weights never sit beside this merge.json
                CopyConfig(baseDir, outputs[j]);
                var json = MergeJson(baseT, baseHash, models, hashes, options, weights, options.Lambdas[j], baseT.Tensors.Count, merged, copied);
                AtomicFile.WriteText(Path.Combine(outputs[j], "merge.json"), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n");
                Card(baseDir, modelDirs, baseHash, hashes, options, weights, options.Lambdas[j]).Write(outputs[j]);
                writers[j].Commit();                                             // the weights appear last: a folder with weights is complete
            }
            return new MergeResult(outputs, baseT.Tensors.Count, merged, copied, parameters);
        }
        finally
        {
            foreach (var w in writers) w.Dispose();
        }
    }

    /// <summary>The method's combined task vector. deltas (models, ...) float64 → (...) float64.</summary>
    public static Tensor Combine(Tensor deltas, IReadOnlyList<double> weights, MergeOptions o, string tensorName) => o.Method switch
    {
        MergeMethod.TaskArithmetic => TaskArithmetic.Combine(deltas, weights),
        MergeMethod.Ties => Ties.Combine(deltas, weights, o.Density),
        MergeMethod.DareLinear => Dare.CombineLinear(deltas, weights, o.Density, o.Seed, tensorName),
        MergeMethod.DareTies => Dare.CombineTies(deltas, weights, o.Density, o.Seed, tensorName),
        MergeMethod.ModelStock => ModelStock.Combine(deltas),
        MergeMethod.Breadcrumbs => Breadcrumbs.Combine(deltas, weights, o.Density, o.Gamma),
        MergeMethod.Della => Della.Combine(deltas, weights, o.Density, o.Epsilon, o.Seed, tensorName),
        MergeMethod.Tsv => TaskSingularVectors.Combine(deltas, weights),
        MergeMethod.IsoC => IsotropicMerge.Combine(deltas, weights),
        _ => throw new ArgumentOutOfRangeException(nameof(o), o.Method, "not a merge method"),
    };

    /// <summary>config.json, preprocessor_config.json and remote-code *.py of the base go to the output unchanged.</summary>
    static void CopyConfig(string baseDir, string outDir)
    {
        Directory.CreateDirectory(outDir);
        var files = new[] { "config.json", "preprocessor_config.json" }.Select(f => Path.Combine(baseDir, f)).Where(File.Exists)
            .Concat(Directory.EnumerateFiles(baseDir, "*.py"));
        foreach (var f in files)
        {
            var bytes = File.ReadAllBytes(f);
            AtomicFile.Write(Path.Combine(outDir, Path.GetFileName(f)), s => s.Write(bytes));
        }
    }

    /// <summary>The merged model's card: the method and its settings, and every input with its weights' hash.</summary>
    static ModelCard Card(string baseDir, IReadOnlyList<string> modelDirs, string baseHash, IReadOnlyList<string> hashes, MergeOptions o, double[] weights, double lambda)
    {
        string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        var setting = o.Method == MergeMethod.Slerp ? ("t", F(lambda)) : ("λ", F(lambda));
        var ids = modelDirs.Select(ModelCard.IdOf).ToList();
        return new ModelCard
        {
            Title = $"{o.Method.Name()} merge of {string.Join(", ", ids)}",
            Summary = $"{ids.Count} model{(ids.Count == 1 ? "" : "s")} continually pre-trained from `{ModelCard.IdOf(baseDir)}`, merged by " +
                      $"{o.Method.Name()} at {setting.Item1} = {setting.Item2} with CultureMERT.NET (`culturemert merge`).",
            BaseModels = [ModelCard.IdOf(baseDir), .. ids],
            Relation = "merge",
            License = ModelCard.LicenseOf(baseDir),
            Tags = ["merge", o.Method.Name()],
            Facts =
            [
                ("method", $"{o.Method.Name()}: `{o.Method.Formula()}`"),
                setting,
                .. o.Method.UsesWeights() ? [("weights", string.Join(", ", weights.Select(F)))] : Array.Empty<(string, string)>(),
                .. o.UsesDensity ? [("density", F(o.Density))] : Array.Empty<(string, string)>(),
                .. o.Method == MergeMethod.Breadcrumbs ? [("gamma", F(o.Gamma))] : Array.Empty<(string, string)>(),
                .. o.Method == MergeMethod.Della ? [("epsilon", F(o.Epsilon))] : Array.Empty<(string, string)>(),
                .. o.UsesSeed ? [("seed", o.Seed.ToString(CultureInfo.InvariantCulture))] : Array.Empty<(string, string)>(),
                ("base", $"`{ModelCard.IdOf(baseDir)}` (weights sha256 {baseHash})"),
                .. ids.Select((id, i) => ($"model {i + 1}", $"`{id}` (weights sha256 {hashes[i]})")),
                ("provenance", "`merge.json` beside this card"),
            ],
        };
    }

    static JsonObject MergeJson(CheckpointTensors baseT, string baseHash, IReadOnlyList<CheckpointTensors> models, IReadOnlyList<string> hashes,
                                MergeOptions o, double[] weights, double lambda, int tensors, int merged, int copied)
    {
        static JsonObject Input(CheckpointTensors c, string hash) => new()
        {
            ["path"] = Path.GetFullPath(c.Directory), ["weights_file"] = Path.GetFileName(c.WeightsFile), ["sha256_16"] = hash,
        };
        return new JsonObject
        {
            ["tool"] = Tool,
            ["created_utc"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            ["method"] = o.Method.Name(),
            ["formula"] = o.Method.Formula(),
            ["lambda"] = lambda,
            ["lambdas"] = new JsonArray(o.Lambdas.Select(l => (JsonNode)JsonValue.Create(l)).ToArray()),
            ["weights"] = new JsonArray(weights.Select(w => (JsonNode)JsonValue.Create(w)).ToArray()),
            ["density"] = o.UsesDensity ? o.Density : null,
            ["gamma"] = o.Method == MergeMethod.Breadcrumbs ? o.Gamma : null,
            ["epsilon"] = o.Method == MergeMethod.Della ? o.Epsilon : null,
            ["seed"] = o.UsesSeed ? o.Seed : null,
            ["base"] = Input(baseT, baseHash),
            ["models"] = new JsonArray(models.Select((m, i) => (JsonNode)Input(m, hashes[i])).ToArray()),
            ["tensors"] = tensors,
            ["merged_tensors"] = merged,
            ["copied_from_base"] = copied,
        };
    }
}
