using System.CommandLine;

namespace CultureMert.Cli.Commands;

/// <summary>
/// The options (and the audio-input argument) that several commands share, each defined once. They are factories because
/// a System.CommandLine 2.0 symbol belongs to one command: every command asks for its own instance.
/// </summary>
static class SharedOptions
{
    /// <summary><c>--threads</c>: libtorch's intra-op pool; read it with <see cref="Common.SetThreads"/>.</summary>
    public static Option<int?> Threads() => new("--threads") { Description = "CPU threads (default: all cores)." };

    /// <summary>
    /// <c>--device</c> of every command that computes with tensors; read it with <see cref="ComputeDevice.Parse"/> inside
    /// <see cref="Common.Guard"/>, before any output is written, so that a device this build or machine lacks is one
    /// <c>error:</c> line and exit code 2.
    /// </summary>
    public static Option<string> Device() => new("--device")
    {
        Description = "Where tensors are computed: cpu, cuda (the first GPU) or cuda:N. CUDA needs the CUDA build " +
                      "(dotnet build -p:TorchBackend=cuda, or CULTUREMERT_TORCH_BACKEND=cuda for ./culturemert); see docs/gpu.md.",
        DefaultValueFactory = _ => "cpu",
    };

    /// <summary><c>--precision</c> of the commands that embed; read it with <see cref="Common.ParsePrecision"/>.</summary>
    public static Option<string> Precision() => new("--precision")
    {
        Description = "Number format of the model: fp32 (default; exact to the reference) or bf16 (about 2x faster on CPUs with AVX-512 BF16/AMX; " +
                      "hidden states 1-2 % off fp32, see bench/RESULTS.md).",
        DefaultValueFactory = _ => "fp32",
    };

    /// <summary><c>--shard i/N</c> of the batch commands; read it with <see cref="Common.ResolveShard"/>.</summary>
    public static Option<string?> Shard() => new("--shard")
    {
        Description = "Process only shard i of N (0-based, e.g. 0/4) and write index.shard-i-of-N.csv; merge with `index merge`. " +
                      "Default: from MPI (OMPI_COMM_WORLD_RANK/SIZE, PMI_RANK/SIZE), a Slurm array (SLURM_ARRAY_TASK_*) or a Kubernetes " +
                      "Indexed Job (JOB_COMPLETION_INDEX with CULTUREMERT_SHARD_COUNT); 0/1 = everything.",
    };

    /// <summary><c>--out</c> of the batch commands (embed, tokenize): one output per input file and the index.</summary>
    public static Option<string> BatchOutput() => new("--out") { Description = "Output folder: one .safetensors per input plus index.csv.", Required = true };

    /// <summary><c>--overwrite</c> of the batch commands; without it, a rerun skips finished files.</summary>
    public static Option<bool> Overwrite() => new("--overwrite") { Description = "Recompute outputs that already exist." };

    /// <summary>The audio inputs of embed, tokenize and teacher fit-kmeans (expanded by <see cref="Batch.BatchJob.Plan"/>).</summary>
    public static Argument<string[]> AudioInputs() => new("INPUT")
    {
        Description = "Audio files, folders (searched recursively) or CSV manifests with a 'path' column.", Arity = ArgumentArity.OneOrMore,
    };

    /// <summary><c>--hidden</c> of probe and evaluate.</summary>
    public static Option<int> ProbeHidden() => new("--hidden") { Description = "MLP hidden units; 0 = linear probe.", DefaultValueFactory = _ => 512 };
}
