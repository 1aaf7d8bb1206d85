using System.CommandLine;
using System.Runtime.InteropServices;
using CultureMert.Distributed;
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
        var precision = new Option<string?>("--precision")
        {
            Description = "fp32, or bf16 mixed precision (fp32 master weights and AdamW, matrix products in bf16; about 2x faster on CPUs " +
                          "with AVX-512 BF16 or AMX, refused where slower). Default: the recipe's \"precision\" (fp32 when absent).",
        };
        var allowSlow = new Option<bool>("--allow-slow-bf16") { Description = "Train in bf16 even on a CPU without native bf16, where it is slower than fp32 (to check its numerics)." };
        var threads = SharedOptions.Threads();
        var deviceOption = SharedOptions.Device();
        deviceOption.Description += " Under mpirun every rank uses the device given.";
        var command = new Command("pretrain", "Continual pre-training with MERT's objective and a multi-stage recipe (re-warming, re-decaying, replay).")
            { recipe, output, resume, maxSteps, precision, allowSlow, threads, deviceOption };
        Recipe Load(ParseResult r)
        {
            var loaded = Recipe.Load(r.GetValue(recipe)!);
            return r.GetValue(precision) is { } p ? loaded with { Precision = Model.Precisions.Parse(p) } : loaded;
        }
        PretrainOptions Options(ParseResult r, TorchSharp.torch.Device device, ICommunicator? world = null) =>
            new(r.GetValue(maxSteps), r.GetValue(resume), world, device, r.GetValue(allowSlow));
        command.SetAction(r => MpiWorld.LauncherWorldSize(Environment.GetEnvironmentVariable) is > 1
            ? RunDistributed(r.GetValue(output)!, r.GetValue(threads), r.GetValue(deviceOption)!, () => Load(r), (device, world) => Options(r, device, world))
            : Common.Guard(() =>
        {
            var device = ComputeDevice.Parse(r.GetValue(deviceOption)!);
            Common.SetThreads(r.GetValue(threads));
            var outDir = r.GetValue(output)!;
            var loaded = Load(r);
            return Cancellation.Run(cancel =>
            {
                var result = Run(loaded, outDir, Options(r, device), cancel);
                Console.WriteLine(Summary(result, outDir, withPlot: true));
                return result.Interrupted ? Cancellation.StoppedCode : ExitCodes.Ok;
            }, "interrupted: finishing this step and writing a checkpoint (resume with --resume).");
        }));
        return Examples.Add(command,
            ("The tiny two-stage recipe (about 2 minutes on 2 CPU cores)", "culturemert pretrain --recipe recipes/tiny-two-stage.json --out runs/tiny"),
            ("Continue after Ctrl-C or --max-steps", "culturemert pretrain --recipe recipes/tiny-two-stage.json --out runs/tiny --resume"),
            ("The first 1000 steps of CultureMERT-95M's recipe on a GPU, in bf16 mixed precision", "culturemert pretrain --recipe recipes/culturemert-95m.json --out runs/95m --max-steps 1000 --device cuda --precision bf16"));
    }

    /// <summary>
    /// One rank of <c>mpirun -np N culturemert pretrain ...</c>: data-parallel over the ranks (see <see cref="Pretrainer"/>).
    /// Rank 0 prints and writes; SIGUSR1 (which mpirun forwards to every rank) asks rank 0 to stop at the next step
    /// boundary with a checkpoint, as Ctrl-C does in one process. Any exception on any rank prints it with the rank and
    /// calls MPI_Abort, which ends every rank of the job: a dead rank never leaves the others waiting in a collective.
    /// </summary>
    static int RunDistributed(string outDir, int? threads, string deviceSpec, Func<Recipe> loadRecipe, Func<TorchSharp.torch.Device, ICommunicator, PretrainOptions> optionsFor)
    {
        MpiWorld world;
        try { world = new MpiWorld(); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or NotSupportedException or IOException)
        {
            Console.Error.WriteLine($"error: launched by an MPI launcher (OMPI_COMM_WORLD_SIZE/PMI_SIZE/SLURM_STEP_NUM_TASKS is set) but {e.Message}");
            return ExitCodes.Fatal;
        }
        using (world)
        {
            try
            {
                var device = ComputeDevice.Parse(deviceSpec);
                Common.SetThreads(threads ?? ThreadsPerRank(MpiWorld.LocalSize(Environment.GetEnvironmentVariable)));
                var loaded = loadRecipe();
                using var cancel = new CancellationTokenSource();
                using var onUsr1 = PosixSignalRegistration.Create((PosixSignal)10, c =>   // 10: SIGUSR1 on Linux; every rank gets it
                {
                    c.Cancel = true;                                             // the default action would kill the rank
                    if (world.Rank != 0) return;                                 // rank 0 decides for all, at a step boundary
                    cancel.Cancel();
                    Console.Error.WriteLine("SIGUSR1: all ranks finish this step, then rank 0 writes a checkpoint (resume with --resume).");
                });
                var options = optionsFor(device, world);
                if (world.Rank == 0) Console.WriteLine($"data-parallel over {world.Size} MPI ranks: {loaded.GradAccumulation / world.Size} of {loaded.GradAccumulation} micro-batches per step on each");
                var result = world.Rank == 0 ? Run(loaded, outDir, options, cancel.Token) : Pretrainer.Run(loaded, outDir, options, _ => { }, null, cancel.Token);
                if (world.Rank == 0) Console.WriteLine(Summary(result, outDir, withPlot: false));
                world.Barrier();                                                  // rank 0's files are complete before any rank exits
                return result.Interrupted ? Cancellation.StoppedCode : ExitCodes.Ok;
            }
            catch (Exception e)
            {
                var what = e is ArgumentException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException ? e.Message : $"{e.GetType().Name}: {e.Message}\n{e.StackTrace}";
                world.Abort($"error: rank {world.Rank} of {world.Size}: {what}\n(rank {world.Rank} calls MPI_Abort: every rank of the job stops now; the last checkpoint is intact.)");
                return ExitCodes.Fatal;
            }
        }
    }

    /// <summary>The run's last line: how it ended, and where its log (and loss plot), newest checkpoint and exported stages are.</summary>
    static string Summary(PretrainResult result, string outDir, bool withPlot)
    {
        var state = result.Finished ? "finished" : result.Interrupted ? "interrupted" : "stopped (--max-steps)";
        return $"{state} at step {result.Step} of {result.TotalSteps}; log: {Path.Combine(outDir, "log.csv")}" +
               $"{(withPlot ? $", plot: {Path.Combine(outDir, "loss.png")}" : "")}" +
               $"{(result.LastCheckpoint.Length > 0 ? $", checkpoint: {result.LastCheckpoint}" : "")}" +
               $"{(result.Exports.Count > 0 ? $", exported: {string.Join(", ", result.Exports)}" : "")}";
    }

    /// <summary>
    /// Default threads of one rank: the cores it may run on (ProcessorCount honours the affinity mpirun binds a rank to:
    /// one core for -np ≤ 2, a socket above) shared by the ranks likely bound to the same cores, assuming they are spread
    /// evenly — cores / ranks on an unbound machine, 1 when bound to one core.
    /// </summary>
    static int ThreadsPerRank(int localRanks)
    {
        var usable = Environment.ProcessorCount;
        var total = File.Exists("/proc/cpuinfo") ? File.ReadLines("/proc/cpuinfo").Count(l => l.StartsWith("processor")) : usable;
        var sharing = Math.Max(1, (int)Math.Ceiling(localRanks * (double)usable / Math.Max(usable, total)));
        return Math.Max(1, usable / sharing);
    }

    /// <summary>A step bar with loss, accuracy, LR, throughput and ETA on a terminal; a line every few steps otherwise.</summary>
    static PretrainResult Run(Recipe recipe, string outDir, PretrainOptions options, CancellationToken cancel)
    {
        static string Line(PretrainProgress p) =>
            FormattableString.Invariant($"step {p.Step}/{p.TotalSteps} [{p.Stage}] loss {p.Loss:F3} acc {p.Accuracy:P1} lr {p.Lr:G3} {p.StepsPerSecond:F2} steps/s {p.AudioSecondsPerSecond:F1} audio-s/s") +
            (p.Eta is { } eta ? $" ETA {eta:hh\\:mm\\:ss}" : "");
        if (!Progress.Interactive)
        {
            var every = Math.Max(1, recipe.TotalSteps / 50);
            return Pretrainer.Run(recipe, outDir, options, Console.WriteLine, new SyncProgress<PretrainProgress>(p =>
            {
                if (p.StepsThisRun > 0 && (p.Step % every == 0 || p.Step == p.StopAt)) Console.WriteLine(Line(p));
            }), cancel);
        }
        PretrainResult result = null!;
        var terminal = Progress.Terminal();
        terminal.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var bar = ctx.AddTask("pre-training", maxValue: recipe.TotalSteps);
                result = Pretrainer.Run(recipe, outDir, options, line => terminal.MarkupLine(Markup.Escape(line)), new SyncProgress<PretrainProgress>(p =>
                {
                    bar.Value = p.Step;
                    bar.Description = Markup.Escape(Line(p));
                }), cancel);
            });
        return result;
    }
}
