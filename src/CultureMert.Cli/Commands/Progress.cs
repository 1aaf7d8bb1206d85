using CultureMert.Batch;
using Spectre.Console;

namespace CultureMert.Cli.Commands;

/// <summary>Spectre.Console progress bars on a terminal; plain lines otherwise (CI logs, pipes).</summary>
static class Progress
{
    public static List<IndexRow> Run(IReadOnlyList<BatchTask> tasks, Func<IProgress<JobProgress>, CancellationToken, List<IndexRow>> work, CancellationToken cancel)
    {
        if (!Interactive)
            return work(new SyncProgress<JobProgress>(p =>
            {
                if (p.Current is null || p.CurrentFraction > 0) return;       // one line per file
                Console.WriteLine($"[{p.FilesDone + 1}/{p.FilesTotal}] {p.Current}  ({p.AudioSeconds:F0} audio-s done, {p.Throughput:F2} audio-s/s, {p.Failed} failed{Eta(p)})");
            }), cancel);
        List<IndexRow> rows = [];
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var bar = ctx.AddTask("files", maxValue: tasks.Count);
                rows = work(new SyncProgress<JobProgress>(p =>
                {
                    bar.Value = p.FilesDone + p.CurrentFraction;
                    bar.Description = $"{p.FilesDone}/{p.FilesTotal} files, {p.AudioSeconds:F0} audio-s, {p.Throughput:F2} audio-s/s, {p.Failed} failed";
                }), cancel);
                bar.Value = tasks.Count;
            });
        return rows;
    }

    static string Eta(JobProgress p) =>
        p.FilesDone == 0 ? "" : $", ETA {TimeSpan.FromSeconds(p.Elapsed.TotalSeconds / p.FilesDone * (p.FilesTotal - p.FilesDone)):hh\\:mm\\:ss}";


    public static bool Interactive => !(Console.IsOutputRedirected || Console.IsErrorRedirected || Environment.GetEnvironmentVariable("CI") is not null);

    /// <summary>
    /// A progress bar with the time remaining over steps whose log lines start with "[k/N]" (evaluate's model × task
    /// cells, merge's tensors, probe's runs) on a terminal; the lines themselves otherwise. A line "[k/N]" without
    /// ": done" or ": failed" counts step k as done only when <paramref name="startLines"/> is false (steps that log
    /// once, when they end).
    /// </summary>
    /// <param name="total">steps, or 0: N of the first "[k/N]" line</param>
    public static T RunGrid<T>(int total, Func<IProgress<string>, T> work, bool startLines = true)
    {
        if (!Interactive) return work(Lines(Console.Out));
        T result = default!;
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var bar = ctx.AddTask("grid", maxValue: Math.Max(1, total));
                result = work(new SyncProgress<string>(line =>
                {
                    var done = !startLines || line.Contains(": done") || line.Contains(": failed");
                    var open = line.IndexOf('[');
                    var slash = line.IndexOf('/');
                    var close = line.IndexOf(']');
                    if (total == 0 && open == 0 && close > slash && int.TryParse(line[(slash + 1)..close], out var n)) bar.MaxValue = n;
                    if (open == 0 && slash > 1 && int.TryParse(line[1..slash], out var k)) bar.Value = done ? k : k - 1;
                    bar.Description = Markup.Escape(line.Length > 70 ? line[..70] + "…" : line);
                    if (line.Contains(": failed")) AnsiConsole.MarkupLine($"[red]{Markup.Escape(line)}[/]");
                }));
                bar.Value = bar.MaxValue;
            });
        return result;
    }

    /// <summary>Progress lines printed at once, in order, to <paramref name="writer"/>.</summary>
    public static IProgress<string> Lines(TextWriter writer) => new SyncProgress<string>(writer.WriteLine);

}
