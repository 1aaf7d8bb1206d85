using System.Text;
using CultureMert.Corpus.Datasets;
using CultureMert.Evaluation;
using CultureMert.Teachers;

namespace CultureMert.Study;

/// <summary>The report's sections beyond tagging: classification and retrieval, and token similarity against transfer.</summary>
internal static partial class StudyReport
{
    /// <summary>The measures of the class tasks, each a declared task type and a number per probe seed of a cell.</summary>
    static readonly (string Name, TaskType Type, Func<CellScores, double[]> Numbers)[] ClassMeasures =
    [
        ("accuracy", TaskType.SingleLabel, c => c.SeedAccuracy),
        ("macro-F1", TaskType.SingleLabel, c => c.SeedF1Macro),
        ("MAP@10", TaskType.Retrieval, c => [c.Retrieval?.MapAt10 ?? double.NaN]),
        ("MRR", TaskType.Retrieval, c => [c.Retrieval?.Mrr ?? double.NaN]),
        ("R@10", TaskType.Retrieval, c => [c.Retrieval?.RecallAt10 ?? double.NaN]),
    ];

    /// <summary>
    /// Single-label classification and retrieval of each culture's class label: group averages per model over pre-training
    /// seeds, and the comparisons the paper's claims rest on, on accuracy and MAP@10.
    /// </summary>
    static void ClassesAndRetrieval(StringBuilder sb, StudyScores s)
    {
        var measures = new[] { false, true }.SelectMany(w => ClassMeasures.Where(m => s.HasTasks(w, m.Type)).Select(m => (Western: w, m.Name, m.Type, m.Numbers))).ToList();
        if (measures.Count == 0) return;
        var roles = Ladder.Select(r => r.Role).Concat(new[] { s.BestTa, s.BestMerge }.OfType<string>()).Distinct().Where(s.Has).ToList();
        sb.Append("\n## Classification and retrieval\n\nEach culture's class label (genre, mode, makam, raga or tune type: the first label type every clip ")
          .Append("has once, `corpus/tasks/CULTURE-TYPE*.csv`) as a **single-label** task (softmax probe; accuracy, macro-F1) and as a **retrieval** task ")
          .Append("(no training: cosine on mean-pooled embeddings of the layer chosen by validation MAP@10; relevant = same class; MAP@10, MRR, recall@10). ")
          .Append("Group averages ×100, mean ± 95 % t interval over pre-training seeds; per task and probe seed: `scores.csv`.\n\n| model | ")
          .Append(string.Join(" | ", measures.Select(m => $"{(m.Western ? "Western" : "non-Western")} {m.Name}"))).Append(" |\n| --- |")
          .Append(string.Concat(measures.Select(_ => " --- |"))).Append('\n');
        foreach (var role in roles)                                           // the hand-crafted rung has one value, no interval (as in the ladder)
            sb.Append($"| {role} | ").Append(string.Join(" | ", measures.Select(m =>
                Ci(Summary.Of(s.Group(role, m.Western, m.Type, m.Numbers).Take(s.SeedIndependent(role) ? 1 : int.MaxValue)))))).Append(" |\n");

        var pairs = new[] { ("cpt-multi", "control"), ("cpt-multi", "base") }.Concat(new[] { s.BestTa, s.BestMerge }.OfType<string>().Distinct().Select(m => (m, "base")))
                                                                          .Where(p => s.Has(p.Item1) && s.Has(p.Item2)).ToList();
        var headline = measures.Where(m => !m.Western && m.Name is "accuracy" or "MAP@10").ToList();
        if (pairs.Count == 0 || headline.Count == 0) return;
        sb.Append(System.FormattableString.Invariant($"\nPaired by pre-training seed (Δ ×100, 95 % CI; verdict as in the paired comparisons, margin ±{s.Margin:0.###}; "))
          .Append("where pre-training did not learn (*Reading*), these differences are not read either):\n\n| comparison | ")
          .Append(string.Join(" | ", headline.Select(m => $"non-Western {m.Name}"))).Append(" |\n| --- |").Append(string.Concat(headline.Select(_ => " --- |"))).Append('\n');
        foreach (var (a, b) in pairs)
            sb.Append($"| {a} − {b} | ").Append(string.Join(" | ", headline.Select(m =>
            {
                var e = Equivalence.Test(StudyScores.Differences(s.Group(a, false, m.Type, m.Numbers), s.Group(b, false, m.Type, m.Numbers)), s.Margin);
                // Accuracy on a few dozen tracks takes few values: the same difference at every seed has no spread, and a
                // t interval of width 0 says nothing about the runs not made.
                return $"{Pm(e.Diff)} {(e.Diff.N > 1 && e.Diff.Std == 0 ? "no spread: not read" : Verdict(e.Verdict))}";
            }))).Append(" |\n");
    }

    /// <summary>The token statistics' JSD heat map, and the token divergences against the transfer map's gains.</summary>
    static void TokenSimilarity(StringBuilder sb, StudyScores s, IReadOnlyList<string> others, TokenStatistics tokens, StudyPaths paths)
    {
        if (!File.Exists(Path.Combine(paths.Root, "tokens", "jsd-heatmap.png"))) return;
        sb.Append("\n## Token similarity across cultures\n\nJensen–Shannon divergence (bits) between the cultures' token histograms under the study's teacher ")
          .Append("(`tokens/divergence.csv`): how differently the cultures use the pre-training vocabulary.\n\n![token JSD](tokens/jsd-heatmap.png)\n\n");
        if (TokenTransferOf(s, others, tokens) is not { } transfer) return;
        transfer.Write(Path.Combine(paths.Root, TokenTransferFolder));
        sb.Append("Does token similarity predict transfer? The gains are the transfer map's cells (single-culture CPT on the row culture, ")
          .Append("ΔROC-AUC ×100 against the base on the column culture's task); the divergences and the pieces bootstrapped are the ")
          .Append($"teacher tokens' (`{TokenTransferFolder}/transfer-pairs.csv`, `transfer-correlation.csv`). ")
          .Append("The interval resamples pieces only: the gains are held fixed, so their own noise — one probe of the transfer map's pre-training ")
          .Append("seeds each, as wide as the per-task intervals above — is not in it, and an interval that excludes 0 does not make ρ a finding. ")
          .Append("Where pre-training did not learn (see *Reading*), the gains measure noise and ρ is not read.\n\n")
          .Append(transfer.Markdown(TokenTransferFolder, headingLevel: 3));
    }

    /// <summary>Where the study writes the token-divergence-against-transfer files (its own, not the shared token folder: the gains are this study's).</summary>
    const string TokenTransferFolder = "token-transfer";

    /// <summary>The token divergences against the transfer gains of the single-culture CPTs on every tagging task; null
    /// when no gain was measured.</summary>
    static TokenTransferResult? TokenTransferOf(StudyScores s, IReadOnlyList<string> others, TokenStatistics tokens)
    {
        var gains = (from c in others
                     where s.Has($"cpt-{c}") && s.Has("base")
                     from t in Enumerable.Range(0, s.Tasks.Count)
                     where s.Tasks[t].Tagging
                     select new TransferGain(c, s.Tasks[t].Name, s.CompareTask($"cpt-{c}", "base", t).Diff.Mean)).ToList();
        if (!gains.Any(g => double.IsFinite(g.Gain))) return null;
        return TokenTransfer.Analyze(tokens, [.. gains.Where(g => tokens.Cultures.Contains(g.TaskCulture))]);
    }
}
