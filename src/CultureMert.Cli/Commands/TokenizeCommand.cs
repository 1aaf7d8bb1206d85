using System.CommandLine;
using CultureMert.Teachers;

namespace CultureMert.Cli.Commands;

/// <summary><c>culturemert tokenize</c>: MERT's pre-training targets (teacher codes, CQT) for audio files.</summary>
static class TokenizeCommand
{
    public static Command Create()
    {
        var teacher = new Option<string>("--teacher") { Description = "encodec:DIR (Hugging Face facebook/encodec_24khz folder) or kmeans:FILE (from `teacher fit-kmeans`).", Required = true };
        var bandwidth = new Option<double>("--bandwidth") { Description = "EnCodec bandwidth in kbps: 1.5, 3, 6 (8 codebooks, as MERT), 12 or 24.", DefaultValueFactory = _ => 6.0 };
        var cqt = new Option<bool>("--cqt") { Description = "Also write MERT's CQT reconstruction target (336 bins, 75 Hz)." };
        var output = SharedOptions.BatchOutput();
        var threads = SharedOptions.Threads();
        var deviceOption = SharedOptions.Device();
        var overwrite = SharedOptions.Overwrite();
        var shardOption = SharedOptions.Shard();
        var inputs = SharedOptions.AudioInputs();
        var command = new Command("tokenize", "Compute pre-training targets: teacher codes aligned to MERT's 75 Hz frames, and optionally the CQT.")
            { teacher, bandwidth, cqt, output, threads, deviceOption, overwrite, shardOption, inputs };
        command.SetAction(r => Common.Guard(() =>
        {
            var device = ComputeDevice.Parse(r.GetValue(deviceOption)!);
            Common.SetThreads(r.GetValue(threads));
            var outDir = r.GetValue(output)!;
            var shard = Common.ResolveShard(r.GetValue(shardOption));
            var tasks = Common.PlanShard(r.GetValue(inputs)!, outDir, shard);
            using var model = Teacher.Open(r.GetValue(teacher)!, r.GetValue(bandwidth), device);
            using var transform = r.GetValue(cqt) ? new MertCqt() : null;                     // the CQT always runs on the CPU (see MertCqt.Transform)
            var job = new TokenizeJob(model, transform, outDir, r.GetValue(overwrite));
            return Common.RunBatch(tasks, (p, c) => job.Run(tasks, p, c, shard), outDir, "tokenized", shard);
        }));
        return Examples.Add(command,
            ("EnCodec codes at 6 kbps (MERT's 8 codebooks) and the CQT target", "culturemert tokenize --teacher encodec:encodec_24khz --bandwidth 6 --cqt --out targets music/"),
            ("Codes of a k-means teacher from `teacher fit-kmeans`", "culturemert tokenize --teacher kmeans:teacher.safetensors --cqt --out targets music/"));
    }
}
