using System.Diagnostics;
using CultureMert.Corpus;

namespace CultureMert.Study;

/// <summary>Where a study keeps each step's outputs under its folder; every step resumes from what is there.</summary>
internal sealed record StudyPaths(string Root)
{
    public string Corpus => Path.Combine(Root, "corpus");
    public string Teacher => Path.Combine(Root, "teacher", "kmeans.safetensors");
    public string Targets => Path.Combine(Root, "targets");
    /// <summary>The token statistics (<c>culturemert tokens stats</c>): divergences and the JSD heat map.</summary>
    public string Tokens => Path.Combine(Root, "tokens");
    public string Runs => Path.Combine(Root, "runs");
    public string Merges => Path.Combine(Root, "merges");
    public string Evaluation => Path.Combine(Root, "evaluation");
    public string Report => Path.Combine(Root, "REPORT.md");

    /// <summary>A pre-training run's recipe, as <c>culturemert pretrain --recipe</c> reads it.</summary>
    public string Recipe(string run) => Path.Combine(Root, "recipes", run + ".json");
    public string Run(string run) => Path.Combine(Runs, run);
    /// <summary>The HF folder a run exported at the end of a stage.</summary>
    public string Export(string run, string stage) => Path.Combine(Runs, run, "stages", stage);
}

/// <summary>The corpus's cultures as the study uses them: the Western ones (the base model's data, replayed in
/// stage 1) and the others (what continual pre-training adapts to); each list in ordinal order.</summary>
internal sealed record StudyCultures(IReadOnlyList<string> All, IReadOnlyList<string> Western, IReadOnlyList<string> Others)
{
    public static StudyCultures Of(CorpusSummary corpus, CorpusOptions options)
    {
        var all = corpus.Clips.Select(c => c.Culture).Distinct().Order(StringComparer.Ordinal).ToList();
        var western = all.Where(options.Western.Contains).ToList();
        var others = all.Except(western).ToList();
        if (western.Count == 0 || others.Count == 0) throw new InvalidDataException("the study needs Western and non-Western cultures in the corpus.");
        return new StudyCultures(all, western, others);
    }
}

/// <summary>The study's phases in order: each is announced in the log, timed for the report, and followed by a stop
/// when cancellation was requested (the next run resumes from the phase's outputs).</summary>
internal sealed class StudyPhases(Action<string> log, CancellationToken cancel)
{
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private readonly List<(string Phase, TimeSpan Time)> times = [];

    public IReadOnlyList<(string Phase, TimeSpan Time)> Times => times;
    public TimeSpan Elapsed => clock.Elapsed;

    public T Run<T>(string name, Func<T> body)
    {
        log($"== {name}");
        var start = clock.Elapsed;
        var result = body();
        times.Add((name, clock.Elapsed - start));
        cancel.ThrowIfCancellationRequested();
        return result;
    }

    public void Run(string name, Action body) => Run(name, () => { body(); return 0; });
}
