using CultureMert.IO;

namespace CultureMert.Study;

/// <summary>One base run's masked prediction at the end of its training: cross-entropy summed over codebooks (nats) and
/// masked accuracy averaged over codebooks, each the mean over the last tenth of its steps.</summary>
internal sealed record FinalObjective(int Seed, double CrossEntropy, double Accuracy);

/// <summary>
/// Whether pre-training's own objective learned more than the token prior: the bases' masked-prediction cross-entropy at
/// the end of training against the entropy of the Western token distribution, which is the loss of a model that ignores
/// the audio and predicts every masked frame from token frequencies alone. A base still at the prior has learned nothing
/// its probes could use, whatever the probes then show; this says why a ladder reads "not learned".
/// </summary>
/// <param name="PriorNats">Σ over codebooks of the entropy of the Western clips' token histogram (nats)</param>
/// <param name="MostFrequentShare">mean over codebooks of the most frequent Western token's share: the accuracy of
/// always predicting it</param>
internal sealed record ObjectiveVsPrior(double PriorNats, double MostFrequentShare, IReadOnlyList<FinalObjective> Bases)
{
    /// <summary>Null when the token statistics or every base's log are missing.</summary>
    public static ObjectiveVsPrior? Measure(StudyPaths paths, StudyCultures cultures, int pretrainSeeds)
    {
        var histograms = Path.Combine(paths.Tokens, "histograms.csv");
        if (!File.Exists(histograms)) return null;
        var (prior, top) = Prior(Csv.Read(histograms), cultures.Western);
        var bases = Enumerable.Range(0, pretrainSeeds)
                              .Select(k => Final(Path.Combine(paths.Run(StudyModel.RunName("base", k)), "log.csv"), k))
                              .OfType<FinalObjective>().ToList();
        return bases.Count == 0 ? null : new ObjectiveVsPrior(prior, top, bases);
    }

    /// <summary>Entropy (nats, summed over codebooks) and most frequent share (mean over codebooks) of the pooled
    /// histograms of <paramref name="cultures"/>.</summary>
    static (double Nats, double TopShare) Prior(CsvTable t, IReadOnlyList<string> cultures)
    {
        t.RequireColumns("culture", "codebook", "token", "count");
        var (culture, codebook, count) = (t.Column("culture"), t.Column("codebook"), t.Column("count"));
        var perCodebook = t.Rows.Where(r => cultures.Contains(r.Get(culture)))
                               .GroupBy(r => r.Get(codebook))
                               .Select(g => g.GroupBy(r => r.Get(t.Column("token"))).Select(tok => tok.Sum(r => r.Double(count) ?? 0)).Where(c => c > 0).ToList())
                               .Where(counts => counts.Count > 0).ToList();
        if (perCodebook.Count == 0) return (double.NaN, double.NaN);
        double Entropy(List<double> c) { var n = c.Sum(); return -c.Sum(x => x / n * Math.Log(x / n)); }
        return (perCodebook.Sum(Entropy), perCodebook.Average(c => c.Max() / c.Sum()));
    }

    /// <summary>The mean of <c>ce</c> and of the <c>acc_*</c> columns over the last tenth of a run's logged steps.</summary>
    static FinalObjective? Final(string log, int seed)
    {
        if (!File.Exists(log)) return null;
        var (t, rows) = Pretraining.TrainingLog.Read(log);
        var ce = t.Column("ce");
        var acc = Enumerable.Range(0, t.Header.Count).Where(i => t.Header[i].StartsWith("acc_", StringComparison.Ordinal)).ToList();
        if (ce < 0 || acc.Count == 0 || rows.Count == 0) return null;
        var tail = rows.Skip(rows.Count - Math.Max(1, rows.Count / 10)).ToList();
        return new FinalObjective(seed, tail.Average(r => r.Double(ce) ?? double.NaN), tail.Average(r => acc.Average(i => r.Double(i) ?? double.NaN)));
    }

    /// <summary>Bases whose final cross-entropy is below the prior's entropy.</summary>
    public int BelowPrior => Bases.Count(b => b.CrossEntropy < PriorNats);

    /// <summary>Mean over bases of final cross-entropy minus the prior's entropy (nats; negative: better than the prior).</summary>
    public double MeanGapNats => Bases.Average(b => b.CrossEntropy) - PriorNats;
}
