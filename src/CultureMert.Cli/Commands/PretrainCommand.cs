using System.CommandLine;
using CultureMert.Pretraining;
using Spectre.Console;

namespace CultureMert.Cli.Commands;

/// <summary><c>culturemert pretrain</c>: continual pre-training from a recipe (stages, data mix, re-warmed LR).</summary>
static class PretrainCommand
{
    public static Command Create()
    {
        var recipe = new Option<string>("--recipe") { Description = "Recipe JSON (see recipes/): base model, targets, data sources, stages.", Required = true };
        var output = new Option<string>("--out") { Description = "Run folder: log.csv, loss.png, checkpoints/, stages/<name>/ (HF model per finished stage).", Required = true };
        var resume = new Option<bool>("--resume") { Description = "Continue from the newest checkpoint in --out (bit-identical to an uninterrupted run)." };
        var maxSteps = new Option<int?>("--max-steps") { Description = "Stop after this many steps in total, with a resumable checkpoint." };
        var threads = new Option<int?>("--threads") { Description = "CPU threads (default: all cores)." };
        var command = new Command("pretrain", "Continual pre-training with MERT's objective and a multi-stage recipe (re-warming, re-decaying, replay).")
            { recipe, output, resume, maxSteps, threads };
        command.SetAction(r => Common.Guard(() =>
        {
            Common.SetThreads(r.GetValue(threads));
            var outDir = r.GetValue(output)!;
            var loaded = Recipe.Load(r.GetValue(recipe)!);
            using var cancel = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                e.Cancel = true;
                cancel.Cancel();
                Console.Error.WriteLine("interrupted: finishing this step and writing a checkpoint (resume with --resume).");
            };
            Console.CancelKeyPress += onCancel;
            try
            {
                var result = Run(loaded, outDir, new PretrainOptions(r.GetValue(maxSteps), r.GetValue(resume)), cancel.Token);
                var state = result.Finished ? "finished" : result.Interrupted ? "interrupted" : "stopped (--max-steps)";
                Console.WriteLine($"{state} at step {result.Step} of {result.TotalSteps}; log: {Path.Combine(outDir, "log.csv")}, plot: {Path.Combine(outDir, "loss.png")}" +
                                  $"{(result.LastCheckpoint.Length > 0 ? $", checkpoint: {result.LastCheckpoint}" : "")}" +
                                  $"{(result.Exports.Count > 0 ? $", exported: {string.Join(", ", result.Exports)}" : "")}");
                return result.Interrupted ? 130 : 0;
            }
            finally { Console.CancelKeyPress -= onCancel; }
        }));
        return command;
    }

    /// <summary>A step bar with loss, accuracy, LR, throughput and ETA on a terminal; a line every few steps otherwise.</summary>
    static PretrainResult Run(Recipe recipe, string outDir, PretrainOptions options, CancellationToken cancel)
    {
        static string Line(PretrainProgress p) =>
            FormattableString.Invariant($"step {p.Step}/{p.TotalSteps} [{p.Stage}] loss {p.Loss:F3} acc {p.Accuracy:P1} lr {p.Lr:G3} {p.AudioSecondsPerSecond:F1} audio-s/s") +
            (p.Eta is { } eta ? $" ETA {eta:hh\\:mm\\:ss}" : "");
        if (!Progress.Interactive)
        {
            var every = Math.Max(1, recipe.TotalSteps / 50);
            return Pretrainer.Run(recipe, outDir, options, Console.WriteLine, new Progress.Inline<PretrainProgress>(p =>
            {
                if (p.StepsThisRun > 0 && (p.Step % every == 0 || p.Step == p.StopAt)) Console.WriteLine(Line(p));
            }), cancel);
        }
        PretrainResult result = null!;
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var bar = ctx.AddTask("pre-training", maxValue: recipe.TotalSteps);
                result = Pretrainer.Run(recipe, outDir, options, line => AnsiConsole.MarkupLine(Markup.Escape(line)), new Progress.Inline<PretrainProgress>(p =>
                {
                    bar.Value = p.Step;
                    bar.Description = Markup.Escape(Line(p));
                }), cancel);
            });
        return result;
    }
}
