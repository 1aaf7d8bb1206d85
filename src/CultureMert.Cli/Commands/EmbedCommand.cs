using System.CommandLine;
using CultureMert.Checkpoints;
using CultureMert.Embedding;

namespace CultureMert.Cli.Commands;

/// <summary><c>culturemert embed</c>: layer-wise embeddings of audio files.</summary>
static class EmbedCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Hugging Face model folder (MERT-v1-95M, MERT-v1-330M, CultureMERT-95M, or one from `init`).", Required = true };
        var output = SharedOptions.BatchOutput();
        var layers = new Option<string>("--layers") { Description = "Hidden states to keep: all, or a list such as 0,6,12 (0 = input to layer 1).", DefaultValueFactory = _ => "all" };
        var pool = new Option<string>("--pool") { Description = "mean: time-mean per chunk and over chunks; none: all frames of the whole file in one pass.", DefaultValueFactory = _ => "mean" };
        pool.AcceptOnlyFromAmong("mean", "none");
        var chunk = new Option<double>("--chunk-seconds") { Description = "Chunk length for --pool mean.", DefaultValueFactory = _ => 5.0 };
        var batch = new Option<int?>("--batch-size") { Description = "Chunks per forward pass (results do not depend on it). Default: measured on this machine's first batches (1, 2 or 4) and cached." };
        var threads = SharedOptions.Threads();
        var precision = SharedOptions.Precision();
        var deviceOption = SharedOptions.Device();
        var overwrite = SharedOptions.Overwrite();
        var shardOption = SharedOptions.Shard();
        var inputs = SharedOptions.AudioInputs();
        var command = new Command("embed", "Extract layer-wise MERT embeddings from audio files.")
            { model, output, layers, pool, chunk, batch, precision, threads, deviceOption, overwrite, shardOption, inputs };
        command.SetAction(r => Common.Guard(() =>
        {
            var device = ComputeDevice.Parse(r.GetValue(deviceOption)!);
            Common.SetThreads(r.GetValue(threads));
            var options = new EmbedOptions
            {
                Layers = ParseLayers(r.GetValue(layers)!),
                Pool = r.GetValue(pool) == "none" ? Pooling.None : Pooling.Mean,
                ChunkSeconds = r.GetValue(chunk),
                BatchSize = r.GetValue(batch),
                Precision = Common.ParsePrecision(r.GetValue(precision)!, device),
            }.Validate();
            var outDir = r.GetValue(output)!;
            var shard = Common.ResolveShard(r.GetValue(shardOption));
            var tasks = Common.PlanShard(r.GetValue(inputs)!, outDir, shard);
            using var mert = MertCheckpoint.Load(r.GetValue(model)!, device);
            if (mert.IgnoredHeads.Count > 0)
                Console.Error.WriteLine($"note: {mert.WeightsFile}: {mert.IgnoredHeads.Count} pre-training head tensor(s) not used for embedding ({string.Join(", ", mert.IgnoredHeads.Take(3))}...)");
            var job = new EmbedJob(mert, options, outDir, r.GetValue(overwrite));
            return Common.RunBatch(tasks, (p, c) => job.Run(tasks, p, c, shard), outDir, "embedded", shard);
        }));
        return Examples.Add(command,
            ("Mean-pooled embeddings of every layer for a folder of audio", "culturemert embed --model MERT-v1-95M --out embeddings music/"),
            ("Layers 0, 6 and 12 only, in bfloat16 (about 2x faster on CPUs with AVX-512 BF16 or AMX)", "culturemert embed --model CultureMERT-95M --out embeddings --layers 0,6,12 --precision bf16 music/"),
            ("Shard 0 of 4 of a CSV manifest; join the shards with `index merge`", "culturemert embed --model MERT-v1-95M --out embeddings --shard 0/4 tasks/makam.csv"));
    }

    static int[]? ParseLayers(string s)
    {
        if (s.Trim().Equals("all", StringComparison.OrdinalIgnoreCase)) return null;
        try { return s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(int.Parse).ToArray(); }
        catch (Exception e) when (e is FormatException or OverflowException)
        { throw new ArgumentException($"--layers \"{s}\": expected 'all' or a comma-separated list of layer numbers such as 0,6,12."); }
    }
}
