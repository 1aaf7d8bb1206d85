using CultureMert.Corpus.Datasets;
using System.CommandLine;
using CultureMert.Reports;
using System.Diagnostics;
using System.Globalization;
using CultureMert.Evaluation;

namespace CultureMert.Cli.Commands;

/// <summary><c>culturemert probe</c>: MARBLE-protocol probes on <c>embed</c> outputs, per layer and seed, with CIs.</summary>
static class ProbeCommand
{
    public static Command Create()
    {
        var embeddings = new Option<string>("--embeddings") { Description = "The --out folder of culturemert embed (index.csv and .safetensors with chunk_embeddings).", Required = true };
        var manifest = new Option<string>("--manifest") { Description = "CSV with path, split (train/valid/test), labels (';'-separated); optional track, culture.", Required = true };
        var layer = new Option<string>("--layer") { Description = "all (every layer), weighted (learnable softmax sum), a layer id, or a comma list (all,weighted).", DefaultValueFactory = _ => "all" };
        var seeds = new Option<int>("--seeds") { Description = "Seeds per configuration (mean ± std, 95 % CI).", DefaultValueFactory = _ => 5 };
        var lr = new Option<string>("--lr") { Description = "Adam learning rate, or a comma list selected on validation (e.g. 1e-3,5e-4).", DefaultValueFactory = _ => "1e-3" };
        var hidden = SharedOptions.ProbeHidden();
        var dropout = new Option<double>("--dropout") { Description = "Dropout after the hidden ReLU.", DefaultValueFactory = _ => 0.2 };
        var batch = new Option<int>("--batch-size") { Description = "Mini-batch size (train chunks).", DefaultValueFactory = _ => 64 };
        var epochs = new Option<int>("--max-epochs") { Description = "Epoch limit (early stopping on validation, patience 10).", DefaultValueFactory = _ => 100 };
        var task = new Option<string>("--task") { Description = "multilabel, singlelabel, retrieval (no training: cosine ranking, layer chosen by validation MAP@10), or auto (the manifest's task column, else single-label when every row has one label).", DefaultValueFactory = _ => "auto" };
        var retrieval = new Option<bool>("--retrieval") { Description = "Also cosine-kNN retrieval on test tracks at the selected layer (P@k, R@k, MAP@k, mAP, MRR; relevant = shares a label)." };
        var skipMissing = new Option<bool>("--skip-missing") { Description = "Leave out (and report) manifest rows without embeddings instead of failing." };
        var threads = SharedOptions.Threads();
        var deviceOption = SharedOptions.Device();
        var outDir = new Option<string>("--out") { Description = "Folder for results.json, results.csv, report.md, layers.png.", Required = true };
        var command = new Command("probe", "Train MLP/linear probes on embeddings (MARBLE protocol) per layer and seed; report test metrics with 95 % CIs.")
            { embeddings, manifest, layer, seeds, lr, hidden, dropout, batch, epochs, task, retrieval, skipMissing, threads, deviceOption, outDir };
        command.SetAction(r => Common.Guard(() =>
        {
            var clock = Stopwatch.StartNew();
            var device = ComputeDevice.Parse(r.GetValue(deviceOption)!);
            Common.SetThreads(r.GetValue(threads));
            var taskText = r.GetValue(task)!;
            TaskType? kind = taskText.Equals("auto", StringComparison.OrdinalIgnoreCase) ? null
                : TaskManifest.ParseType(taskText) ?? throw new ArgumentException($"--task {taskText}: expected auto, multilabel, singlelabel or retrieval.");
            var lrs = ParseLearningRates(r.GetValue(lr)!);
            var options = new ProbeOptions
            {
                Layer = r.GetValue(layer)!, Seeds = r.GetValue(seeds), LearningRates = lrs, Retrieval = r.GetValue(retrieval),
                Settings = new ProbeSettings
                {
                    Hidden = r.GetValue(hidden), Dropout = r.GetValue(dropout), BatchSize = r.GetValue(batch), MaxEpochs = r.GetValue(epochs),
                }.Validate(),
            };
            if (options.Seeds < 1) throw new ArgumentException($"--seeds {options.Seeds}: must be at least 1.");
            var data = ProbeDataset.Load(r.GetValue(manifest)!, r.GetValue(embeddings)!, kind, r.GetValue(skipMissing));
            foreach (var m in data.Missing) Console.Error.WriteLine($"skipped (no embeddings): {m}");
            if (data.DroppedTags.Length > 0) Console.Error.WriteLine($"tags only in valid/test, dropped: {string.Join(", ", data.DroppedTags)}");
            var results = Progress.RunGrid("probe", 0, log => ProbeRunner.Run(data, options, log, device), startLines: false);
            ProbeReport.Write(r.GetValue(outDir)!, results);
            var html = HtmlReport.Write(Path.Combine(r.GetValue(outDir)!, "report.md"));
            var best = results.Best;
            var report = $"report: {html}, {clock.Elapsed.TotalSeconds:0.0} s";
            if (results.Retrieval is { } ret && results.Task == TaskType.Retrieval)
                Console.WriteLine(FormattableString.Invariant($"selected layer {best.Layer} (validation MAP@10 {best.Valid.Mean:0.0000}); test MAP@10 {ret.MapAt(10):0.0000}, ") +
                                  FormattableString.Invariant($"MRR {ret.MeanReciprocalRank:0.0000}, R@10 {ret.RecallAt(10):0.0000} ({ret.Queries} queries); {report}"));
            else
            {
                var main = results.Task == TaskType.MultiLabel ? best.RocAuc : best.Accuracy;
                Console.WriteLine($"selected layer {best.Layer}, lr {best.LearningRate.ToString(CultureInfo.InvariantCulture)} (validation {best.Valid.Mean:0.0000}); " +
                                  $"test {(results.Task == TaskType.MultiLabel ? "macro ROC-AUC" : "accuracy")} {main.Mean:0.0000} ± {main.HalfWidth:0.0000} (95 % CI, {main.N} seeds); {report}");
            }
            return ExitCodes.Ok;
        }));
        return Examples.Add(command,
            ("MLP probes on every layer, 5 seeds", "culturemert probe --embeddings embeddings --manifest tasks/makam.csv --out probe-makam"),
            ("Every layer and a learned layer mix, two learning rates chosen on validation", "culturemert probe --embeddings embeddings --manifest tasks/mtat.csv --layer all,weighted --lr 1e-3,5e-4 --out probe-mtat"),
            ("Retrieval by makam (no training; the layer chosen by validation MAP@10)", "culturemert probe --embeddings embeddings --manifest tasks/turkish-makam-makam-retrieval.csv --task retrieval --out retrieval-makam"));
    }

    /// <summary><c>--lr</c> of probe and evaluate: one learning rate, or a comma list of them (one is selected on validation).</summary>
    public static double[] ParseLearningRates(string text) => text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Select(s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v > 0 ? v
            : throw new ArgumentException($"--lr {s}: expected a positive number.")).ToArray();
}
