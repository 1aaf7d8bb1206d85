using CultureMert.Corpus.Datasets;
using System.Globalization;
using System.Text.Json.Nodes;
using CultureMert.Checkpoints;
using CultureMert.Cli;
using CultureMert.Evaluation;
using static TorchSharp.torch;

namespace CultureMert.Tests.Probing;

public class ProbingTests
{
    const int Layers = 4, Hidden = 8, Informative = 2;

    /// <summary>
    /// Embed-like outputs and a manifest: tag "a" iff feature 0 of layer 2 is positive, tag "b" iff feature 1 is (both
    /// set per track, shared by its chunks, plus small chunk noise); every other layer is pure noise. Single-label: the
    /// class is "a" or "b" by feature 0 alone.
    /// </summary>
    static string Write(Fixtures.TempDir dir, bool singleLabel = false, int tracks = 90, int chunks = 2, bool writeIndex = true, string? task = null)
    {
        var rng = new Random(7);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        var emb = dir["emb"];
        Directory.CreateDirectory(emb);
        Directory.CreateDirectory(dir["audio"]);
        var manifest = new List<string> { "path,split,labels,track,culture" + (task is null ? "" : ",task") };
        var index = new List<string> { "path,output,duration_s,chunks,status,error" };
        for (var t = 0; t < tracks; t++)
        {
            var signal = new[] { Normal(), Normal() };
            if (Math.Abs(signal[0]) < 0.2) signal[0] += Math.Sign(signal[0] + 1e-9) * 0.2;   // a margin, so the task is learnable
            if (Math.Abs(signal[1]) < 0.2) signal[1] += Math.Sign(signal[1] + 1e-9) * 0.2;
            var x = new float[chunks * Layers * Hidden];
            for (var c = 0; c < chunks; c++)
                for (var l = 0; l < Layers; l++)
                    for (var h = 0; h < Hidden; h++)
                        x[(c * Layers + l) * Hidden + h] = (float)(l == Informative && h < 2 ? signal[h] + 0.05 * Normal() : Normal());
            var audio = Path.Combine(dir["audio"], $"t{t:000}.wav");
            var rel = $"t{t:000}.safetensors";
            using (var tensorX = tensor(x, [chunks, Layers, Hidden]))
                SafeTensors.Save(Path.Combine(emb, rel), [new("chunk_embeddings", tensorX)],
                                 new Dictionary<string, string> { ["source"] = audio, ["layers"] = "0,1,2,3" });
            index.Add($"{audio},{rel},10,{chunks},ok,");
            var labels = singleLabel ? (signal[0] > 0 ? "a" : "b")
                : string.Join(";", new[] { signal[0] > 0 ? "a" : null, signal[1] > 0 ? "b" : null }.Where(s => s is not null));
            var split = t % 3 == 0 ? "valid" : t % 3 == 1 ? "test" : "train";
            manifest.Add($"audio/t{t:000}.wav,{(t < tracks / 2 ? "train" : split)},{labels},track{t},c{t % 2}" + (task is null ? "" : $",{task}"));
        }
        if (writeIndex) File.WriteAllLines(Path.Combine(emb, "index.csv"), index);
        File.WriteAllLines(dir["manifest.csv"], manifest);
        return dir["manifest.csv"];
    }

    static ProbeOptions Small(string layer, int seeds = 1) => new()
    {
        Layer = layer, Seeds = seeds, LearningRates = [1e-2],
        Settings = new ProbeSettings { Hidden = 16, BatchSize = 32, MaxEpochs = 40 },
    };

    [Fact]
    public void Sweep_SignalInLayer2_HighAucThereChanceElsewhereAndSelectsIt()
    {
        using var dir = new Fixtures.TempDir();
        var data = ProbeDataset.Load(Write(dir), dir["emb"]);
        Assert.Equal(TaskType.MultiLabel, data.Task);
        Assert.Equal(["a", "b"], data.Tags);
        var r = ProbeRunner.Run(data, Small("all"));
        Assert.Equal(4, r.Configs.Length);
        foreach (var c in r.Configs)
            if (c.Layer == "2") Assert.True(c.RocAuc.Mean > 0.95, $"layer 2: {c.RocAuc.Mean}");
            else Assert.True(c.RocAuc.Mean < 0.7, $"layer {c.Layer}: {c.RocAuc.Mean}");
        Assert.Equal("2", r.Best.Layer);
    }

    [Fact]
    public void WeightedProbe_SignalInLayer2_PutsMostWeightThere()
    {
        using var dir = new Fixtures.TempDir();
        var data = ProbeDataset.Load(Write(dir), dir["emb"]);
        var fit = ProbeTrainer.Fit(data, null, Small("weighted").Settings with { LearningRate = 1e-2, MaxEpochs = 60 }, 3);
        var w = fit.LayerWeights!;
        Assert.Equal(Layers, w.Length);
        Assert.Equal(1.0, w.Sum(), 6);
        Assert.Equal(Informative, Array.IndexOf(w, w.Max()));
    }

    [Fact]
    public void Fit_SaturatingTask_StopsEarlyAndSameSeedReproduces()
    {
        using var dir = new Fixtures.TempDir();
        var data = ProbeDataset.Load(Write(dir), dir["emb"]);
        var s = new ProbeSettings { Hidden = 16, BatchSize = 32, MaxEpochs = 100, LearningRate = 1e-2 };
        var a = ProbeTrainer.Fit(data, Informative, s, 11);
        var b = ProbeTrainer.Fit(data, Informative, s, 11);
        Assert.True(a.Epochs < s.MaxEpochs, $"ran {a.Epochs} epochs");
        Assert.Equal(a.Epochs - s.EarlyStopPatience, a.BestEpoch);              // stopped patience epochs after the best
        Assert.Equal(a.ValidHistory, b.ValidHistory);
        Assert.Equal(a.TestScores, b.TestScores);
    }

    [Fact]
    public void AverageByGroup_HandMade_MeansChunksPerTrack()
    {
        // chunks: 0,1 → track 0; 2 → track 1; 3,4,5 → track 2; two outputs each
        float[] logits = [1, 2, 3, 4, 10, 10, 0, 0, 3, 3, 6, -3];
        var avg = ProbeTrainer.AverageByGroup(logits, [0, 0, 1, 2, 2, 2], 3, 2);
        Assert.Equal(new double[,] { { 2, 3 }, { 10, 10 }, { 3, 0 } }, avg);
    }

    [Fact]
    public void Summary_KnownValues_MeanStdAndTInterval()
    {
        var s = Summary.Of([0.8, 0.9, 1.0]);
        Assert.Equal(0.9, s.Mean, 12);
        Assert.Equal(0.1, s.Std, 12);
        Assert.Equal(4.302652729911275 * 0.1 / Math.Sqrt(3), s.HalfWidth, 1e-7);     // scipy.stats.t.ppf(0.975, 2)
        Assert.True(double.IsNaN(Summary.Of([0.5]).HalfWidth));
    }

    [Fact]
    public void SingleLabel_SeparableClasses_HighAccuracy()
    {
        using var dir = new Fixtures.TempDir();
        var data = ProbeDataset.Load(Write(dir, singleLabel: true), dir["emb"]);
        Assert.Equal(TaskType.SingleLabel, data.Task);
        var r = ProbeRunner.Run(data, Small("2"));
        Assert.True(r.Best.Accuracy.Mean > 0.9, $"accuracy {r.Best.Accuracy.Mean}");
        Assert.Equal((1.0, 0.5), SingleLabel.Compute(new bool[,] { { true, false }, { true, false } }, new double[,] { { 0.9, 0.1 }, { 0.8, 0.2 } }));
    }

    /// <summary>
    /// A manifest declaring <c>task = retrieval</c>: nothing is trained; the layer is chosen by validation MAP@10 (layer 2
    /// carries the classes), and the test numbers equal the (scikit-learn-checked) retrieval scores of the test tracks'
    /// chunk means at that layer, computed here from the embedding files.
    /// </summary>
    [Fact]
    public void RetrievalTask_ChoosesLayerOnValidation_ScoresTestTrackMeans()
    {
        using var dir = new Fixtures.TempDir();
        var manifest = Write(dir, singleLabel: true, task: "retrieval");
        var data = ProbeDataset.Load(manifest, dir["emb"]);
        Assert.Equal(TaskType.Retrieval, data.Task);
        var r = ProbeRunner.Run(data, Small("all", seeds: 3));
        Assert.Equal("2", r.Best.Layer);
        Assert.Equal(4, r.RetrievalByLayer!.Length);
        Assert.All(r.Configs, c => Assert.Single(c.Runs));                                  // deterministic: one run, whatever --seeds says

        var rows = TaskManifest.Read(manifest).Rows.Where(x => x.Split == "test").ToList();
        var means = rows.Select(x =>
        {
            using var reader = new SafeTensorsReader(Path.Combine(dir["emb"], Path.ChangeExtension(Path.GetFileName(x.Path), ".safetensors")));
            using var ce = reader.Read("chunk_embeddings");
            var v = ce.data<float>().ToArray();
            var chunks = v.Length / (Layers * Hidden);
            return Enumerable.Range(0, Hidden).Select(h => Enumerable.Range(0, chunks).Average(c => (double)v[(c * Layers + Informative) * Hidden + h])).ToArray();
        }).ToArray();
        var labels = new bool[rows.Count, 2];
        for (var i = 0; i < rows.Count; i++) labels[i, rows[i].Labels[0] == "a" ? 0 : 1] = true;
        var expected = Retrieval.Evaluate(means, labels, [1, 5, 10]);
        Assert.Equal(expected.MapAt(10), r.Retrieval!.MapAt(10), 12);
        Assert.Equal(expected.MeanReciprocalRank, r.Retrieval.MeanReciprocalRank, 12);
        Assert.Equal(expected.RecallAt(10), r.Retrieval.RecallAt(10), 12);
        foreach (var (c, t) in r.Configs.Zip(r.RetrievalByLayer).Where(x => x.First.Layer != "2"))     // the noise layers rank worse
            Assert.True(t.MapAt(10) < r.Retrieval.MapAt(10), $"layer {c.Layer}: MAP@10 {t.MapAt(10)} ≥ layer 2's {r.Retrieval.MapAt(10)}");
        Assert.Contains("MAP@10", r.Headline());

        var e = Assert.Throws<ArgumentException>(() => ProbeRunner.Run(data, Small("weighted")));
        Assert.Contains("trains nothing", e.Message);
        ProbeReport.Write(dir["out"], r);
        var json = JsonNode.Parse(File.ReadAllText(dir["out/results.json"]))!;
        Assert.Equal("retrieval", json["task"]!.GetValue<string>());
        Assert.Equal(r.Retrieval.MapAt(10), json["retrieval"]!["map_at_k"]!["map@10"]!.GetValue<double>(), 12);
        Assert.Equal(r.Retrieval.MapAt(10), CellScores.Read(dir["out/results.json"]).Retrieval!.Value.MapAt10, 12);
        Assert.Contains("| **2** |", File.ReadAllText(dir["out/report.md"]));
    }

    [Fact]
    public void Retrieval_HandMade_PrecisionAt1AndMap()
    {
        double[][] e = [[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]];
        var labels = new bool[,] { { true, false }, { true, false }, { false, true }, { true, false } };
        var r = Retrieval.Evaluate(e, labels, [1]);
        // nearest: 0→1 (rel), 1→0 (rel), 2→3 (not rel), 3→2 (not rel)
        Assert.Equal(0.5, r.PrecisionAtK[0], 12);
        // AP: q0 ranks 1,3,2 → rel at 1,2: 1; q1 ranks 0,3,2 → 1; q2: no relevant (excluded); q3 ranks 2,1,0 → rel at 2,3: (1/2+2/3)/2
        Assert.Equal((1 + 1 + (0.5 + 2.0 / 3) / 2) / 3, r.MeanAveragePrecision, 12);
    }

    [Fact]
    public void Load_ManifestWithoutLabels_ErrorNamesColumn()
    {
        using var dir = new Fixtures.TempDir();
        Write(dir);
        File.WriteAllText(dir["bad.csv"], "path,split\naudio/t000.wav,train\n");
        var e = Assert.Throws<InvalidDataException>(() => ProbeDataset.Load(dir["bad.csv"], dir["emb"]));
        Assert.Contains("'labels'", e.Message);
    }

    [Fact]
    public void Load_RowWithoutEmbeddings_ErrorNamesRowOrSkipsWithReport()
    {
        using var dir = new Fixtures.TempDir();
        var manifest = Write(dir, writeIndex: false);                           // matched through `source` metadata instead
        File.AppendAllText(manifest, "audio/nothere.wav,train,a,x,c0\n");
        var e = Assert.Throws<InvalidDataException>(() => ProbeDataset.Load(manifest, dir["emb"]));
        Assert.Contains("nothere.wav", e.Message);
        Assert.Contains(":92", e.Message);                                      // the manifest line
        var data = ProbeDataset.Load(manifest, dir["emb"], skipMissing: true);
        Assert.Single(data.Missing);
        Assert.Equal(60 * 2, data.Train.Chunks);                               // 45 + 15 train tracks × 2 chunks
    }

    [Fact]
    public void Cli_Probe_WritesReportsAndSelectsLayer2()
    {
        using var dir = new Fixtures.TempDir();
        var manifest = Write(dir);
        Assert.Equal(0, CliApp.Run(["probe", "--embeddings", dir["emb"], "--manifest", manifest, "--layer", "all,weighted", "--seeds", "2",
                                    "--lr", "1e-2", "--hidden", "0", "--batch-size", "32", "--max-epochs", "25", "--retrieval", "--threads", "2", "--out", dir["out"]]));
        foreach (var f in new[] { "results.json", "results.csv", "report.md", "report.html", "layers.png" }) Assert.True(File.Exists(Path.Combine(dir["out"], f)), f);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(dir["out"], "results.json")))!;
        Assert.Contains(json["selected"]!["layer"]!.GetValue<string>(), new[] { "2", "weighted" });
        var page = Reports.RenderedPage.Load(Path.Combine(dir["out"], "report.html"));
        page.AssertSelfContainedWithVisiblePlots(images: 1);                  // the per-layer plot
        Assert.Contains("weighted", page.Text);
        Assert.Equal(5, json["configs"]!.AsArray().Count);
        Assert.NotNull(json["retrieval"]!["precision_at_k"]!["p@1"]);
        var csv = File.ReadAllLines(Path.Combine(dir["out"], "results.csv"));
        Assert.Equal(1 + 5 * (2 + 3), csv.Length);
        Assert.Contains("**", File.ReadAllText(Path.Combine(dir["out"], "report.md")));
        Assert.Equal(2, CliApp.Run(["probe", "--embeddings", dir["emb"], "--manifest", manifest, "--layer", "7", "--out", dir["out2"]]));
    }
}
