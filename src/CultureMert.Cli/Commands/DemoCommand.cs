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
        var full = new Option<bool>("--full") { Description = "Ten times the default's pre-training steps: about an hour on 2 cores (the largest step count of the committed scale sweep)." };
        var seeds = new Option<int?>("--pretrain-seeds") { Description = "Pre-training runs per model (the unit of replication; default 3, 2 with --quick)." };
        var margin = new Option<double?>("--equivalence-margin") { Description = "Margin (points ×100) within which \"on par\" and \"no forgetting\" may be claimed; fixed in plan.json at the first run (default 1)." };
        var teacherData = new Option<string>("--teacher-data") { Description = "Audio the k-means teacher is fitted on: western (default; MERT's teachers never heard the new cultures) or all.", DefaultValueFactory = _ => "western" };
        teacherData.AcceptOnlyFromAmong("western", "all");
        var scale = new Option<string?>("--scale") { Description = "A scale sweep instead of one study: points [PRESET:]FACTOR, a model preset (default: the run's) at a factor of the pre-training steps, e.g. 1,3,10,small:3 (each point a full study under --out; SCALE.md plots what pre-training learned and the CPT gain over the matched control against training time)." };
        var threads = SharedOptions.Threads();
        var deviceOption = SharedOptions.Device();
        var command = new Command("demo", "CultureMERT's findings in miniature: builds a corpus, pre-trains, adapts, merges and probes, and writes REPORT.md.")
            { output, quick, full, seeds, margin, teacherData, scale, threads, deviceOption };
        command.SetAction(r => Common.Guard(() =>
        {
            var device = ComputeDevice.Parse(r.GetValue(deviceOption)!);
            if (r.GetValue(quick) && r.GetValue(full)) throw new ArgumentException("--quick and --full exclude each other.");
            Common.SetThreads(r.GetValue(threads));
            var options = (r.GetValue(quick) ? StudyOptions.Quick : r.GetValue(full) ? StudyOptions.Full : StudyOptions.Default) with
            {
                Device = device,
                TeacherData = r.GetValue(teacherData) == "all" ? TeacherData.All : TeacherData.Western,
            };
            if (r.GetValue(seeds) is { } n) options = n >= 2 ? options with { PretrainSeeds = n } : throw new ArgumentException($"--pretrain-seeds {n}: intervals over pre-training runs need at least 2.");
            if (r.GetValue(margin) is { } m) options = m > 0 && double.IsFinite(m) ? options with { EquivalenceMargin = m } : throw new ArgumentException($"--equivalence-margin {m}: must be a positive number of points.");
            var dir = Path.GetFullPath(r.GetValue(output)!);
            var pieces = CorpusSources.Gather(new CorpusSourceOptions(PiecesPerCulture: options.PiecesPerCulture, TopClasses: options.TopClasses,
                                                                      ProceduralSeconds: options.SecondsPerClip * options.ClipsPerPiece + 1, Seed: options.Seed),
                                              w => Console.Error.WriteLine($"warning: {w}"));
            var sweep = r.GetValue(scale);
            if (sweep is not null) ScaleSweep.Points(options, sweep);                       // refuse a bad sweep before any work
            Func<MusicPiece, double, float[]> render = (piece, max) => FluidSynth.Render(piece, new FluidSynthOptions { MaxSeconds = max });
            return Cancellation.RunCommand(cancel =>
            {
                if (sweep is not null)
                {
                    var stages = CultureStudy.PhaseCount * ScaleSweep.Points(options, sweep).Count;
                    var result = Progress.RunStages(stages, log => ScaleSweep.Run(pieces, dir, options, sweep, render, log, cancel));
                    Console.WriteLine($"\nscale sweep: {result.Report}");
                    return ExitCodes.Ok;
                }
                var study = Progress.RunStages(CultureStudy.PhaseCount, log => CultureStudy.Run(pieces, dir, options, render, log, cancel));
                Console.WriteLine();
                foreach (var f in study.Findings) Console.WriteLine($"- {f}");
                Console.WriteLine($"\nreport: {study.Report} (wall time {study.WallTime:mm\\:ss})");
                return ExitCodes.Ok;
            }, onCtrlC: "interrupted: finishing the current step; run the demo again to resume.");
        }));
        return Examples.Add(command,
            ("Every step, reduced to a minute or two", "culturemert demo --quick --out demo-quick"),
            ("The default study: 3 pre-training seeds of every model (under 15 minutes on 2 cores)", "culturemert demo --out demo-out"),
            ("A scale sweep: the study at 1, 3 and 10 times the steps, and the small preset at 3 times", "culturemert demo --scale 1,3,10,small:3 --out demo-scale"));
    }
}
