using CultureMert.Corpus.Datasets;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Evaluation;

/// <summary>Training hyper-parameters of one probe (defaults: MARBLE v1 MTT base config).</summary>
public sealed record ProbeSettings
{
    public int Hidden { get; init; } = 512;                  // hidden_layer_sizes [512]; 0 = linear probe
    public double Dropout { get; init; } = 0.2;              // dropout_p
    public double LearningRate { get; init; } = 1e-3;        // Adam lr
    public int BatchSize { get; init; } = 64;
    public int MaxEpochs { get; init; } = 100;
    public int LrPatience { get; init; } = 3;                // ReduceLROnPlateau(mode=max, factor=0.5, patience=3)
    public double LrFactor { get; init; } = 0.5;
    public int EarlyStopPatience { get; init; } = 10;        // EarlyStopping(valid_aucroc, mode=max, patience=10)

    public ProbeSettings Validate()
    {
        if (BatchSize < 1) throw new ArgumentException($"--batch-size {BatchSize}: must be at least 1.");
        if (MaxEpochs < 1) throw new ArgumentException($"--max-epochs {MaxEpochs}: must be at least 1.");
        if (!(LearningRate > 0)) throw new ArgumentException($"--lr {LearningRate}: must be positive.");
        if (Hidden < 0) throw new ArgumentException($"--hidden {Hidden}: must be 0 (linear) or more.");
        if (Dropout is < 0 or >= 1) throw new ArgumentException($"--dropout {Dropout}: must be in [0, 1).");
        return this;
    }
}

/// <summary>One trained probe: where it stopped, its best validation score and its per-track scores on valid and test.</summary>
public sealed record ProbeFit(int Epochs, int BestEpoch, double BestValid, double[] ValidHistory, double[]? LayerWeights,
                              double[,] ValidScores, double[,] TestScores);

/// <summary>Trains one probe (MARBLE protocol) and scores tracks by averaging chunk logits.</summary>
public static class ProbeTrainer
{
    /// <summary>
    /// Trains on train chunks with Adam, BCE-with-logits (multi-label) or cross-entropy (single-label); after every
    /// epoch scores validation tracks (macro ROC-AUC, or accuracy), halves the LR after <c>LrPatience</c> epochs without
    /// improvement, stops after <c>EarlyStopPatience</c> and restores the best epoch's weights before scoring test.
    /// </summary>
    /// <param name="layer">index into <see cref="ProbeDataset.LayerIds"/>, or null for the learnable weighted sum</param>
    /// <param name="device">where the probe trains and predicts (null: the CPU); its initialisation, shuffling and dropout
    /// draw from CPU generators, so a seed means the same run on every device up to float rounding</param>
    public static ProbeFit Fit(ProbeDataset data, int? layer, ProbeSettings s, long seed, Device? device = null)
    {
        s.Validate();
        var (n, l, h, k) = (data.Train.Chunks, data.Layers, data.Hidden, data.Tags.Length);
        using var generator = new Generator((ulong)seed);
        using var model = new Probe(l, layer, h, s.Hidden, k, s.Dropout, generator).to(device ?? CPU);
        using var x = tensor(data.Train.X, [n, l, h], device: device);           // (chunks, layers, hidden)
        using var y = Targets(data, data.Train, device);                          // (chunks, tags) float or (chunks) long
        // torch.optim.Adam's defaults (β 0.9, 0.999, eps 1e-8), written out: TorchSharp's Adam hands libtorch Scalar temporaries.
        using var optimizer = new AdamW([.. model.named_parameters().Select(p => (p.name, (Tensor)p.parameter))], s.LearningRate, 0.9, 0.999, 1e-8, weightDecay: 0);
        var shuffle = new Random(unchecked((int)seed));
        var order = Enumerable.Range(0, n).Select(i => (long)i).ToArray();

        var lr = s.LearningRate;
        double best = double.NegativeInfinity, plateauBest = double.NegativeInfinity;
        int bestEpoch = -1, bad = 0, plateauBad = 0, epoch = 0;
        var history = new List<double>();
        var bestWeights = new Dictionary<string, Tensor>();                      // owned here: disposed when replaced and in finally
        try
        {
            for (epoch = 0; epoch < s.MaxEpochs; epoch++)
            {
                model.train();
                shuffle.Shuffle(order);
                for (var start = 0; start < n; start += s.BatchSize)
                {
                    using var scope = NewDisposeScope();                               // every tensor of this batch dies here
                    var idx = tensor(order[start..Math.Min(n, start + s.BatchSize)], device: device);
                    var logits = model.call(x.index_select(0, idx));                  // (batch, tags)
                    var target = y.index_select(0, idx);
                    var loss = data.Task == TaskType.MultiLabel
                        ? nn.functional.binary_cross_entropy_with_logits(logits, target)
                        : nn.functional.cross_entropy(logits, target);
                    optimizer.ZeroGrad();
                    loss.backward();
                    optimizer.Take();
                }
                var valid = Score(data.Task, data.Valid.Truth, Predict(model, data.Valid, data.Task, s.BatchSize));
                history.Add(valid);
                if (valid > best)                                                  // Lightning: strictly better (min_delta 0)
                {
                    (best, bestEpoch, bad) = (valid, epoch, 0);
                    foreach (var t in bestWeights.Values) t.Dispose();
                    bestWeights.Clear();
                    // clone under no_grad: no detach() temporary outside a scope, which the finaliser could free mid-call
                    using (no_grad()) foreach (var (name, p) in model.named_parameters()) bestWeights[name] = p.clone();
                }
                else if (++bad >= s.EarlyStopPatience) { epoch++; break; }
                // ReduceLROnPlateau(mode=max): better = above best·(1 + 1e-4) (threshold_mode rel); reduce after patience bad epochs.
                if (valid > (plateauBest >= 0 ? plateauBest * (1 + 1e-4) : plateauBest)) (plateauBest, plateauBad) = (valid, 0);
                else if (++plateauBad > s.LrPatience)
                {
                    lr *= s.LrFactor;
                    optimizer.LearningRate = lr;
                    plateauBad = 0;
                }
            }
            using (no_grad())
                foreach (var (name, p) in model.named_parameters())
                    if (bestWeights.TryGetValue(name, out var w)) p.copy_(w);
            model.eval();
            return new ProbeFit(epoch, bestEpoch + 1, best, [.. history], model.Selector.Weights(),
                                Predict(model, data.Valid, data.Task, s.BatchSize), Predict(model, data.Test, data.Task, s.BatchSize));
        }
        finally { foreach (var t in bestWeights.Values) t.Dispose(); }
    }

    static Tensor Targets(ProbeDataset data, ProbeSplit split, Device? device)
    {
        var k = data.Tags.Length;
        if (data.Task == TaskType.SingleLabel)
        {
            var classes = split.Classes();
            return tensor(split.ChunkGroup.Select(g => (long)classes[g]).ToArray(), device: device);   // (chunks)
        }
        var y = new float[split.Chunks * k];
        for (var c = 0; c < split.Chunks; c++)
            for (var t = 0; t < k; t++) y[c * k + t] = split.Truth[split.ChunkGroup[c], t] ? 1f : 0f;
        return tensor(y, [split.Chunks, k], device: device);                                  // (chunks, tags)
    }

    /// <summary>Per-track scores (groups, tags): chunk logits averaged per track (MARBLE's scatter_mean), then sigmoid or softmax.</summary>
    /// <remarks>Runs on the probe's device; the logits come back to the CPU batch by batch.</remarks>
    public static double[,] Predict(Probe model, ProbeSplit split, TaskType task, int batchSize)
    {
        model.eval();
        var device = ComputeDevice.Of(model);
        var (layers, hidden) = model.InputShape;
        var (n, row) = (split.Chunks, layers * hidden);
        using var _ = no_grad();
        float[]? logits = null;
        var k = 0;
        for (var start = 0; start < n; start += batchSize)
        {
            using var scope = NewDisposeScope();
            var count = Math.Min(n, start + batchSize) - start;
            var batch = tensor(split.X.AsSpan(start * row, count * row).ToArray(), [count, layers, hidden], device: device);   // (batch, layers, hidden)
            var output = model.call(batch).to(ScalarType.Float32, CPU);                                                          // (batch, tags)
            k = (int)output.shape[1];
            logits ??= new float[n * k];
            output.data<float>().CopyTo(logits.AsSpan(start * k));
        }
        var avg = AverageByGroup(logits ?? [], split.ChunkGroup, split.Groups, k);
        return task == TaskType.MultiLabel ? Sigmoid(avg) : Softmax(avg);
    }

    /// <summary>Mean of chunk rows (chunks × k, row-major) per group → (groups, k).</summary>
    public static double[,] AverageByGroup(float[] chunkValues, int[] chunkGroup, int groups, int k)
    {
        var sum = new double[groups, k];
        var count = new int[groups];
        for (var c = 0; c < chunkGroup.Length; c++)
        {
            var g = chunkGroup[c];
            count[g]++;
            for (var t = 0; t < k; t++) sum[g, t] += chunkValues[c * k + t];
        }
        for (var g = 0; g < groups; g++)
            for (var t = 0; t < k; t++) sum[g, t] = count[g] > 0 ? sum[g, t] / count[g] : double.NaN;
        return sum;
    }

    static double[,] Sigmoid(double[,] z)
    {
        var r = (double[,])z.Clone();
        for (var i = 0; i < r.GetLength(0); i++) for (var t = 0; t < r.GetLength(1); t++) r[i, t] = 1 / (1 + Math.Exp(-z[i, t]));
        return r;
    }

    static double[,] Softmax(double[,] z)
    {
        var r = (double[,])z.Clone();
        for (var i = 0; i < r.GetLength(0); i++)
        {
            var max = double.NegativeInfinity;
            for (var t = 0; t < r.GetLength(1); t++) max = Math.Max(max, z[i, t]);
            var sum = 0.0;
            for (var t = 0; t < r.GetLength(1); t++) sum += r[i, t] = Math.Exp(z[i, t] - max);
            for (var t = 0; t < r.GetLength(1); t++) r[i, t] /= sum;
        }
        return r;
    }

    /// <summary>The validation monitor: macro ROC-AUC (multi-label; 0 when no tag has both classes) or accuracy (single-label).</summary>
    public static double Score(TaskType task, bool[,] truth, double[,] scores) => task == TaskType.MultiLabel
        ? MultiLabel.Compute(truth, scores, 0.5, [.. Enumerable.Range(0, truth.GetLength(1)).Select(i => i.ToString())]).RocAucMacro ?? 0
        : SingleLabel.Compute(truth, scores).Accuracy;
}

/// <summary>Single-label metrics: accuracy and macro-F1 (sklearn average="macro" over the vocabulary, zero_division=0) of the arg-max.</summary>
public static class SingleLabel
{
    public static (double Accuracy, double F1Macro) Compute(bool[,] truth, double[,] scores)
    {
        var (n, k) = (scores.GetLength(0), scores.GetLength(1));
        if (n == 0 || k == 0) throw new ArgumentException("no samples or no classes.");
        var (tp, fp, fn) = (new long[k], new long[k], new long[k]);
        var correct = 0;
        for (var i = 0; i < n; i++)
        {
            var predicted = 0;
            for (var t = 1; t < k; t++) if (scores[i, t] > scores[i, predicted]) predicted = t;
            var actual = -1;
            for (var t = 0; t < k; t++) if (truth[i, t]) { actual = t; break; }
            if (predicted == actual) { correct++; tp[predicted]++; }
            else { fp[predicted]++; if (actual >= 0) fn[actual]++; }
        }
        var f1 = Enumerable.Range(0, k).Average(t => Metrics.F1(tp[t], fp[t], fn[t]));
        return ((double)correct / n, f1);
    }
}
