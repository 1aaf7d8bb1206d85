using System.CommandLine;
using CultureMert.Corpus;
using CultureMert.Study;

namespace CultureMert.Cli.Commands;

/// <summary>
/// <c>culturemert demo</c>: CultureMERT's study in miniature on this machine — corpus, Western-only base, two-stage
/// multi-culture CPT with replay, single-culture CPTs, task-arithmetic λ sweep, probing over seeds — into REPORT.md.
/// </summary>
static class DemoCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Working folder: corpus/, runs/, merges/, evaluation/, REPORT.md.", DefaultValueFactory = _ => "demo-out" };
        var quick = new Option<bool>("--quick") { Description = "A reduced run (a minute or two) that exercises every step." };
        var full = new Option<bool>("--full") { Description = "More data, steps and teacher codes: a run of a few hours with tighter intervals." };
        var threads = new Option<int?>("--threads") { Description = "CPU threads (default: all cores)." };
        var deviceOption = Common.DeviceOption();
        var command = new Command("demo", "CultureMERT's findings in miniature: builds a corpus, pre-trains, adapts, merges and probes, and writes REPORT.md.")
            { output, quick, full, threads, deviceOption };
        command.SetAction(r => Common.Guard(() =>
        {
            var device = ComputeDevice.Parse(r.GetValue(deviceOption)!);
            if (r.GetValue(quick) && r.GetValue(full)) throw new ArgumentException("--quick and --full exclude each other.");
            Common.SetThreads(r.GetValue(threads));
            var options = (r.GetValue(quick) ? StudyOptions.Quick : r.GetValue(full) ? StudyOptions.Full : StudyOptions.Default) with { Device = device };
            var dir = Path.GetFullPath(r.GetValue(output)!);
            var pieces = CorpusSources.Gather(new CorpusSourceOptions(PiecesPerCulture: options.PiecesPerCulture, TopClasses: options.TopClasses,
                                                                      ProceduralSeconds: options.SecondsPerClip * options.ClipsPerPiece + 1, Seed: options.Seed),
                                              w => Console.Error.WriteLine($"warning: {w}"));
            using var cancel = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); Console.Error.WriteLine("interrupted: finishing the current step; run the demo again to resume."); };
            Console.CancelKeyPress += onCancel;
            try
            {
                var result = CultureStudy.Run(pieces, dir, options, (piece, max) => FluidSynth.Render(piece, new FluidSynthOptions { MaxSeconds = max }),
                                              Console.WriteLine, cancel.Token);
                Console.WriteLine();
                foreach (var f in result.Findings) Console.WriteLine($"- {f}");
                Console.WriteLine($"\nreport: {result.Report} (wall time {result.WallTime:mm\\:ss})");
                return 0;
            }
            catch (OperationCanceledException) { return 130; }
            finally { Console.CancelKeyPress -= onCancel; }
        }));
        return Examples.Add(command,
            ("Every step, reduced to a minute or two", "culturemert demo --quick --out demo-quick"),
            ("The default study (about 10 minutes on 2 cores)", "culturemert demo --out demo-out"),
            ("A run of a few hours with tighter intervals, on 16 threads", "culturemert demo --full --threads 16 --out demo-full"));
    }
}
