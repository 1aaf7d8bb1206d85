using System.CommandLine;
using System.Diagnostics;
using CultureMert.Audio;
using CultureMert.Checkpoints;
using CultureMert.Corpus;
using CultureMert.Batch;
using CultureMert.Embedding;
using CultureMert.Model;

namespace CultureMert.Cli.Commands;

/// <summary>
/// <c>culturemert demo</c>: the main job end to end on an embedded default. Until real weights are at hand it initialises
/// a small random MERT, synthesises a few seconds of music from three traditions, embeds it and prints shapes and timing.
/// </summary>
static class DemoCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Working folder for the demo's model, audio and embeddings.", DefaultValueFactory = _ => "demo-output" };
        var preset = new Option<string>("--preset") { Description = "Model size to initialise: tiny or mert-95m.", DefaultValueFactory = _ => "tiny" };
        preset.AcceptOnlyFromAmong("tiny", "mert-95m", "mert-330m");
        var command = new Command("demo", "Initialise a small random MERT, synthesise music, embed it, print shapes and timing.") { output, preset };
        command.SetAction(r => Common.Guard(() =>
        {
            Common.SetThreads(null);
            var dir = Path.GetFullPath(r.GetValue(output)!);
            var clock = Stopwatch.StartNew();
            var modelDir = Path.Combine(dir, "model");
            using (var model = new MertModel(MertConfig.Preset(r.GetValue(preset)!)).InitializeWeights(seed: 0))
                MertCheckpoint.Save(model, modelDir);
            Console.WriteLine($"model: {r.GetValue(preset)} (random weights, seed 0) → {modelDir}  [{clock.ElapsedMilliseconds} ms]");

            var audioDir = Path.Combine(dir, "audio");
            foreach (var piece in DemoAudio.Pieces)
                AudioFile.WriteWav(Path.Combine(audioDir, piece.Name + ".wav"), DemoAudio.Render(piece, seed: 1), piece.SampleRate);
            Console.WriteLine($"audio: {DemoAudio.Pieces.Length} synthesised pieces ({string.Join(", ", DemoAudio.Pieces.Select(p => $"{p.Name} {p.Seconds} s @ {p.SampleRate} Hz"))}) → {audioDir}");

            using var mert = MertCheckpoint.Load(modelDir);
            var embDir = Path.Combine(dir, "embeddings");
            var job = new EmbedJob(mert, new EmbedOptions { ChunkSeconds = 2.0 }, embDir, overwrite: true);
            var tasks = BatchJob.Plan([audioDir], embDir);
            var t0 = clock.Elapsed;
            var rows = job.Run(tasks);
            var seconds = (clock.Elapsed - t0).TotalSeconds;
            foreach (var row in rows)
            {
                var header = SafeTensors.ReadHeader(Path.Combine(embDir, row.Output)).Tensors;
                Console.WriteLine($"  {Path.GetFileName(row.Path),-20} {row.Status,-6} {row.DurationSeconds,5:F2} s  " +
                                  string.Join("  ", header.Select(t => $"{t.Name} [{string.Join(", ", t.Shape)}]")));
            }
            var audio = rows.Sum(x => x.DurationSeconds ?? 0);
            Console.WriteLine($"embedded {audio:F1} s of audio in {seconds:F2} s ({audio / seconds:F1} audio-s/s) → {embDir}");
            return rows.Any(x => x.Status == "error") ? 1 : 0;
        }));
        return command;
    }
}
