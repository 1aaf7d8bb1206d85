using CultureMert.Corpus.Datasets;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CultureMert.Reports;
using CultureMert.IO;

namespace CultureMert.Evaluation;

/// <summary>Writes a probing run's results.json, results.csv, report.md and layers.png (each atomically).</summary>
public static class ProbeReport
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static void Write(string outDir, ProbeResults r)
    {
        Directory.CreateDirectory(outDir);
        AtomicFile.WriteText(Path.Combine(outDir, "results.json"), Json(r));
        AtomicFile.WriteText(Path.Combine(outDir, "results.csv"), Csv(r));
        AtomicFile.WriteText(Path.Combine(outDir, "report.md"), Markdown(r));
        if (r.RetrievalByLayer is { } byLayer)
        {
            LayerPlot.SavePng(Path.Combine(outDir, "layers.png"), "Retrieval MAP@10 per layer (cosine, leave-one-out; no training)", "MAP@10",
                [.. r.Configs.Select(c => c.Layer)],
                [("valid", [.. r.Configs.Select(c => c.Valid.Mean)], [.. r.Configs.Select(_ => double.NaN)]),
                 ("test", [.. byLayer.Select(t => t.MapAt(10))], [.. byLayer.Select(_ => double.NaN)])]);
            return;
        }
        var lr = r.Best.LearningRate;                                             // one point per layer choice, at the selected lr
        var shown = r.Configs.Where(c => c.LearningRate == lr).ToList();
        LayerPlot.SavePng(Path.Combine(outDir, "layers.png"), $"Probe {MainName(r.Task)} per layer (mean ± 95 % CI over {r.Options.Seeds} seeds)",
            MainName(r.Task), [.. shown.Select(c => c.Layer)],
            [("valid", [.. shown.Select(c => c.Valid.Mean)], [.. shown.Select(c => c.Valid.HalfWidth)]),
             ("test", [.. shown.Select(c => Main(r, c).Mean)], [.. shown.Select(c => Main(r, c).HalfWidth)])]);
    }

    /// <summary>The headline test metric: macro ROC-AUC (multi-label) or accuracy (single-label).</summary>
    static Summary Main(ProbeResults r, ConfigResult c) => r.Task == TaskType.MultiLabel ? c.RocAuc : c.Accuracy;

    /// <summary>The headline metric's name, which is also what the validation split selects by.</summary>
    static string MainName(TaskType task) => task switch { TaskType.MultiLabel => "macro ROC-AUC", TaskType.SingleLabel => "accuracy", _ => "MAP@10" };

    static JsonNode? N(double v) => double.IsFinite(v) ? JsonValue.Create(v) : null;

    static JsonObject S(Summary s) => new() { ["mean"] = N(s.Mean), ["std"] = N(s.Std), ["ci95"] = N(s.HalfWidth), ["n"] = s.N };

    static JsonObject Config(ConfigResult c, bool multi)
    {
        var o = new JsonObject
        {
            ["layer"] = c.Layer, ["lr"] = c.LearningRate, ["valid"] = S(c.Valid),
            ["test_roc_auc_macro"] = S(c.RocAuc), ["test_ap_macro"] = S(c.Ap),
            ["test_f1_micro"] = S(c.F1Micro), ["test_f1_macro"] = S(c.F1Macro),
        };
        if (!multi) o["test_accuracy"] = S(c.Accuracy);
        o["runs"] = new JsonArray([.. c.Runs.Select(x => (JsonNode)new JsonObject
        {
            ["seed"] = x.Seed, ["epochs"] = x.Epochs, ["best_epoch"] = x.BestEpoch, ["valid"] = N(x.Valid),
            ["test_roc_auc_macro"] = N(x.TestRocAuc), ["test_ap_macro"] = N(x.TestAp), ["test_f1_micro"] = N(x.TestF1Micro),
            ["test_f1_macro"] = N(x.TestF1Macro), ["test_accuracy"] = N(x.TestAccuracy),
            ["layer_weights"] = x.LayerWeights is null ? null : new JsonArray([.. x.LayerWeights.Select(w => (JsonNode?)JsonValue.Create(w))]),
        })]);
        return o;
    }

    public static string Json(ProbeResults r)
    {
        var multi = r.Task == TaskType.MultiLabel;
        var s = r.Options.Settings;
        var json = new JsonObject
        {
            ["task"] = TaskManifest.Name(r.Task),
            ["validation_metric"] = r.Task switch { TaskType.MultiLabel => "roc_auc_macro", TaskType.SingleLabel => "accuracy", _ => "map@10" },
            ["selected"] = new JsonObject { ["layer"] = r.Best.Layer, ["lr"] = r.Best.LearningRate, ["by"] = "mean validation score over seeds" },
            ["tags"] = new JsonArray([.. r.Tags.Select(t => (JsonNode?)JsonValue.Create(t))]),
            ["dropped_tags"] = new JsonArray([.. r.DroppedTags.Select(t => (JsonNode?)JsonValue.Create(t))]),
            ["missing_rows"] = new JsonArray([.. r.Missing.Select(t => (JsonNode?)JsonValue.Create(t))]),
            ["layers"] = new JsonArray([.. r.LayerIds.Select(t => (JsonNode?)JsonValue.Create(t))]),
            ["train_chunks"] = r.TrainChunks, ["valid_tracks"] = r.ValidTracks, ["test_tracks"] = r.TestTracks,
            ["settings"] = new JsonObject
            {
                ["seeds"] = r.Options.Seeds, ["first_seed"] = r.Options.FirstSeed, ["hidden"] = s.Hidden, ["dropout"] = s.Dropout,
                ["batch_size"] = s.BatchSize, ["max_epochs"] = s.MaxEpochs, ["lr_patience"] = s.LrPatience,
                ["lr_factor"] = s.LrFactor, ["early_stop_patience"] = s.EarlyStopPatience,
                ["lrs"] = new JsonArray([.. r.Options.LearningRates.Select(x => (JsonNode?)JsonValue.Create(x))]),
            },
            ["best"] = Config(r.Best, multi),
            ["configs"] = new JsonArray([.. r.Configs.Select(c => (JsonNode)Config(c, multi))]),
        };
        if (r.Retrieval is { } ret) json["retrieval"] = RetrievalJson(ret, r.Best.Layer);
        if (r.RetrievalByLayer is { } byLayer)
            json["retrieval_by_layer"] = new JsonArray([.. byLayer.Select((t, i) => (JsonNode)RetrievalJson(t, r.Configs[i].Layer))]);
        return json.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    static JsonObject RetrievalJson(RetrievalResult ret, string layer)
    {
        JsonObject AtK(string prefix, double[] values) => new(ret.Ks.Select((k, i) => KeyValuePair.Create($"{prefix}@{k}", N(values[i]))));
        return new JsonObject
        {
            ["layer"] = layer, ["relevance"] = "shares at least one label", ["queries"] = ret.Queries,
            ["precision_at_k"] = AtK("p", ret.PrecisionAtK), ["recall_at_k"] = AtK("r", ret.RecallAtK), ["map_at_k"] = AtK("map", ret.MapAtK),
            ["map"] = N(ret.MeanAveragePrecision), ["mrr"] = N(ret.MeanReciprocalRank),
        };
    }

    static string F(double v) => double.IsFinite(v) ? v.ToString("0.######", Inv) : "";

    /// <summary>One row per (layer, lr, seed), then per (layer, lr) summary rows (seed = mean, std, ci95), each marked selected or not.</summary>
    public static string Csv(ProbeResults r)
    {
        if (r.RetrievalByLayer is { } byLayer)
            return IO.Csv.Format(["layer", "selected", "valid_map_at_10", "test_map_at_10", "test_mrr", "test_recall_at_1", "test_recall_at_5", "test_recall_at_10", "test_precision_at_1", "test_map"],
                r.Configs.Select((c, i) => new[] { c.Layer, i == r.Selected ? "1" : "0", F(c.Valid.Mean), F(byLayer[i].MapAt(10)), F(byLayer[i].MeanReciprocalRank),
                                                   F(byLayer[i].RecallAt(1)), F(byLayer[i].RecallAt(5)), F(byLayer[i].RecallAt(10)), F(byLayer[i].PrecisionAtK[0]), F(byLayer[i].MeanAveragePrecision) }));
        static string I(long v) => v.ToString(Inv);
        var rows = new List<string[]>();
        for (var i = 0; i < r.Configs.Length; i++)
        {
            var c = r.Configs[i];
            var sel = i == r.Selected ? "1" : "0";
            foreach (var x in c.Runs)
                rows.Add([c.Layer, F(c.LearningRate), I(x.Seed), sel, I(x.Epochs), I(x.BestEpoch), F(x.Valid), F(x.TestRocAuc), F(x.TestAp), F(x.TestF1Micro), F(x.TestF1Macro), F(x.TestAccuracy)]);
            foreach (var (name, pick) in new (string, Func<Summary, double>)[] { ("mean", s => s.Mean), ("std", s => s.Std), ("ci95", s => s.HalfWidth) })
                rows.Add([c.Layer, F(c.LearningRate), name, sel, "", "", F(pick(c.Valid)), F(pick(c.RocAuc)), F(pick(c.Ap)), F(pick(c.F1Micro)), F(pick(c.F1Macro)), F(pick(c.Accuracy))]);
        }
        return IO.Csv.Format(["layer", "lr", "seed", "selected", "epochs", "best_epoch", "valid", "test_roc_auc_macro", "test_ap_macro", "test_f1_micro", "test_f1_macro", "test_accuracy"], rows);
    }

    static string Pm(Summary s) => !double.IsFinite(s.Mean) ? "–" :
        double.IsFinite(s.HalfWidth) ? $"{s.Mean.ToString("0.0000", Inv)} ± {s.HalfWidth.ToString("0.0000", Inv)}" : s.Mean.ToString("0.0000", Inv);

    static string M(Summary s) => double.IsFinite(s.Mean) ? s.Mean.ToString("0.0000", Inv) : "–";

    public static string Markdown(ProbeResults r)
    {
        if (r.RetrievalByLayer is { } byLayer) return RetrievalMarkdown(r, byLayer);
        var multi = r.Task == TaskType.MultiLabel;
        var sb = new StringBuilder();
        sb.Append(Inv, $"# Probe results\n\n{(multi ? "Multi-label" : "Single-label")} task, {r.Tags.Length} {(multi ? "tags" : "classes")}, " +
                       $"{r.TrainChunks} train chunks, {r.ValidTracks} valid / {r.TestTracks} test tracks; {r.Options.Seeds} seeds (from {r.Options.FirstSeed}). " +
                       $"Test numbers: mean ± 95 % CI half-width (t, n − 1 dof). Selected by mean validation {(multi ? "macro ROC-AUC" : "accuracy")} only (bold).\n\n");
        sb.Append(multi ? "| layer | lr | valid ROC-AUC | test ROC-AUC | AP | F1 micro | F1 macro |\n| --- | --- | --- | --- | --- | --- | --- |\n"
                        : "| layer | lr | valid accuracy | test accuracy | macro-F1 | ROC-AUC | AP |\n| --- | --- | --- | --- | --- | --- | --- |\n");
        for (var i = 0; i < r.Configs.Length; i++)
        {
            var c = r.Configs[i];
            var cells = multi
                ? new[] { c.Layer, c.LearningRate.ToString("g", Inv), M(c.Valid), Pm(c.RocAuc), Pm(c.Ap), Pm(c.F1Micro), Pm(c.F1Macro) }
                : [c.Layer, c.LearningRate.ToString("g", Inv), M(c.Valid), Pm(c.Accuracy), Pm(c.F1Macro), Pm(c.RocAuc), Pm(c.Ap)];
            if (i == r.Selected) cells = [.. cells.Select(x => $"**{x}**")];
            sb.Append("| ").Append(string.Join(" | ", cells)).Append(" |\n");
        }
        if (r.Best.Runs[0].LayerWeights is not null)
        {
            var l = r.LayerIds.Length;
            var mean = Enumerable.Range(0, l).Select(j => r.Best.Runs.Average(x => x.LayerWeights![j])).ToArray();
            sb.Append("\nLearned layer weights (softmax, mean over seeds): ")
              .Append(string.Join(", ", Enumerable.Range(0, l).Select(j => $"{r.LayerIds[j]}: {mean[j].ToString("0.000", Inv)}"))).Append('\n');
        }
        if (r.Retrieval is { } ret)
        {
            string AtK(string name, double[] values) => string.Join(", ", ret.Ks.Select((k, i) => $"{name}@{k} {values[i].ToString("0.0000", Inv)}"));
            sb.Append($"\nRetrieval (cosine kNN, leave-one-out over {ret.Queries} test tracks, layer {r.Best.Layer}; relevant = shares a label): " +
                      $"{AtK("P", ret.PrecisionAtK)}, {AtK("R", ret.RecallAtK)}, {AtK("MAP", ret.MapAtK)}" +
                      $", mAP {ret.MeanAveragePrecision.ToString("0.0000", Inv)}, MRR {ret.MeanReciprocalRank.ToString("0.0000", Inv)}\n");
        }
        if (r.DroppedTags.Length > 0) sb.Append($"\nTags only in valid/test, dropped: {string.Join(", ", r.DroppedTags)}\n");
        if (r.Missing.Length > 0) sb.Append($"\nManifest rows skipped for lack of embeddings ({r.Missing.Length}): {string.Join("; ", r.Missing)}\n");
        sb.Append("\n![per-layer scores](layers.png)\n");
        return sb.ToString();
    }

    /// <summary>A retrieval task's report: one row per layer, the layer chosen on validation MAP@10 in bold.</summary>
    static string RetrievalMarkdown(ProbeResults r, RetrievalResult[] byLayer)
    {
        string F4(double v) => double.IsFinite(v) ? v.ToString("0.0000", Inv) : "–";
        var sb = new StringBuilder();
        sb.Append(Inv, $"# Retrieval results\n\nRetrieval task, {r.Tags.Length} labels, {r.ValidTracks} valid / {r.TestTracks} test tracks. No training: each track's ")
          .Append("chunk embeddings are averaged, every track queries the others of its split by cosine similarity (leave-one-out), relevant = shares a label. ")
          .Append("The layer is selected by validation MAP@10 only (bold); test numbers are one deterministic value each.\n\n")
          .Append("| layer | valid MAP@10 | test MAP@10 | MRR | R@1 | R@5 | R@10 | P@1 | mAP |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
        for (var i = 0; i < r.Configs.Length; i++)
        {
            var t = byLayer[i];
            string[] cells = [r.Configs[i].Layer, F4(r.Configs[i].Valid.Mean), F4(t.MapAt(10)), F4(t.MeanReciprocalRank), F4(t.RecallAt(1)), F4(t.RecallAt(5)),
                              F4(t.RecallAt(10)), F4(t.PrecisionAtK[0]), F4(t.MeanAveragePrecision)];
            if (i == r.Selected) cells = [.. cells.Select(x => $"**{x}**")];
            sb.Append("| ").Append(string.Join(" | ", cells)).Append(" |\n");
        }
        if (r.Missing.Length > 0) sb.Append($"\nManifest rows skipped for lack of embeddings ({r.Missing.Length}): {string.Join("; ", r.Missing)}\n");
        sb.Append("\n![per-layer scores](layers.png)\n");
        return sb.ToString();
    }
}
