using CultureMert.Batch;
using Spectre.Console;

namespace CultureMert.Cli.Commands;

/// <summary>
/// Spectre.Console progress bars with the time remaining on a terminal. Otherwise (CI logs, pipes, cron) quiet: one line
/// on stderr per stage, and the lines that report a failure or a warning; the command's results and summary as always.
/// </summary>
static class Progress
{
    public static List<IndexRow> Run(IReadOnlyList<BatchTask> tasks, Func<IProgress<JobProgress>, CancellationToken, List<IndexRow>> work, CancellationToken cancel)
    {
        if (!Interactive)
        {
            Console.Error.WriteLine($"{tasks.Count} files to process");     // per-file errors and the summary follow at the end
            return work(new SyncProgress<JobProgress>(_ => { }), cancel);
        }
        List<IndexRow> rows = [];
        Terminal().Progress()
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

    /// <summary>Whether stderr, where progress goes, is a terminal (and not a CI runner's, which records it as a log).</summary>
    public static bool Interactive => !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("CI") is null;

    /// <summary>Spectre.Console on stderr: progress never mixes with the results a user redirects from stdout.</summary>
    public static IAnsiConsole Terminal() => AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });

    /// <summary>
    /// A progress bar with the time remaining over steps whose log lines start with "[k/N]" (evaluate's model × task
    /// cells, merge's tensors, probe's runs) on a terminal; otherwise one line for the stage and the notable lines. A
    /// line "[k/N]" without ": done" or ": failed" counts step k as done only when <paramref name="startLines"/> is false
    /// (steps that log once, when they end).
    /// </summary>
    /// <param name="stage">the command's stage, for the one line of a log: "merge", "evaluate", …</param>
    /// <param name="total">steps, or 0: N of the first "[k/N]" line</param>
    public static T RunGrid<T>(string stage, int total, Func<IProgress<string>, T> work, bool startLines = true)
    {
        if (!Interactive)
        {
            Console.Error.WriteLine(total > 0 ? $"{stage}: {total} steps" : stage);
            return work(Notable(Console.Error));
        }
        T result = default!;
        var terminal = Terminal();
        terminal.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var bar = ctx.AddTask("grid", maxValue: Math.Max(1, total));
                result = work(new SyncProgress<string>(line =>
                {
                    var done = !startLines || line.Contains(": done") || line.Contains(": failed");
                    if (line.StartsWith('[') && StepOf(line) is var (k, n))
                    {
                        if (total == 0) bar.MaxValue = n;
                        bar.Value = done ? k : k - 1;
                    }
                    bar.Description = Markup.Escape(Shortened(line, 70));
                    if (line.Contains(": failed")) terminal.MarkupLine($"[red]{Markup.Escape(line)}[/]");
                }));
                bar.Value = bar.MaxValue;
            });
        return result;
    }

    /// <summary>Progress lines printed at once, in order, to <paramref name="writer"/>.</summary>
    public static IProgress<string> Lines(TextWriter writer) => new SyncProgress<string>(writer.WriteLine);

    /// <summary>Only the lines that report a failure, an error or a warning, printed to <paramref name="writer"/>.</summary>
    static IProgress<string> Notable(TextWriter writer) => new SyncProgress<string>(line => { if (IsNotable(line)) writer.WriteLine(line.Trim()); });

    static bool IsNotable(string line) =>
        line.Contains(": failed", StringComparison.Ordinal) || line.Contains("warning", StringComparison.OrdinalIgnoreCase) ||
        line.Contains("error", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// A job of stages that logs each as a line "== name" and its steps as lines holding "k/N" (the demo: corpus pieces,
    /// pre-training steps, evaluation cells). On a terminal: a bar over the stages, with the elapsed time, and one over the
    /// current run of steps, with the time remaining; the stage lines stay on screen. Otherwise the stage lines (numbered,
    /// with the elapsed time) and the notable lines only.
    /// </summary>
    /// <param name="stages">how many "== " lines the job logs</param>
    public static T RunStages<T>(int stages, Func<Action<string>, T> work)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var stage = 0;
        string Header(string line) => $"[stage {++stage}/{stages}, {clock.Elapsed:hh\\:mm\\:ss}] {line[3..]}";
        if (!Interactive)
            return work(line =>
            {
                if (line.StartsWith("== ", StringComparison.Ordinal)) Console.Error.WriteLine(Header(line));
                else if (line.StartsWith("===", StringComparison.Ordinal) || IsNotable(line)) Console.Error.WriteLine(line.Trim());   // a sweep's points
            });
        T result = default!;
        var terminal = Terminal();
        terminal.Progress().HideCompleted(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var all = ctx.AddTask("stages", maxValue: stages);
                ProgressTask? steps = null;
                result = work(line =>
                {
                    if (line.StartsWith("== ", StringComparison.Ordinal))
                    {
                        terminal.MarkupLine($"[bold]{Markup.Escape(Header(line))}[/]");
                        all.Value = stage - 1;
                        all.Description = Markup.Escape(line[3..]);
                        steps?.StopTask();
                        steps = null;
                        return;
                    }
                    if (line.StartsWith("===", StringComparison.Ordinal)) terminal.MarkupLine($"[bold]{Markup.Escape(line)}[/]");
                    if (IsNotable(line)) terminal.MarkupLine($"[yellow]{Markup.Escape(line.Trim())}[/]");
                    if (StepOf(line) is not var (k, n)) return;
                    if (steps is null || steps.MaxValue != n || k < steps.Value)   // a new run of steps: a new bar, so its time remaining is its own
                    {
                        steps?.StopTask();
                        steps = ctx.AddTask("steps", maxValue: n);
                    }
                    steps.Value = k;
                    steps.Description = Markup.Escape(Shortened(line.Trim(), 40));
                });
                all.Value = stages;
            });
        return result;
    }

    /// <summary>The line cut to <paramref name="max"/> characters and "…" when longer: a bar's description fits its row.</summary>
    static string Shortened(string line, int max) => line.Length > max ? line[..max] + "…" : line;

    /// <summary>The first "k/N" of a line (whole numbers, 0 &lt; k ≤ N), or null.</summary>
    static (int K, int N)? StepOf(string line)
    {
        var m = System.Text.RegularExpressions.Regex.Match(line, @"(?<![\d.])(\d+)/(\d+)(?![\d.])");
        return m.Success && int.TryParse(m.Groups[1].Value, out var k) && int.TryParse(m.Groups[2].Value, out var n) && k > 0 && k <= n ? (k, n) : null;
    }

}
