using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using CultureMert.Merging;

namespace CultureMert.Cli.Commands;

/// <summary><c>culturemert merge</c> (task arithmetic, TIES, DARE) and <c>culturemert merge analyze</c> (task-vector statistics).</summary>
static class MergeCommand
{
    public static Command Create()
    {
        var (baseDir, models) = Inputs();
        var names = MergeMethods.Names;
        var method = new Option<string>("--method") { Description = $"{string.Join(", ", names[..^1])} or {names[^1]}.", Required = true };
        method.AcceptOnlyFromAmong(names);
        var lambda = new Option<string?>("--lambda") { Description = "Scale λ of the combined task vector, or a list (0.1,0.2,0.3: one folder per value under --out). Default 0.2, or 1 with --weights." };
        var weights = new Option<string?>("--weights") { Description = "Per-model weights w1,w2,... (one per --models folder), used instead of a shared λ." };
        var density = new Option<double>("--density") { Description = "Fraction of each task vector kept by TIES trimming or DARE dropping, in (0, 1].", DefaultValueFactory = _ => 0.2 };
        var seed = new Option<long>("--seed") { Description = "Seed of the DARE drop masks.", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "Model folder to write (model.safetensors, config.json, merge.json); with several λ, the parent of lambda-{λ}/ folders.", Required = true };
        var threads = SharedOptions.Threads();
        var deviceOption = SharedOptions.Device();
        var command = new Command("merge", "Merge models continually pre-trained from one base: θ = θ_base + λ·combine(θ_i − θ_base).")
            { baseDir, models, method, lambda, weights, density, seed, output, threads, deviceOption, CreateAnalyze() };
        command.SetAction(r => Common.Guard(() =>
        {
            var device = ComputeDevice.Parse(r.GetValue(deviceOption)!);
            Common.SetThreads(r.GetValue(threads));
            var w = r.GetValue(weights) is { } ws ? MergeOptions.ParseList(ws, "--weights") : null;
            var options = new MergeOptions
            {
                Method = MergeMethods.Parse(r.GetValue(method)!),
                Lambdas = MergeOptions.ParseList(r.GetValue(lambda) ?? (w is null ? "0.2" : "1"), "--lambda"),
                Weights = w, Density = r.GetValue(density), Seed = r.GetValue(seed),
            };
            var inputs = r.GetValue(models)!;
            options.Validate(inputs.Length);
            var clock = Stopwatch.StartNew();
            var result = MergeJob.Run(r.GetValue(baseDir)!, inputs, options, r.GetValue(output)!, Console.Error.WriteLine, device);
            Console.WriteLine($"merged {inputs.Length} model{(inputs.Length > 1 ? "s" : "")} with base {r.GetValue(baseDir)} by {options.Method.Name()}: " +
                              $"{result.MergedTensors} tensors merged, {result.CopiedTensors} copied, {result.Parameters:N0} parameters, {clock.Elapsed.TotalSeconds:0.0} s");
            foreach (var (dir, l) in result.OutputDirs.Zip(options.Lambdas))
                Console.WriteLine($"wrote {dir} (λ = {MergeOptions.Format(l)})");
            return ExitCodes.Ok;
        }));
        return Examples.Add(command,
            ("CultureMERT-TA: task arithmetic of four single-culture models, λ = 0.2", "culturemert merge --base mert-v1-95m --models lyra makam hindustani carnatic --method task-arithmetic --lambda 0.2 --out merged"),
            ("TIES at three λ values in one pass (merged/lambda-0.1/, ...)", "culturemert merge --base mert-v1-95m --models lyra makam --method ties --density 0.2 --lambda 0.1,0.2,0.3 --out merged"),
            ("How the models' task vectors interact", "culturemert merge analyze --base mert-v1-95m --models lyra makam hindustani carnatic --out analysis"));
    }

    static (Option<string> Base, Option<string[]> Models) Inputs() => (
        new Option<string>("--base") { Description = "The base model folder (Hugging Face layout) the models were trained from.", Required = true },
        new Option<string[]>("--models")
        {
            Description = "Model folders to merge (same architecture as the base).", Required = true,
            AllowMultipleArgumentsPerToken = true, Arity = ArgumentArity.OneOrMore,
        });

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
