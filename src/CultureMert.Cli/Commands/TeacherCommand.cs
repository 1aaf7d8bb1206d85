using System.CommandLine;
using CultureMert.Batch;
using CultureMert.Teachers;

namespace CultureMert.Cli.Commands;

/// <summary><c>culturemert teacher fit-kmeans</c>: a self-contained token teacher for users without EnCodec weights.</summary>
static class TeacherCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Codebook file to write (.safetensors); use it as --teacher kmeans:FILE.", Required = true };
        var k = new Option<int>("--k") { Description = "Number of clusters (tokens).", DefaultValueFactory = _ => 1024 };
        var seed = new Option<int>("--seed") { Description = "Random seed (frame sampling, k-means++).", DefaultValueFactory = _ => 0 };
        var perFile = new Option<int>("--max-frames-per-file") { Description = "Frames sampled from each file at most (75 per second).", DefaultValueFactory = _ => 3000 };
        var total = new Option<int>("--max-frames") { Description = "Frames kept over the whole corpus at most (reservoir sample).", DefaultValueFactory = _ => 500_000 };
        var batch = new Option<int>("--mini-batch") { Description = "Mini-batch size (0: full-batch Lloyd iterations).", DefaultValueFactory = _ => 4096 };
        var iterations = new Option<int>("--iterations") { Description = "Iterations at most.", DefaultValueFactory = _ => 300 };
        var threads = SharedOptions.Threads();
        var deviceOption = SharedOptions.Device();
        var inputs = SharedOptions.AudioInputs();
        var fit = new Command("fit-kmeans", "Fit k-means (k-means++ init, mini-batch) on log-mel + chroma frames at 75 Hz and save the codebook.")
            { output, k, seed, perFile, total, batch, iterations, threads, deviceOption, inputs };
        fit.SetAction(r => Common.Guard(() =>
        {
            var device = ComputeDevice.Parse(r.GetValue(deviceOption)!);
            Common.SetThreads(r.GetValue(threads));
            var options = new KMeansFitOptions
            {
                K = r.GetValue(k), Seed = r.GetValue(seed), MaxFramesPerFile = r.GetValue(perFile), MaxTotalFrames = r.GetValue(total),
                BatchSize = r.GetValue(batch), MaxIterations = r.GetValue(iterations),
            };
            options.Validate();
            // The same input conventions as embed/tokenize; only the audio paths are used.
            var tasks = BatchJob.Plan(r.GetValue(inputs)!, Path.GetTempPath());
            foreach (var bad in tasks.Where(t => t.Error is not null)) Console.Error.WriteLine($"skipped: {bad.Error}");
            var files = tasks.Where(t => t.Error is null).Select(t => t.Path).ToList();
            if (files.Count == 0) throw new ArgumentException("no audio files found in the inputs.");
            using var teacher = KMeansTeacher.Fit(files, options, Progress.Lines(Console.Error), device);
            teacher.Save(r.GetValue(output)!);
            Console.WriteLine($"wrote {r.GetValue(output)}: {teacher.Name}, {files.Count} files");
            return ExitCodes.Ok;
        }));
        (string, string)[] examples =
        [
            ("A 1024-token codebook from a folder of audio", "culturemert teacher fit-kmeans --k 1024 --out teacher.safetensors music/"),
            ("A smaller, quicker codebook from at most 100k frames", "culturemert teacher fit-kmeans --k 256 --max-frames 100000 --seed 1 --out teacher-256.safetensors music/"),
        ];
        Examples.Add(fit, examples);
        return Examples.Add(new Command("teacher", "Pre-training teachers that need no downloaded weights.") { fit }, examples);
    }
}
