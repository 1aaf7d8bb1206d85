using CultureMert.Corpus.Datasets;
using System.Globalization;
using static TorchSharp.torch;

namespace CultureMert.Evaluation;

/// <summary>What to sweep: layer choices × learning rates × seeds, each trained with <see cref="Settings"/>.</summary>
public sealed record ProbeOptions
{
    public string Layer { get; init; } = "all";                // all | weighted | N, or a comma list of these ("all,weighted")
    public int Seeds { get; init; } = 5;                        // CultureMERT: "averaged over five random seeds"
    public long FirstSeed { get; init; } = 1234;                // MARBLE's seed; run i uses FirstSeed + i
    public double[] LearningRates { get; init; } = [1e-3];
    public ProbeSettings Settings { get; init; } = new();
    public bool Retrieval { get; init; }
}

/// <summary>One seed of one configuration: validation monitor and test metrics on per-track averaged predictions.</summary>
public sealed record SeedResult(long Seed, int Epochs, int BestEpoch, double Valid, double TestRocAuc, double TestAp,
                                double TestF1Micro, double TestF1Macro, double TestAccuracy, double[]? LayerWeights);

/// <summary>A layer choice at one learning rate, over seeds. Layer is the layer id or "weighted".</summary>
public sealed record ConfigResult(string Layer, int? LayerIndex, double LearningRate, SeedResult[] Runs)
{
    public Summary Valid => Summary.Of(Runs.Select(r => r.Valid));
    public Summary RocAuc => Summary.Of(Runs.Select(r => r.TestRocAuc));
    public Summary Ap => Summary.Of(Runs.Select(r => r.TestAp));
    public Summary F1Micro => Summary.Of(Runs.Select(r => r.TestF1Micro));
    public Summary F1Macro => Summary.Of(Runs.Select(r => r.TestF1Macro));
    public Summary Accuracy => Summary.Of(Runs.Select(r => r.TestAccuracy));
}

/// <summary>Everything <c>culturemert probe</c> reports.</summary>
/// <remarks>A retrieval task trains nothing: each config is one layer with one run whose <see cref="SeedResult.Valid"/>
/// is the validation MAP@10, and <see cref="RetrievalByLayer"/> holds every layer's test retrieval.</remarks>
public sealed record ProbeResults(TaskType Task, string[] Tags, string[] DroppedTags, string[] Missing, int[] LayerIds,
                                  ConfigResult[] Configs, int Selected, RetrievalResult? Retrieval, ProbeOptions Options,
                                  int TrainChunks, int ValidTracks, int TestTracks)
{
    public ConfigResult Best => Configs[Selected];

    /// <summary>Retrieval tasks: the test retrieval of each config (aligned with <see cref="Configs"/>); null otherwise.</summary>
    public RetrievalResult[]? RetrievalByLayer { get; init; }

    /// <summary>The selected config's headline test number for a log line: "test ROC-AUC 0.8123" (accuracy for
    /// single-label, MAP@10 for retrieval).</summary>
    public string Headline() => FormattableString.Invariant(Task switch
    {
        TaskType.MultiLabel => $"test ROC-AUC {Best.RocAuc.Mean:0.0000}",
        TaskType.SingleLabel => $"test accuracy {Best.Accuracy.Mean:0.0000}",
        _ => $"test MAP@10 {Retrieval!.MapAt(10):0.0000}",
    });
}

/// <summary>
/// The MARBLE-style probing sweep: trains a probe per (layer choice, learning rate, seed), scores test tracks with chunk
/// predictions averaged per track, and selects the layer choice and learning rate by mean VALIDATION score only (macro
/// ROC-AUC; accuracy for single-label) — test numbers never influence the choice.
/// </summary>
public static class ProbeRunner
{
    /// <param name="device">where the probes train (null: the CPU)</param>
    public static ProbeResults Run(ProbeDataset data, ProbeOptions o, IProgress<string>? log = null, Device? device = null)
    {
        if (data.Task == TaskType.Retrieval) return RunRetrieval(data, o, log);
        if (o.Seeds < 1) throw new ArgumentException($"--seeds {o.Seeds}: must be at least 1.");
        if (o.LearningRates.Length == 0) throw new ArgumentException("--lr: give at least one learning rate.");
        var choices = LayerChoices(o.Layer, data.LayerIds);
        var configs = new List<ConfigResult>();
        var (done, total) = (0, choices.Count * o.LearningRates.Length * o.Seeds);
        foreach (var (name, index) in choices)
            foreach (var lr in o.LearningRates)
            {
                var runs = new List<SeedResult>();
                for (var i = 0; i < o.Seeds; i++)
                {
                    var seed = o.FirstSeed + i;
                    var fit = ProbeTrainer.Fit(data, index, o.Settings with { LearningRate = lr }, seed, device);
                    runs.Add(TestMetrics(data, fit, seed));
                    log?.Report($"[{++done}/{total}] layer {name}, lr {lr.ToString(CultureInfo.InvariantCulture)}, seed {seed}: {fit.Epochs} epochs (best {fit.BestEpoch}), " +
                                $"valid {fit.BestValid:0.0000}, test {(data.Task == TaskType.MultiLabel ? $"ROC-AUC {runs[^1].TestRocAuc:0.0000}" : $"accuracy {runs[^1].TestAccuracy:0.0000}")}");
                }
                configs.Add(new ConfigResult(name, index, lr, [.. runs]));
            }
        var selected = 0;
        for (var c = 1; c < configs.Count; c++)
            if (configs[c].Valid.Mean > configs[selected].Valid.Mean) selected = c;     // ties: the earlier (lower layer, first lr)
        RetrievalResult? retrieval = null;
        if (o.Retrieval) retrieval = Retrieval.Evaluate(TrackEmbeddings(data, data.Test, LayerWeights(data, configs[selected])), data.Test.Truth, RetrievalKs);
        return new ProbeResults(data.Task, data.Tags, data.DroppedTags, data.Missing, data.LayerIds, [.. configs], selected, retrieval, o,
                                data.Train.Chunks, data.Valid.Groups, data.Test.Groups);
    }

    /// <summary>Parses --layer against the stored layer ids: "all" = every single layer, "weighted", a layer id, or a comma list.</summary>
    public static List<(string Name, int? Index)> LayerChoices(string spec, int[] layerIds)
    {
        var result = new List<(string, int?)>();
        foreach (var part in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (part.Equals("all", StringComparison.OrdinalIgnoreCase))
                result.AddRange(layerIds.Select((id, i) => (id.ToString(CultureInfo.InvariantCulture), (int?)i)));
            else if (part.Equals("weighted", StringComparison.OrdinalIgnoreCase)) result.Add(("weighted", null));
            else if (int.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out var id) && Array.IndexOf(layerIds, id) is var i and >= 0)
                result.Add((part, i));
            else throw new ArgumentException($"--layer {part}: expected all, weighted or one of the stored layers [{string.Join(",", layerIds)}].");
        }
        if (result.Count == 0) throw new ArgumentException("--layer: nothing to probe.");
        return [.. result.DistinctBy(r => r.Item1)];
    }

    static SeedResult TestMetrics(ProbeDataset data, ProbeFit fit, long seed)
    {
        var m = MultiLabel.Compute(data.Test.Truth, fit.TestScores, 0.5, data.Tags);
        if (data.Task == TaskType.MultiLabel)
            return new SeedResult(seed, fit.Epochs, fit.BestEpoch, fit.BestValid, m.RocAucMacro ?? double.NaN, m.ApMacro ?? double.NaN,
                                  m.F1Micro, m.F1Macro, double.NaN, fit.LayerWeights);
        // single-label: arg-max decisions; micro-F1 of a single-label arg-max equals accuracy. ROC-AUC/AP: one-vs-rest on the softmax.
        var (accuracy, f1Macro) = SingleLabel.Compute(data.Test.Truth, fit.TestScores);
        return new SeedResult(seed, fit.Epochs, fit.BestEpoch, fit.BestValid, m.RocAucMacro ?? double.NaN, m.ApMacro ?? double.NaN,
                              accuracy, f1Macro, accuracy, fit.LayerWeights);
    }

    /// <summary>The cut-offs k of every retrieval score (P@k, R@k, MAP@k); MAP@10 is a retrieval task's headline.</summary>
    public static readonly int[] RetrievalKs = [1, 5, 10];

    /// <summary>
    /// A retrieval task: no probe is trained. Every layer ranks the valid split's tracks against each other (leave-one-out
    /// cosine) and the test split's; the layer with the best validation MAP@10 is selected (ties: the lower layer), so
    /// the test split plays no part in the choice.
    /// </summary>
    static ProbeResults RunRetrieval(ProbeDataset data, ProbeOptions o, IProgress<string>? log)
    {
        var choices = LayerChoices(o.Layer, data.LayerIds);
        if (choices.Any(c => c.Index is null))
            throw new ArgumentException("--layer weighted: a retrieval task trains nothing, so it has no learned layer weights; give layer ids or all.");
        var (configs, tests) = (new List<ConfigResult>(), new List<RetrievalResult>());
        foreach (var (name, index) in choices)
        {
            var weights = new double[data.Layers];
            weights[index!.Value] = 1;
            var valid = Retrieval.Evaluate(TrackEmbeddings(data, data.Valid, weights), data.Valid.Truth, RetrievalKs);
            var test = Retrieval.Evaluate(TrackEmbeddings(data, data.Test, weights), data.Test.Truth, RetrievalKs);
            configs.Add(new ConfigResult(name, index, 0, [new SeedResult(0, 0, 0, valid.MapAt(10), double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, null)]));
            tests.Add(test);
            log?.Report(FormattableString.Invariant($"[{configs.Count}/{choices.Count}] layer {name}: valid MAP@10 {valid.MapAt(10):0.0000}, test MAP@10 {test.MapAt(10):0.0000}, MRR {test.MeanReciprocalRank:0.0000}"));
        }
        var selected = 0;
        for (var c = 1; c < configs.Count; c++)
            if (configs[c].Valid.Mean > configs[selected].Valid.Mean) selected = c;
        return new ProbeResults(TaskType.Retrieval, data.Tags, data.DroppedTags, data.Missing, data.LayerIds, [.. configs], selected, tests[selected], o,
                                0, data.Valid.Groups, data.Test.Groups) { RetrievalByLayer = [.. tests] };
    }

    /// <summary>The selected config's weight per layer: one-hot for a single layer, the seeds' mean softmax weights for "weighted".</summary>
    static double[] LayerWeights(ProbeDataset data, ConfigResult config)
    {
        var weights = new double[data.Layers];
        if (config.LayerIndex is { } index) weights[index] = 1;
        else
            foreach (var r in config.Runs)
                for (var j = 0; j < data.Layers; j++) weights[j] += r.LayerWeights![j] / config.Runs.Length;
        return weights;
    }

    /// <summary>Per track of <paramref name="split"/>: the mean over its chunks of the layers mixed by <paramref name="weights"/>.</summary>
    static double[][] TrackEmbeddings(ProbeDataset data, ProbeSplit split, double[] weights)
    {
        var (l, h) = (data.Layers, data.Hidden);
        var result = Enumerable.Range(0, split.Groups).Select(_ => new double[h]).ToArray();
        var counts = new int[split.Groups];
        for (var c = 0; c < split.Chunks; c++)
        {
            var g = split.ChunkGroup[c];
            counts[g]++;
            for (var j = 0; j < l; j++)
                if (weights[j] != 0)
                    for (var d = 0; d < h; d++) result[g][d] += weights[j] * split.X[(c * l + j) * h + d];
        }
        for (var g = 0; g < split.Groups; g++) for (var d = 0; d < h; d++) result[g][d] /= Math.Max(1, counts[g]);
        return result;
    }
}
