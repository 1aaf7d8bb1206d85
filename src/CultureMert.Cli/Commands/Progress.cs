using CultureMert.Batch;
using Spectre.Console;

namespace CultureMert.Cli.Commands;

/// <summary>A Spectre.Console progress bar on a terminal; one plain line per file otherwise (CI logs, pipes).</summary>
static class Progress
{
    public static List<IndexRow> Run(IReadOnlyList<BatchTask> tasks, Func<IProgress<JobProgress>, CancellationToken, List<IndexRow>> work, CancellationToken cancel)
    {
        if (Console.IsOutputRedirected || Console.IsErrorRedirected || Environment.GetEnvironmentVariable("CI") is not null)
            return work(new Inline(p =>
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
                rows = work(new Inline(p =>
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

    /// <summary>Reports synchronously on the worker's thread (System.Progress would post to the thread pool).</summary>
    sealed class Inline(Action<JobProgress> report) : IProgress<JobProgress>
    {
        public void Report(JobProgress value) => report(value);
    }
}
