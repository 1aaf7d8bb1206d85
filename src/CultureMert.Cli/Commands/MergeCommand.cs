using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using CultureMert.Merging;

namespace CultureMert.Cli.Commands;

/// <summary><c>culturemert merge</c> (task arithmetic, TIES, DARE, SLERP, Model Stock, Breadcrumbs, DELLA, TSV, Iso-C; or a YAML configuration) and <c>culturemert merge analyze</c> (task-vector statistics).</summary>
static class MergeCommand
{
    public static Command Create()
    {
        var (baseDir, models) = Inputs(required: false);
        var names = MergeMethods.Names;
        var method = new Option<string>("--method") { Description = $"{string.Join(", ", names[..^1])} or {names[^1]} (required unless --config)." };
        method.AcceptOnlyFromAmong(names);
        var lambda = new Option<string?>("--lambda") { Description = "Scale λ of the combined task vector, or a list (0.1,0.2,0.3: one folder per value under --out). Default 0.2, or 1 with --weights, model-stock, tsv and iso-c." };
        var t = new Option<string?>("--t") { Description = "slerp: where between the base (0) and the model (1), or a list (one t-{t}/ folder each)." };
        var weights = new Option<string?>("--weights") { Description = "Per-model weights w1,w2,... (one per --models folder), used instead of a shared λ." };
        var density = new Option<double>("--density") { Description = "Fraction of each task vector kept by TIES, DARE, Breadcrumbs or DELLA, in (0, 1].", DefaultValueFactory = _ => 0.2 };
        var gamma = new Option<double>("--gamma") { Description = "breadcrumbs: fraction of largest-magnitude entries dropped as outliers.", DefaultValueFactory = _ => 0.01 };
        var epsilon = new Option<double>("--epsilon") { Description = "della: keep probabilities spread over density ± epsilon/2 by magnitude rank.", DefaultValueFactory = _ => 0.1 };
        var seed = new Option<long>("--seed") { Description = "Seed of the DARE and DELLA drop masks.", DefaultValueFactory = _ => 0 };
        var config = new Option<string?>("--config") { Description = "A merge configuration (YAML, mergekit's field names) instead of --method, --base, --models and their settings." };
        var output = new Option<string>("--out") { Description = "Model folder to write (model.safetensors, config.json, merge.json); with several λ, the parent of lambda-{λ}/ folders.", Required = true };
        var threads = SharedOptions.Threads();
        var deviceOption = SharedOptions.Device();
        var command = new Command("merge", "Merge models continually pre-trained from one base: θ = θ_base + λ·combine(θ_i − θ_base).")
            { baseDir, models, method, lambda, t, weights, density, gamma, epsilon, seed, config, output, threads, deviceOption, CreateAnalyze(), CreateStability() };
        command.SetAction(r => Common.Guard(() =>
        {
            var device = ComputeDevice.Parse(r.GetValue(deviceOption)!);
            Common.SetThreads(r.GetValue(threads));
            string baseFolder;
            string[] inputs;
            MergeOptions options;
            var scales = r.GetValue(lambda) ?? r.GetValue(t);
            if (r.GetValue(config) is { } file)
            {
                // The file says what to merge and how; only the λ (or t) values may be given on top, to sweep them.
                var given = new Option[] { baseDir, models, method, weights, density, gamma, epsilon, seed }.Where(o => r.GetResult(o) is { Implicit: false }).ToList();
                if (given.Count > 0) throw new ArgumentException($"--config {file}: {string.Join(", ", given.Select(o => o.Name))} also given; the configuration file holds those.");
                var c = MergeConfig.Load(file);
                (baseFolder, inputs) = (c.BaseModel, c.Models);
                options = scales is null ? c.Options : c.Options with { Lambdas = MergeOptions.ParseList(scales, c.Options.Method == MergeMethod.Slerp ? "--t" : "--lambda") };
            }
            else
            {
                (baseFolder, inputs) = (r.GetValue(baseDir) ?? throw new ArgumentException("--base is required (or --config)."),
                                        r.GetValue(models) ?? throw new ArgumentException("--models is required (or --config)."));
                var m = MergeMethods.Parse(r.GetValue(method) ?? throw new ArgumentException("--method is required (or --config)."));
                if (m == MergeMethod.Slerp ? r.GetValue(lambda) is not null : r.GetValue(t) is not null)
                    throw new ArgumentException(m == MergeMethod.Slerp ? "--lambda: slerp takes --t (its position between base and model)." : $"--t: only slerp takes it; {m.Name()} takes --lambda.");
                var w = r.GetValue(weights) is { } ws ? MergeOptions.ParseList(ws, "--weights") : null;
                options = new MergeOptions
                {
                    Method = m,
                    Lambdas = scales is not null ? MergeOptions.ParseList(scales, m == MergeMethod.Slerp ? "--t" : "--lambda")
                              : m == MergeMethod.Slerp ? throw new ArgumentException("--t is required for slerp.")
                              : [MergeOptions.DefaultLambda(m, w is not null)],
                    Weights = w, Density = r.GetValue(density), Gamma = r.GetValue(gamma), Epsilon = r.GetValue(epsilon), Seed = r.GetValue(seed),
                };
            }
            options.Validate(inputs.Length);
            var clock = Stopwatch.StartNew();
            var result = Progress.RunGrid("merge", 0, log => MergeJob.Run(baseFolder, inputs, options, r.GetValue(output)!, log.Report, device), startLines: false);
            Console.WriteLine($"merged {inputs.Length} model{(inputs.Length > 1 ? "s" : "")} with base {baseFolder} by {options.Method.Name()}: " +
                              $"{result.MergedTensors} tensors merged, {result.CopiedTensors} copied, {result.Parameters:N0} parameters, {clock.Elapsed.TotalSeconds:0.0} s");
            foreach (var (dir, l) in result.OutputDirs.Zip(options.Lambdas))
                Console.WriteLine($"wrote {dir} ({(options.Method == MergeMethod.Slerp ? "t" : "λ")} = {MergeOptions.Format(l)})");
            return ExitCodes.Ok;
        }));
        return Examples.Add(command,
            ("CultureMERT-TA: task arithmetic of four single-culture models, λ = 0.2", "culturemert merge --base mert-v1-95m --models lyra makam hindustani carnatic --method task-arithmetic --lambda 0.2 --out merged"),
            ("TIES at three λ values in one pass (merged/lambda-0.1/, ...); slerp takes --t instead", "culturemert merge --base mert-v1-95m --models lyra makam --method ties --density 0.2 --lambda 0.1,0.2,0.3 --out merged"),
            ("A merge from a shared configuration (YAML, mergekit's field names)", "culturemert merge --config ties.yml --out merged"));
    }

    static (Option<string> Base, Option<string[]> Models) Inputs(bool required = true) => (
        new Option<string>("--base") { Description = "The base model folder (Hugging Face layout) the models were trained from.", Required = required },
        new Option<string[]>("--models")
        {
            Description = "Model folders to merge (same architecture as the base).", Required = required,
            AllowMultipleArgumentsPerToken = true, Arity = ArgumentArity.OneOrMore,
        });

    /// <summary><c>culturemert merge stability</c>: repeated merges (every ordering, re-merging) against the one-shot merge.</summary>
    static Command CreateStability()
    {
        var (baseDir, models) = Inputs();
        var method = new Option<string>("--method") { Description = "The merge method (not slerp).", DefaultValueFactory = _ => "task-arithmetic" };
        method.AcceptOnlyFromAmong(MergeMethods.Names);
        var lambda = new Option<double>("--lambda") { Description = "λ of every merge.", DefaultValueFactory = _ => 0.2 };
        var density = new Option<double>("--density") { Description = "Fraction kept by TIES, DARE, Breadcrumbs or DELLA.", DefaultValueFactory = _ => 0.2 };
        var rounds = new Option<int>("--rounds") { Description = "Re-merging rounds k (1 = the one-shot merge).", DefaultValueFactory = _ => 4 };
        var output = new Option<string>("--out") { Description = "Output folder: stability.csv, stability.png.", Required = true };
        var threads = SharedOptions.Threads();
        var command = new Command("stability", "Is merging stable when repeated? Every ordering of merge(merge(A, B), C) and k rounds of re-merging, " +
                                               "against the one-shot merge: relative distance, cosine and effective λ of the merged task vector.")
            { baseDir, models, method, lambda, density, rounds, output, threads };
        command.SetAction(r => Common.Guard(() =>
        {
            Common.SetThreads(r.GetValue(threads));
            var inputs = r.GetValue(models)!;
            var options = new MergeOptions { Method = MergeMethods.Parse(r.GetValue(method)!), Lambdas = [r.GetValue(lambda)], Density = r.GetValue(density) };
            options.Validate(Math.Max(2, inputs.Length));
            var rows = Progress.RunGrid("merge stability", 0, log => MergeStability.Run(r.GetValue(baseDir)!, inputs, options, r.GetValue(rounds), log.Report), startLines: false);
            var outDir = r.GetValue(output)!;
            using (IO.FolderLock.Acquire(outDir)) MergeStability.Write(rows, outDir);
            foreach (var row in rows.Where(x => x.Scenario == "remerge").OrderBy(x => x.Step))
                Console.WriteLine(FormattableString.Invariant($"re-merge round {row.Step}: distance {row.RelativeDistance:0.0000}, cosine {row.Cosine:0.0000}, effective λ {row.EffectiveLambda:0.0000}"));
            var last = rows.Where(x => x.Scenario == "order").Max(x => x.Step);
            var folds = rows.Where(x => x.Scenario == "order" && x.Step == last).ToList();
            Console.WriteLine(FormattableString.Invariant($"{folds.Count} orderings, after all {last + 1} models: distance {folds.Min(x => x.RelativeDistance):0.0000}–{folds.Max(x => x.RelativeDistance):0.0000}, cosine {folds.Min(x => x.Cosine):0.0000}–{folds.Max(x => x.Cosine):0.0000}"));
            Console.WriteLine($"wrote {outDir}: stability.csv, stability.png");
            return ExitCodes.Ok;
        }));
        return Examples.Add(command,
            ("Task arithmetic at λ = 0.2, four cultures, every ordering and four re-merging rounds", "culturemert merge stability --base mert-v1-95m --models lyra makam hindustani carnatic --out stability"),
            ("TIES at λ = 0.5", "culturemert merge stability --base mert-v1-95m --models lyra makam hindustani --method ties --density 0.2 --lambda 0.5 --out stability-ties"));
    }

    /// <summary><c>culturemert merge analyze</c>: how task vectors of different models interact.</summary>
    static Command CreateAnalyze()
    {
        var (baseDir, models) = Inputs();
        var output = new Option<string>("--out") { Description = "Output folder: norms.csv, cosine.csv, sign_conflicts.csv, summary.json, cosine-heatmap.png, layer-norms.png.", Required = true };
        var threads = SharedOptions.Threads();
        var deviceOption = SharedOptions.Device();
        var command = new Command("analyze", "Per-layer task-vector norms, pairwise cosine similarity and sign-conflict rates of the models' task vectors.")
            { baseDir, models, output, threads, deviceOption };
        command.SetAction(r => Common.Guard(() =>
        {
            var device = ComputeDevice.Parse(r.GetValue(deviceOption)!);
            Common.SetThreads(r.GetValue(threads));
            var outDir = r.GetValue(output)!;
            var a = TaskVectorAnalysis.Compute(r.GetValue(baseDir)!, r.GetValue(models)!, device);
            a.Write(outDir);
            Console.WriteLine($"{a.Models.Length} task vectors over {a.Layers.Length} layers ({a.Entries[^1]:N0} entries)");
            var width = Math.Max(8, a.Models.Max(m => m.Length));
            string Row(string label, IEnumerable<string> cells) => label.PadRight(width) + string.Concat(cells.Select(c => "  " + c.PadLeft(width)));
            string F(double x) => double.IsNaN(x) ? "n/a" : x.ToString("0.0000", CultureInfo.InvariantCulture);
            var overall = a.Layers.Length;
            Console.WriteLine("\ntask-vector L2 norm (overall):");
            Console.WriteLine(Row("", a.Models));
            Console.WriteLine(Row("norm", a.Models.Select((_, i) => F(Math.Sqrt(a.SquaredNorms[i, overall])))));
            foreach (var (title, value) in new (string, Func<int, int, double>)[] { ("cosine similarity (overall):", (i, j) => a.Cosine(i, j, overall)),
                                                                                     ("sign-conflict rate (overall):", (i, j) => a.ConflictRate(i, j, overall)) })
            {
                Console.WriteLine($"\n{title}");
                Console.WriteLine(Row("", a.Models));
                for (var i = 0; i < a.Models.Length; i++) Console.WriteLine(Row(a.Models[i], a.Models.Select((_, j) => F(value(i, j)))));
            }
            Console.WriteLine($"\nwrote {outDir}: norms.csv, cosine.csv, sign_conflicts.csv, summary.json, cosine-heatmap.png, layer-norms.png");
            return ExitCodes.Ok;
        }));
        return Examples.Add(command,
            ("Norms, cosine similarity and sign conflicts of four task vectors", "culturemert merge analyze --base mert-v1-95m --models lyra makam hindustani carnatic --out analysis"),
            ("Two models, on a GPU", "culturemert merge analyze --base mert-v1-95m --models runs/greek/stages/adapt runs/turkish/stages/adapt --out analysis-2 --device cuda"));
    }
}
