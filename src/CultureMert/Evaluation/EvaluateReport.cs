using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CultureMert.Batch;
using CultureMert.Checkpoints;
using CultureMert.Corpus.Datasets;
using CultureMert.Reports;
using CultureMert.IO;

namespace CultureMert.Evaluation;

/// <summary>The numbers of one finished cell, read back from its probe results.json (selected configuration, test split).</summary>
/// <param name="Valid">the selected configuration's validation score (macro ROC-AUC; accuracy for single-label; MAP@10
/// for retrieval), mean over seeds</param>
public sealed record CellScores(double RocAuc, double RocAucCi, double Ap, double ApCi, double[] SeedRocAuc, double[] SeedAp,
                                string Layer, double LearningRate, string[] Layers, double[] LayerRocAuc, double[] LayerRocAucCi,
                                double Valid, double[] SeedValid)
{
    public TaskType Type { get; init; }
    /// <summary>Single-label: test accuracy and macro-F1 per probe seed.</summary>
    public double[] SeedAccuracy { get; init; } = [];
    public double[] SeedF1Macro { get; init; } = [];
    /// <summary>Retrieval tasks: the selected layer's test retrieval (deterministic, one value each).</summary>
    public (double MapAt10, double Mrr, double RecallAt10)? Retrieval { get; init; }

    static double D(JsonNode? n) => n is null ? double.NaN : n.GetValue<double>();

    public static CellScores Read(string resultsJson)
    {
        var j = JsonNode.Parse(File.ReadAllText(resultsJson))!;
        var best = j["best"]!;
        var lr = D(best["lr"]);
        var layers = j["configs"]!.AsArray().Where(c => D(c!["lr"]) == lr && c!["layer"]!.GetValue<string>() != "weighted").ToList();
        var runs = best["runs"]!.AsArray();
        double[] Seeds(string key) => [.. runs.Select(r => D(r![key]))];
        var retrieval = j["retrieval"];
        return new CellScores(
            D(best["test_roc_auc_macro"]!["mean"]), D(best["test_roc_auc_macro"]!["ci95"]),
            D(best["test_ap_macro"]!["mean"]), D(best["test_ap_macro"]!["ci95"]),
            Seeds("test_roc_auc_macro"), Seeds("test_ap_macro"),
            best["layer"]!.GetValue<string>(), lr,
            [.. layers.Select(c => c!["layer"]!.GetValue<string>())],
            [.. layers.Select(c => D(c!["test_roc_auc_macro"]!["mean"]))], [.. layers.Select(c => D(c!["test_roc_auc_macro"]!["ci95"]))],
            D(best["valid"]!["mean"]), Seeds("valid"))
        {
            Type = TaskManifest.ParseType(j["task"]?.GetValue<string>() ?? "") ?? TaskType.MultiLabel,
            SeedAccuracy = Seeds("test_accuracy"), SeedF1Macro = Seeds("test_f1_macro"),
            Retrieval = retrieval is null ? null : (D(retrieval["map_at_k"]!["map@10"]), D(retrieval["mrr"]), D(retrieval["recall_at_k"]!["r@10"])),
        };
    }
}

/// <summary>
/// The paper-style table of an evaluation grid: rows = models; per task "ROC-AUC / AP" (test, mean over seeds, ×100, one
/// decimal); "Non-Western avg" and "Western avg" = the mean of all ROC-AUC and AP numbers of that group's tasks (as the
/// CultureMERT paper averages), "–" when a cell of the group is missing; the best value per column in bold; deltas to
/// the first model in a second table, 95 % CI half-widths in a third. Written as report.md, report.csv, report.json,
/// tasks.png (bars with CI whiskers), layers-&lt;task&gt;.png (when layers were swept) and transfer.png (ROC-AUC delta vs
/// the first model, model × task; written whenever there are at least two models).
/// </summary>
public static class EvaluateReport
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>A table column: a task's ROC-AUC or AP, or a group average. Values ×100 per model (NaN = missing).</summary>
    public sealed record Column(string Name, string Task, string Metric, double[] Values, double[] Ci);

    public static List<Column> Columns(IReadOnlyList<EvalModel> models, IReadOnlyList<EvalTask> tasks, CellScores?[,] cells)
    {
        var cols = new List<Column>();
        for (var t = 0; t < tasks.Count; t++)
            foreach (var (metric, label, score) in Metrics(tasks[t]))
            {
                var values = Enumerable.Range(0, models.Count).Select(m => cells[m, t] is { } c ? score(c) : (double.NaN, double.NaN)).ToList();
                cols.Add(new Column($"{tasks[t].Name} {label}", tasks[t].Name, metric, [.. values.Select(v => 100 * v.Item1)], [.. values.Select(v => 100 * v.Item2)]));
            }
        foreach (var (western, name) in new[] { (false, "Non-Western avg"), (true, "Western avg") })      // the paper's averages: tagging tasks only
        {
            var idx = Enumerable.Range(0, tasks.Count).Where(t => tasks[t].Tagging && tasks[t].Western == western).ToList();
            if (idx.Count == 0) continue;
            var values = Enumerable.Range(0, models.Count).Select(m =>
            {
                var xs = idx.SelectMany(t => new[] { cells[m, t]?.RocAuc ?? double.NaN, cells[m, t]?.Ap ?? double.NaN }).ToList();
                return xs.All(double.IsFinite) ? 100 * xs.Average() : double.NaN;
            }).ToArray();
            cols.Add(new Column(name, "", western ? "western_avg" : "non_western_avg", values, [.. values.Select(_ => double.NaN)]));
        }
        return cols;
    }

    /// <summary>A task's columns by its type: (metric key, label, value and 95 % half-width as fractions). Retrieval is
    /// deterministic (no seeds), so its numbers have no interval.</summary>
    static (string Metric, string Label, Func<CellScores, (double, double)> Score)[] Metrics(EvalTask t)
    {
        static (double, double) OverSeeds(double[] seeds) => (Summary.Of(seeds).Mean, Summary.Of(seeds).HalfWidth);
        return t.Type switch
        {
            TaskType.SingleLabel => [("accuracy", "accuracy", c => OverSeeds(c.SeedAccuracy)), ("f1_macro", "macro-F1", c => OverSeeds(c.SeedF1Macro))],
            TaskType.Retrieval =>
            [
                ("map_at_10", "MAP@10", c => (c.Retrieval?.MapAt10 ?? double.NaN, double.NaN)), ("mrr", "MRR", c => (c.Retrieval?.Mrr ?? double.NaN, double.NaN)),
                ("recall_at_10", "R@10", c => (c.Retrieval?.RecallAt10 ?? double.NaN, double.NaN)),
            ],
            _ => [("roc_auc", "ROC-AUC", c => (c.RocAuc, c.RocAucCi)), ("ap", "AP", c => (c.Ap, c.ApCi))],
        };
    }

    static string F1(double v) => double.IsFinite(v) ? v.ToString("0.0", Inv) : "–";
    static string Delta(double v) => double.IsFinite(v) ? (Math.Round(v, 1) >= 0 ? "+" : "") + v.ToString("0.0", Inv) : "–";
    static JsonNode? N(double v) => double.IsFinite(v) ? JsonValue.Create(v) : null;

    /// <summary>Bold: every model whose one-decimal value equals the column's best one-decimal value.</summary>
    static bool IsBest(Column c, int m)
    {
        var finite = c.Values.Where(double.IsFinite).ToList();
        return finite.Count > 0 && double.IsFinite(c.Values[m]) && Math.Round(c.Values[m], 1) == Math.Round(finite.Max(), 1);
    }

    public static void Write(string outDir, IReadOnlyList<EvalModel> models, IReadOnlyList<EvalTask> tasks, IReadOnlyList<EvalCell> results)
    {
        Directory.CreateDirectory(outDir);
        var cells = new CellScores?[models.Count, tasks.Count];
        var status = new string[models.Count, tasks.Count];
        for (var m = 0; m < models.Count; m++)
            for (var t = 0; t < tasks.Count; t++)
            {
                var cell = results.FirstOrDefault(c => c.Model == models[m].Name && c.Task == tasks[t].Name);
                status[m, t] = cell?.Status ?? "missing";
                var file = Path.Combine(outDir, "probes", models[m].Name, tasks[t].Name, "results.json");
                if (cell is { Status: "ok" or "skipped" } && File.Exists(file)) cells[m, t] = CellScores.Read(file);
            }
        var cols = Columns(models, tasks, cells);
        var tagging = Enumerable.Range(0, tasks.Count).Where(t => tasks[t].Tagging).ToList();
        var tagCells = new CellScores?[models.Count, tagging.Count];
        for (var m = 0; m < models.Count; m++)
            for (var i = 0; i < tagging.Count; i++) tagCells[m, i] = cells[m, tagging[i]];
        Plots(outDir, models, [.. tagging.Select(t => tasks[t])], tagCells);
        AtomicFile.WriteText(Path.Combine(outDir, "report.md"), Markdown(outDir, models, [.. tagging.Select(t => tasks[t])], cols, results) +
                                                                ClassesAndRetrieval(models, [.. tasks.Where(t => !t.Tagging)], cols));
        HtmlReport.Write(Path.Combine(outDir, "report.md"));
        AtomicFile.WriteText(Path.Combine(outDir, "report.csv"), Csv(models, cols));
        AtomicFile.WriteText(Path.Combine(outDir, "report.json"), Json(models, tasks, cols, cells, status, results));
        for (var m = 0; m < models.Count; m++)                                  // a model card written by this toolkit gets its numbers
            ModelCard.AddResults(models[m].Dir, [.. cols.Where(c => c.Task != "" && double.IsFinite(c.Values[m]))
                                                     .Select(c => new CardResult(c.Task, c.Metric, c.Values[m], double.IsFinite(c.Ci[m]) ? c.Ci[m] : null))]);
    }

    static string Markdown(string outDir, IReadOnlyList<EvalModel> models, IReadOnlyList<EvalTask> tasks, List<Column> cols, IReadOnlyList<EvalCell> results)
    {
        var sb = new StringBuilder("# Evaluation\n\n");
        sb.Append("Test ROC-AUC / AP (macro, ×100, mean over seeds) of the probe configuration selected on validation; best per column in **bold**. " +
                  "Averages: mean of all ROC-AUC and AP numbers of the group's tasks. Tasks: " +
                  string.Join(", ", tasks.Select(t => $"{t.Name} ({(t.Western ? "Western" : "non-Western")})")) + ".\n\n");
        var taskCols = tasks.Select(t => (t.Name, Roc: cols.First(c => c.Task == t.Name && c.Metric == "roc_auc"), Ap: cols.First(c => c.Task == t.Name && c.Metric == "ap"))).ToList();
        var avgCols = cols.Where(c => c.Task == "").ToList();
        string B(Column c, int m, string text) => IsBest(c, m) ? $"**{text}**" : text;
        void Header()
        {
            sb.Append("| model | ").Append(string.Join(" | ", taskCols.Select(t => $"{t.Name} ROC-AUC / AP").Concat(avgCols.Select(c => c.Name)))).Append(" |\n");
            sb.Append("| --- |").Append(string.Concat(Enumerable.Repeat(" --- |", taskCols.Count + avgCols.Count))).Append('\n');
        }
        Header();
        for (var m = 0; m < models.Count; m++)
            sb.Append($"| {models[m].Name} | ")
              .Append(string.Join(" | ", taskCols.Select(t => $"{B(t.Roc, m, F1(t.Roc.Values[m]))} / {B(t.Ap, m, F1(t.Ap.Values[m]))}")
                                         .Concat(avgCols.Select(c => B(c, m, F1(c.Values[m])))))).Append(" |\n");
        if (models.Count > 1)
        {
            sb.Append($"\n## Deltas to {models[0].Name}\n\nValue − {models[0].Name}'s value (×100 points).\n\n");
            Header();
            for (var m = 1; m < models.Count; m++)
                sb.Append($"| {models[m].Name} | ")
                  .Append(string.Join(" | ", taskCols.Select(t => $"{Delta(t.Roc.Values[m] - t.Roc.Values[0])} / {Delta(t.Ap.Values[m] - t.Ap.Values[0])}")
                                             .Concat(avgCols.Select(c => Delta(c.Values[m] - c.Values[0]))))).Append(" |\n");
        }
        sb.Append("\n## 95 % confidence intervals\n\nMean ± half-width of the 95 % t interval over seeds (×100).\n\n");
        sb.Append("| model | ").Append(string.Join(" | ", taskCols.Select(t => $"{t.Name} ROC-AUC / AP"))).Append(" |\n");
        sb.Append("| --- |").Append(string.Concat(Enumerable.Repeat(" --- |", taskCols.Count))).Append('\n');
        string Pm(Column c, int m) => double.IsFinite(c.Ci[m]) ? $"{F1(c.Values[m])} ± {F1(c.Ci[m])}" : F1(c.Values[m]);
        for (var m = 0; m < models.Count; m++)
            sb.Append($"| {models[m].Name} | ").Append(string.Join(" | ", taskCols.Select(t => $"{Pm(t.Roc, m)} / {Pm(t.Ap, m)}"))).Append(" |\n");
        var failed = results.Where(r => r.Status == "error").ToList();
        if (failed.Count > 0)
        {
            sb.Append("\n## Failed cells\n\n");
            foreach (var f in failed) sb.Append($"- {f.Model} × {f.Task}: {f.Error}\n");
        }
        sb.Append("\n![per-task ROC-AUC](tasks.png)\n");
        if (models.Count > 1 && File.Exists(Path.Combine(outDir, "transfer.png"))) sb.Append("\n![ROC-AUC delta vs first model](transfer.png)\n");
        foreach (var t in tasks)
            if (File.Exists(Path.Combine(outDir, $"layers-{t.Name}.png")))
                sb.Append($"\n![{t.Name} per layer](layers-{t.Name}.png)\n");
        return sb.ToString();
    }

    /// <summary>The declared single-label (accuracy, macro-F1 with 95 % intervals over probe seeds) and retrieval tasks
    /// (MAP@10, MRR, R@10 of the layer chosen on validation; deterministic), best per column in bold.</summary>
    static string ClassesAndRetrieval(IReadOnlyList<EvalModel> models, IReadOnlyList<EvalTask> tasks, List<Column> cols)
    {
        if (tasks.Count == 0) return "";
        var sb = new StringBuilder("\n## Classification and retrieval\n\nSingle-label tasks: test accuracy / macro-F1 (×100, mean ± 95 % CI over probe seeds) of a softmax probe; ")
            .Append("retrieval tasks: test MAP@10 / MRR / R@10 (×100; cosine on mean-pooled embeddings of the layer chosen by validation MAP@10, no training, relevant = same label). ")
            .Append("Best per column in **bold**.\n\n| model | ").Append(string.Join(" | ", tasks.Select(t => $"{t.Name} {string.Join(" / ", Metrics(t).Select(x => x.Label))}")))
            .Append(" |\n| --- |").Append(string.Concat(tasks.Select(_ => " --- |"))).Append('\n');
        for (var m = 0; m < models.Count; m++)
        {
            string Cell(Column c) => (IsBest(c, m) ? "**" : "") + F1(c.Values[m]) + (double.IsFinite(c.Ci[m]) ? $" ± {F1(c.Ci[m])}" : "") + (IsBest(c, m) ? "**" : "");
            sb.Append($"| {models[m].Name} | ").Append(string.Join(" | ", tasks.Select(t => string.Join(" / ", cols.Where(c => c.Task == t.Name).Select(Cell))))).Append(" |\n");
        }
        return sb.ToString();
    }

    static string Csv(IReadOnlyList<EvalModel> models, List<Column> cols)
    {
        static string Key(Column c) => c.Task == "" ? c.Metric : $"{c.Task}_{c.Metric}";
        string V(double v) => double.IsFinite(v) ? v.ToString("0.0", Inv) : "";
        var rows = Enumerable.Range(0, models.Count).SelectMany(m => new (string Kind, Func<Column, double> Value)[]
        {
            ("score", c => c.Values[m]), ("ci95", c => c.Ci[m]), ("delta", c => c.Values[m] - c.Values[0]),
        }.Select(k => (string[])[models[m].Name, k.Kind, .. cols.Select(c => V(k.Value(c)))]));
        return IO.Csv.Format(["model", "kind", .. cols.Select(Key)], rows);
    }

    static string Json(IReadOnlyList<EvalModel> models, IReadOnlyList<EvalTask> tasks, List<Column> cols, CellScores?[,] cells,
                       string[,] status, IReadOnlyList<EvalCell> results)
    {
        var jCells = new JsonArray();
        for (var m = 0; m < models.Count; m++)
            for (var t = 0; t < tasks.Count; t++)
            {
                var c = cells[m, t];
                var o = new JsonObject { ["model"] = models[m].Name, ["task"] = tasks[t].Name, ["status"] = status[m, t] };
                if (results.FirstOrDefault(r => r.Model == models[m].Name && r.Task == tasks[t].Name)?.Error is { } err) o["error"] = err;
                if (c is not null)
                {
                    o["layer"] = c.Layer; o["lr"] = c.LearningRate;
                    o["roc_auc"] = new JsonObject { ["mean"] = N(c.RocAuc), ["ci95"] = N(c.RocAucCi), ["seeds"] = new JsonArray([.. c.SeedRocAuc.Select(N)]) };
                    o["ap"] = new JsonObject { ["mean"] = N(c.Ap), ["ci95"] = N(c.ApCi), ["seeds"] = new JsonArray([.. c.SeedAp.Select(N)]) };
                }
                jCells.Add(o);
            }
        var table = new JsonArray();
        for (var m = 0; m < models.Count; m++)
        {
            var row = new JsonObject { ["model"] = models[m].Name };
            var vals = new JsonObject(); var deltas = new JsonObject(); var best = new JsonArray();
            foreach (var c in cols)
            {
                var key = c.Task == "" ? c.Metric : $"{c.Task}/{c.Metric}";
                vals[key] = N(c.Values[m]); deltas[key] = N(c.Values[m] - c.Values[0]);
                if (IsBest(c, m)) best.Add(key);
            }
            row["values"] = vals; row["delta_to_first"] = deltas; row["best"] = best;
            table.Add(row);
        }
        var json = new JsonObject
        {
            ["scale"] = "×100; test split; mean over seeds of the selected configuration",
            ["models"] = new JsonArray([.. models.Select(m => (JsonNode)new JsonObject { ["name"] = m.Name, ["dir"] = Path.GetFullPath(m.Dir) })]),
            ["tasks"] = new JsonArray([.. tasks.Select(t => (JsonNode)new JsonObject { ["name"] = t.Name, ["manifest"] = t.Manifest, ["western"] = t.Western })]),
            ["table"] = table,
            ["cells"] = jCells,
        };
        return json.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    static void Plots(string outDir, IReadOnlyList<EvalModel> models, IReadOnlyList<EvalTask> tasks, CellScores?[,] cells)
    {
        var any = cells.Cast<CellScores?>().Any(c => c is not null);
        if (!any) return;
        BarPlot.SavePng(Path.Combine(outDir, "tasks.png"), "Test macro ROC-AUC per task (mean ± 95 % CI over seeds)", "ROC-AUC",
            [.. tasks.Select(t => t.Name)],
            [.. models.Select((m, i) => (m.Name, Enumerable.Range(0, tasks.Count).Select(t => cells[i, t]?.RocAuc ?? double.NaN).ToArray(),
                                               Enumerable.Range(0, tasks.Count).Select(t => cells[i, t]?.RocAucCi ?? double.NaN).ToArray()))],
            yRange: (0, 1));
        for (var t = 0; t < tasks.Count; t++)
        {
            // Models whose probe swept more than one layer; those with other layer ids than the first such model are left out.
            var swept = Enumerable.Range(0, models.Count).Where(m => cells[m, t] is { Layers.Length: > 1 }).ToList();
            if (swept.Count == 0) continue;
            var layers = cells[swept[0], t]!.Layers;
            var shown = swept.Where(m => cells[m, t]!.Layers.SequenceEqual(layers) && cells[m, t]!.LayerRocAuc.All(double.IsFinite)).ToList();
            if (shown.Count == 0) continue;
            LayerPlot.SavePng(Path.Combine(outDir, $"layers-{tasks[t].Name}.png"), $"{tasks[t].Name}: test macro ROC-AUC per layer (mean ± 95 % CI)", "ROC-AUC",
                layers, [.. shown.Select(m => (models[m].Name, cells[m, t]!.LayerRocAuc, cells[m, t]!.LayerRocAucCi))]);
        }
        if (models.Count >= 2)
        {
            var d = new double[models.Count - 1, tasks.Count];
            for (var m = 1; m < models.Count; m++)
                for (var t = 0; t < tasks.Count; t++)
                    d[m - 1, t] = 100 * ((cells[m, t]?.RocAuc ?? double.NaN) - (cells[0, t]?.RocAuc ?? double.NaN));
            if (d.Cast<double>().Any(double.IsFinite))                              // no pair of finished cells: nothing to compare
                Heatmap.SavePng(Path.Combine(outDir, "transfer.png"), $"Test ROC-AUC delta vs {models[0].Name} (×100)",
                [.. models.Skip(1).Select(m => m.Name)], [.. tasks.Select(t => t.Name)], d, "+0.0;-0.0;0.0");
        }
    }
}
