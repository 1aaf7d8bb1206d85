using CultureMert.Batch;
using TorchSharp;

namespace CultureMert.Cli.Commands;

/// <summary>What every command does before its work, and how it reports failure.</summary>
static class Common
{
    /// <summary>Threads for libtorch's intra-op pool; default: every core.</summary>
    public static void SetThreads(int? threads)
    {
        var n = threads ?? Environment.ProcessorCount;
        if (n < 1) throw new ArgumentException("--threads must be at least 1.");
        torch.set_num_threads(n);
    }

    /// <summary>Parses --precision; says so on stderr when bf16 will run on a CPU that has no native bf16.</summary>
    public static Model.Precision ParsePrecision(string name, TorchSharp.torch.Device device)
    {
        var precision = Model.Precisions.Parse(name);
        if (precision == Model.Precision.BFloat16 && device.type == TorchSharp.DeviceType.CPU && ComputeDevice.CpuHasNativeBf16() == false)
            Console.Error.WriteLine("note: this CPU has no native bfloat16 (AVX-512 BF16 or AMX): --precision bf16 is likely slower than fp32 here.");
        return precision;
    }

    /// <summary>Runs a command body; expected failures print one clear line, never a stack trace, and exit 2 (invalid
    /// usage: an <see cref="ArgumentException"/>) or 3 (fatal: anything else that stopped the work; per-input failures
    /// of a batch are caught inside it and end in 1).</summary>
    public static int Guard(Func<int> body)
    {
        try { return body(); }
        catch (CultureMert.Setup.MissingSystemPackagesException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return ExitCodes.Fatal;
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or NotSupportedException or FileNotFoundException
                                      or DirectoryNotFoundException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return e is ArgumentException ? ExitCodes.Usage : ExitCodes.Fatal;
        }
        catch (Exception e)
        {
            // Not a bad input we know of: say so, with the details a bug report needs.
            Console.Error.WriteLine($"internal error: {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
            return ExitCodes.Internal;
        }
    }

    /// <summary>The shard given by --shard, else the one a launcher set in the environment (said on stderr), else the whole job.</summary>
    public static Shard ResolveShard(string? option)
    {
        if (option is not null) return Shard.Parse(option);
        if (Shard.Detect(Environment.GetEnvironmentVariable) is not { } found) return Shard.Whole;
        Console.Error.WriteLine($"note: shard {found.Shard} from {found.Source} (pass --shard 0/1 to process everything in this process).");
        return found.Shard;
    }

    /// <summary>This shard's part of the plan; an empty plan is an error, an empty share is not (the shard writes an empty index).</summary>
    public static List<BatchTask> PlanShard(IEnumerable<string> inputs, string outDir, Shard shard)
    {
        var plan = BatchJob.Plan(inputs, outDir);
        if (plan.Count == 0) throw new ArgumentException("no audio files found in the inputs.");
        var mine = shard.Select(plan);
        if (shard.Count > 1) Console.WriteLine($"shard {shard}: {mine.Count} of {plan.Count} files");
        return mine;
    }

    /// <summary>
    /// Runs a batch job with progress and Ctrl-C handling, prints per-file errors and a summary line; returns the exit
    /// code: 0 all done, 1 some file failed, 130 interrupted.
    /// </summary>
    public static int RunBatch(IReadOnlyList<BatchTask> tasks, Func<IProgress<JobProgress>, CancellationToken, List<IndexRow>> run,
                               string outDir, string verb, Shard shard) => Cancellation.Run(cancel =>
    {
        var rows = Progress.Run(tasks, run, cancel);
        var failed = rows.Where(x => x.Status == "error").ToList();
        foreach (var f in failed) Console.Error.WriteLine($"error: {f.Error}");
        foreach (var w in rows.Where(x => x.Status != "error" && x.Error != "")) Console.Error.WriteLine(w.Error);   // "warning: ..."
        Console.WriteLine($"{rows.Count(x => x.Status == "ok")} {verb}, {rows.Count(x => x.Status == "skipped")} already done, {failed.Count} failed" +
                          $"{(cancel.IsCancellationRequested ? $", {tasks.Count - rows.Count} not started (interrupted)" : "")}; index: {Path.Combine(outDir, shard.IndexFile)}");
        return cancel.IsCancellationRequested ? Cancellation.StoppedCode : failed.Count > 0 ? ExitCodes.InputsFailed : ExitCodes.Ok;
    }, "interrupted: finishing the index; no partial outputs are left.");
}
