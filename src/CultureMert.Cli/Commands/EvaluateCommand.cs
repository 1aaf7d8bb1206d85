using System.CommandLine;
using System.Diagnostics;
using CultureMert.Embedding;
using CultureMert.Evaluation;

namespace CultureMert.Cli.Commands;

/// <summary><c>culturemert evaluate</c>: embed (cached) + probe for every model × task, then the paper-style report.</summary>
static class EvaluateCommand
{
    public static Command Create()
    {
        var models = new Option<string[]>("--models") { Description = "Models as name=DIR (Hugging Face folders); the first is the baseline for deltas.", Required = true, AllowMultipleArgumentsPerToken = true };
        var tasks = new Option<string[]>("--tasks") { Description = "Task manifests (path,split,labels[,track,culture,task]); task = multilabel, singlelabel or retrieval declares the type (else inferred); task name = file name without extension; Western when most rows have culture=western.", Required = true, AllowMultipleArgumentsPerToken = true };
        var outDir = new Option<string>("--out") { Description = "Folder for embeddings/, probes/, report.md/.csv/.json and PNGs.", Required = true };
        var layer = new Option<string>("--layer") { Description = "Probe layer choice: all, weighted, a layer id, or a comma list.", DefaultValueFactory = _ => "all" };
        var seeds = new Option<int>("--seeds") { Description = "Seeds per probe configuration.", DefaultValueFactory = _ => 5 };
        var lr = new Option<string>("--lr") { Description = "Adam learning rate, or a comma list selected on validation.", DefaultValueFactory = _ => "1e-3" };
        var hidden = SharedOptions.ProbeHidden();
        var dropout = new Option<double>("--dropout") { Description = "Dropout after the MLP's hidden layer.", DefaultValueFactory = _ => 0.2 };
        var retrieval = new Option<bool>("--retrieval") { Description = "Also report cosine-kNN retrieval (P@1/5/10, mAP) for the selected layer." };
        var batch = new Option<int>("--batch-size") { Description = "Probe mini-batch size.", DefaultValueFactory = _ => 64 };
        var epochs = new Option<int>("--max-epochs") { Description = "Probe epoch limit (early stopping on validation).", DefaultValueFactory = _ => 100 };
        var chunk = new Option<double>("--chunk-seconds") { Description = "Embedding chunk length in seconds.", DefaultValueFactory = _ => 5.0 };
        var precision = SharedOptions.Precision();
        var threads = SharedOptions.Threads();
        var deviceOption = SharedOptions.Device();
        var shardOption = SharedOptions.Shard();
        shardOption.Description = "Only embed shard i of N (0-based) of every cell's files, then stop; probe afterwards with one run with --shard 0/1. " +
                                  "Default: from MPI, a Slurm array or a Kubernetes Indexed Job, as for embed.";
        var command = new Command("evaluate", "Embed + probe every model × task and write the paper-style table (Markdown, CSV, JSON) and plots; reruns skip finished cells.")
            { models, tasks, outDir, layer, seeds, lr, hidden, dropout, retrieval, batch, epochs, chunk, precision, threads, deviceOption, shardOption };
        command.SetAction(r => Common.Guard(() =>
        {
            var clock = Stopwatch.StartNew();
            var device = ComputeDevice.Parse(r.GetValue(deviceOption)!);
            Common.SetThreads(r.GetValue(threads));
            var modelList = r.GetValue(models)!.Select(s =>
            {
                var i = s.IndexOf('=');
                if (i <= 0 || i == s.Length - 1) throw new ArgumentException($"--models {s}: expected name=DIR.");
                var name = s[..i].Trim();
                if (name.IndexOfAny([.. Path.GetInvalidFileNameChars(), ' ']) >= 0 || name is "." or "..")
                    throw new ArgumentException($"--models {s}: the name must be usable as a folder name.");
                return new EvalModel(name, s[(i + 1)..]);
            }).ToList();
            var taskList = r.GetValue(tasks)!.Select(EvalTask.FromManifest).ToList();
            var lrs = ProbeCommand.ParseLearningRates(r.GetValue(lr)!);
            if (r.GetValue(seeds) < 1) throw new ArgumentException($"--seeds {r.GetValue(seeds)}: must be at least 1.");
            var options = new EvaluateOptions
            {
                Shard = Common.ResolveShard(r.GetValue(shardOption)),
                Device = device,
                Embed = new EmbedOptions { ChunkSeconds = r.GetValue(chunk), Precision = Common.ParsePrecision(r.GetValue(precision)!, device) }.Validate(),
                Probe = new ProbeOptions
                {
                    Layer = r.GetValue(layer)!, Seeds = r.GetValue(seeds), LearningRates = lrs, Retrieval = r.GetValue(retrieval),
                    Settings = new ProbeSettings
                    {
                        Hidden = r.GetValue(hidden), Dropout = r.GetValue(dropout), BatchSize = r.GetValue(batch), MaxEpochs = r.GetValue(epochs),
                    }.Validate(),
                },
            };
            var dir = r.GetValue(outDir)!;
            var job = new EvaluateJob(modelList, taskList, dir, options);
            List<EvalCell> cells;
            try
            {
                cells = Cancellation.Run(cancel => Progress.RunGrid("evaluate", modelList.Count * taskList.Count, log => job.Run(log, cancel)),
                                         "interrupted: stopping after the current step.");
            }
            catch (OperationCanceledException) { return Cancellation.StoppedCode; }
            var failed = cells.Where(c => c.Status == "error").ToList();
            foreach (var f in failed) Console.Error.WriteLine($"error: {f.Model} × {f.Task}: {f.Error}");
            if (options.Shard.Count > 1)
            {
                Console.WriteLine($"shard {options.Shard}: {cells.Count(c => c.Status == "embedded")} cells embedded, {cells.Count(c => c.Status == "skipped")} already probed, " +
                                  $"{failed.Count} failed. When all {options.Shard.Count} shards are done, run this evaluate once more with --shard 0/1 " +
                                  "(outside the array or MPI job) to probe; it reuses the cached embeddings.");
                return failed.Count > 0 ? ExitCodes.InputsFailed : ExitCodes.Ok;
            }
            EvaluateReport.Write(dir, modelList, taskList, cells);
            Console.WriteLine($"{cells.Count(c => c.Status == "ok")} cells probed, {cells.Count(c => c.Status == "skipped")} already done, {failed.Count} failed; " +
                              $"report: {Path.Combine(dir, "report.md")}, {clock.Elapsed.TotalSeconds:0.0} s");
            return failed.Count > 0 ? ExitCodes.InputsFailed : ExitCodes.Ok;
        }));
        return Examples.Add(command,
            ("MERT against CultureMERT on two tasks (the first model is the baseline)", "culturemert evaluate --models mert=MERT-v1-95M culture=CultureMERT-95M --tasks tasks/makam.csv tasks/mtat.csv --out eval"),
            ("Embed shard 0 of 4 only; probe afterwards with --shard 0/1", "culturemert evaluate --models mert=MERT-v1-95M --tasks tasks/makam.csv --out eval --shard 0/4"));
    }
}
