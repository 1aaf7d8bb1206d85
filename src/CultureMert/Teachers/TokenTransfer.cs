using System.Globalization;
using CultureMert.IO;
using MathNet.Numerics.Statistics;

namespace CultureMert.Teachers;

/// <summary>
/// The transfer gain of one ordered pair of cultures: the model continually pre-trained on <paramref name="ModelCulture"/>
/// alone, evaluated on <paramref name="TaskCulture"/>'s task (e.g. its ROC-AUC minus the base model's). NaN: not measured.
/// </summary>
public sealed record TransferGain(string ModelCulture, string TaskCulture, double Gain)
{
    /// <summary>The columns <see cref="ReadCsv"/> needs (any order, other columns ignored).</summary>
    public static readonly string[] Columns = ["model_culture", "task_culture", "gain"];

    /// <summary>
    /// The rows of a CSV with columns <c>model_culture</c>, <c>task_culture</c>, <c>gain</c>; a gain written <c>nan</c>
    /// or left empty is a pair not measured (kept, but in no correlation). Errors name the file and line.
    /// </summary>
    public static List<TransferGain> ReadCsv(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: transfer gains file not found.", path);
        var table = Csv.Read(path);
        var missing = table.Missing(Columns);
        if (table.IsEmpty || missing.Count > 0)
            throw new InvalidDataException($"{path}:1: missing column(s) {string.Join(", ", missing)}; the header needs {string.Join(",", Columns)}.");
        table.RequireFieldCount();
        var (model, task, gain) = (table.Column(Columns[0]), table.Column(Columns[1]), table.Column(Columns[2]));
        var lines = new Dictionary<(string, string), int>();
        var gains = new List<TransferGain>();
        foreach (var r in table.Rows)
        {
            var (m, t) = (r.Get(model), r.Get(task));
            if (m.Length == 0 || t.Length == 0) throw table.Error(r, "needs both a model_culture and a task_culture.");
            if (!lines.TryAdd((m, t), r.Line)) throw table.Error(r, $"the pair {m} → {t} is already on line {lines[(m, t)]}.");
            gains.Add(new TransferGain(m, t, ParseGain(table, r, gain)));
        }
        if (gains.Count == 0) throw new InvalidDataException($"{path}: no rows after the header.");
        return gains;
    }

    static double ParseGain(CsvTable table, CsvRow row, int column)
    {
        var text = row.Get(column);
        if (text.Length == 0 || text.Equals("nan", StringComparison.OrdinalIgnoreCase)) return double.NaN;
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v) ? v
            : throw table.Error(row, column, $"'{text}' is not a number (write nan, or leave it empty, for a pair not measured).");
    }
}

/// <summary>A way to measure how far a task culture's teacher tokens are from a model culture's (mean over codebooks).</summary>
/// <param name="Index">position in <see cref="All"/></param>
/// <param name="Name">in file names and the correlation table</param>
/// <param name="Column">in <c>transfer-pairs.csv</c></param>
public sealed record TokenDivergence(int Index, string Name, string Column, string Description)
{
    public static readonly TokenDivergence Jsd = new(0, "jsd", "jsd", "Jensen-Shannon divergence of token histograms (bits)");
    public static readonly TokenDivergence JsdBigram = new(1, "jsd-bigram", "jsd_bigram", "Jensen-Shannon divergence of token-pair histograms (bits)");
    public static readonly TokenDivergence Kl = new(2, "kl", "kl", "KL(task ‖ model) of smoothed token distributions (bits)");
    public static readonly IReadOnlyList<TokenDivergence> All = [Jsd, JsdBigram, Kl];
}

/// <summary>One ordered pair: its gain and the divergences of the task culture's tokens from the model culture's.</summary>
public sealed record TransferPair(string ModelCulture, string TaskCulture, double Gain, double Jsd, double JsdBigram, double Kl)
{
    /// <summary>A model evaluated on its own culture: kept in the table, left out of every correlation.</summary>
    public bool IsDiagonal => ModelCulture == TaskCulture;

    public string Label => $"{ModelCulture}→{TaskCulture}";

    public double Divergence(TokenDivergence measure) => measure.Index switch { 0 => Jsd, 1 => JsdBigram, _ => Kl };
}

/// <summary>Spearman ρ between one divergence and the gain, with its 95 % percentile bootstrap interval.</summary>
/// <param name="Pairs">off-diagonal pairs with a finite gain and divergence</param>
/// <param name="Bootstrap">resamples asked for (those with an undefined ρ are left out of the interval)</param>
public sealed record TransferCorrelation(TokenDivergence Measure, double Rho, double Low, double High, int Pairs, int Bootstrap)
{
    /// <summary>Below this many pairs a rank correlation takes so few values that its interval says nothing.</summary>
    public const int MinPairsForInterval = 4;

    public bool IntervalMeaningful => Pairs >= MinPairsForInterval;
}

/// <summary>The resampling units of one culture.</summary>
public sealed record TransferCulture(string Culture, int Pieces, int Files, long Frames);

/// <summary>
/// Does a model transfer less to cultures whose teacher tokens differ more from those it was continually pre-trained on?
/// For every ordered pair (model culture A, task culture B) with a gain, three divergences of B's tokens from A's, each
/// per codebook q and then averaged over the codebooks (K tokens each; n(·) counts, N totals):
/// <list type="bullet">
/// <item><c>jsd</c>: JSD(P_A, P_B) = ½ KL(P_A‖M) + ½ KL(P_B‖M), M = ½(P_A + P_B), of the token histograms
///   P(i) = n(i)/N, in bits (<see cref="TokenStatistics.JensenShannon"/>); symmetric, in [0, 1].</item>
/// <item><c>jsd-bigram</c>: the same JSD of the histograms of token pairs (x_t, x_{t+1}) of consecutive frames within each
///   file, over the K² pairs: whether the cultures' token sequences differ where their token frequencies may not.</item>
/// <item><c>kl</c>: KL(P̃_B ‖ P̃_A) = Σ_i P̃_B(i) log2(P̃_B(i) / P̃_A(i)) with Jeffreys (add-½) smoothing of both,
///   P̃(i) = (n(i) + ½) / (N + K/2): directional, as the pairs are — the excess bits a code fitted to A's tokens
///   spends on B's; the smoothing keeps it finite when A never used a token B uses.</item>
/// </list>
/// For each divergence, Spearman ρ (average ranks for ties, Pearson of the ranks) with the gain over the off-diagonal
/// pairs (A ≠ B) whose gain and divergence are finite; expected negative. Its 95 % interval is the 2.5th and 97.5th
/// percentile (linear interpolation) of ρ over bootstrap resamples that draw, within each culture, as many pieces as it
/// has, with replacement (one seeded <see cref="Random"/>), and recompute every divergence; the gains stay fixed, so the
/// interval shows how much the token statistics' sampling moves ρ, not the gains' own noise.
/// </summary>
public static class TokenTransfer
{
    /// <summary>
    /// The analysis over <paramref name="gains"/>' cultures, which must all be in <paramref name="stats"/> (computed with
    /// <c>keepPieces: true</c>). <paramref name="bootstrap"/> resamples (0: no interval), seeded with <paramref name="seed"/>.
    /// </summary>
    public static TokenTransferResult Analyze(TokenStatistics stats, IReadOnlyList<TransferGain> gains, int bootstrap = 1000, int seed = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bootstrap);
        if (gains.Count == 0) throw new ArgumentException("no transfer gains to relate the token divergences to.", nameof(gains));
        if (!stats.KeepsPieces)
            throw new InvalidOperationException("the token statistics kept no per-piece counts: compute them with keepPieces: true.");
        var cultures = CulturesOf(stats, gains);
        var histograms = new TransferHistograms(stats, cultures);
        var divergences = histograms.Divergences([histograms.EachPieceOnce(), .. Resamples(histograms.PieceCounts, bootstrap, seed)]);

        var index = cultures.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => x.i, StringComparer.Ordinal);
        int Slot(TransferGain g) => index[g.ModelCulture] * cultures.Length + index[g.TaskCulture];
        var ordered = gains.OrderBy(g => g.ModelCulture, StringComparer.Ordinal).ThenBy(g => g.TaskCulture, StringComparer.Ordinal).ToArray();
        var pairs = ordered.Select(g => Pair(g, divergences[0], Slot(g))).ToList();
        var used = ordered.Where(g => g.ModelCulture != g.TaskCulture && double.IsFinite(g.Gain)).ToArray();
        var correlations = TokenDivergence.All.Select(m => Correlate(m, used, [.. used.Select(Slot)], divergences, bootstrap)).ToList();
        var summary = cultures.Select(c => Describe(c, stats.Pieces(c))).ToList();
        return new TokenTransferResult(pairs, correlations, summary, stats.Codebooks, bootstrap, seed);
    }

    static TransferCulture Describe(string culture, IReadOnlyList<TokenPiece> pieces) =>
        new(culture, pieces.Count, pieces.Sum(p => p.Files), pieces.Sum(p => p.Frames));

    /// <summary>The cultures the gains name, in ordinal order; every one must have labelled token files.</summary>
    static string[] CulturesOf(TokenStatistics stats, IReadOnlyList<TransferGain> gains)
    {
        var named = gains.SelectMany(g => new[] { g.ModelCulture, g.TaskCulture }).Distinct().Order(StringComparer.Ordinal).ToArray();
        var known = stats.Cultures;
        var unknown = named.Where(c => !known.Contains(c)).ToArray();
        if (unknown.Length > 0)
            throw new InvalidDataException($"the transfer gains name culture(s) {string.Join(", ", unknown.Select(c => $"'{c}'"))} that no labelled " +
                                           $"token file has (the token statistics have {string.Join(", ", known.Select(c => $"'{c}'"))}).");
        return named;
    }

    static TransferPair Pair(TransferGain g, double[] divergences, int slot) =>
        new(g.ModelCulture, g.TaskCulture, g.Gain, divergences[slot * 3], divergences[slot * 3 + 1], divergences[slot * 3 + 2]);

    /// <summary>ρ of one measure on the point estimate (replicate 0) and its percentile interval over the rest.</summary>
    static TransferCorrelation Correlate(TokenDivergence measure, TransferGain[] used, int[] slots, double[][] divergences, int bootstrap)
    {
        double Rho(double[] d, out int n)
        {
            var finite = Enumerable.Range(0, used.Length).Where(i => double.IsFinite(d[slots[i] * 3 + measure.Index])).ToArray();
            n = finite.Length;
            return Spearman([.. finite.Select(i => d[slots[i] * 3 + measure.Index])], [.. finite.Select(i => used[i].Gain)]);
        }
        var rho = Rho(divergences[0], out var pairs);
        var replicates = divergences.Skip(1).Select(d => Rho(d, out _)).Where(double.IsFinite).ToArray();
        var (low, high) = replicates.Length == 0 ? (double.NaN, double.NaN)
            : (Statistics.QuantileCustom(replicates, 0.025, QuantileDefinition.R7), Statistics.QuantileCustom(replicates, 0.975, QuantileDefinition.R7));
        return new TransferCorrelation(measure, rho, low, high, pairs, bootstrap);
    }

    /// <summary>Spearman's ρ: Pearson correlation of the ranks, tied values sharing their average rank; NaN when fewer
    /// than two values or either side is constant.</summary>
    public static double Spearman(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        if (x.Count != y.Count) throw new ArgumentException($"{x.Count} and {y.Count} values.");
        if (x.Count < 2 || x.All(v => v == x[0]) || y.All(v => v == y[0])) return double.NaN;
        return Correlation.Pearson(Statistics.Ranks(x, RankDefinition.Average), Statistics.Ranks(y, RankDefinition.Average));
    }

    /// <summary>
    /// <paramref name="count"/> resamples: per culture, how often each of its pieces is drawn when drawing as many as it
    /// has with replacement. One generator, cultures in order within a resample, so a seed fixes every resample.
    /// </summary>
    internal static List<int[][]> Resamples(int[] pieceCounts, int count, int seed)
    {
        var random = new Random(seed);
        var resamples = new List<int[][]>(count);
        for (var b = 0; b < count; b++)
        {
            var weights = new int[pieceCounts.Length][];
            for (var c = 0; c < pieceCounts.Length; c++)
            {
                weights[c] = new int[pieceCounts[c]];
                for (var i = 0; i < pieceCounts[c]; i++) weights[c][random.Next(pieceCounts[c])]++;
            }
            resamples.Add(weights);
        }
        return resamples;
    }
}

/// <summary>
/// The per-piece counts of the analysed cultures, laid out so that one resample costs one pass over them: per codebook,
/// unigrams and bigrams each map their keys into a dense universe (the K tokens; the token pairs occurring anywhere), a
/// piece is a list of (universe position, count), and a resampled culture histogram is the weighted sum of its pieces'
/// lists in a dense array that is cleared again through the culture's support. A JSD then runs over the two supports
/// only, never over K² cells.
/// </summary>
internal sealed class TransferHistograms
{
    const long ScratchBudgetBytes = 512L << 20;                 // dense arrays of all threads together
    readonly TokenPiece[][] pieces;                             // [culture][piece]
    readonly int codebooks, codebookSize;

    /// <summary>Pieces per culture, in the order of the cultures given.</summary>
    public int[] PieceCounts { get; }

    public TransferHistograms(TokenStatistics stats, IReadOnlyList<string> cultures)
    {
        pieces = [.. cultures.Select(c => stats.Pieces(c).ToArray())];
        (codebooks, codebookSize) = (stats.Codebooks, stats.CodebookSize);
        PieceCounts = [.. pieces.Select(p => p.Length)];
    }

    /// <summary>The weights of the data as they are: every piece once.</summary>
    public int[][] EachPieceOnce() => [.. PieceCounts.Select(n => Enumerable.Repeat(1, n).ToArray())];

    /// <summary>One piece's counts in a universe: positions (ascending) and counts.</summary>
    sealed record Entries(int[] Position, int[] Count, long Total);

    /// <summary>One codebook's unigrams or bigrams: universe size, per culture its support and its pieces.</summary>
    sealed record Layout(int Size, int[][] Support, Entries[][] Pieces);

    /// <summary>
    /// For each weighting (per culture, per piece, how often it counts), the divergences of every ordered pair of
    /// cultures (a, b) — model a, task b — at <c>(a·C + b)·3 + measure index</c>, averaged over codebooks.
    /// </summary>
    public double[][] Divergences(IReadOnlyList<int[][]> weightings)
    {
        var c = pieces.Length;
        var sums = weightings.Select(_ => new double[c * c * 3]).ToArray();
        for (var q = 0; q < codebooks; q++)
        {
            var (unigrams, bigrams) = (Unigrams(q), Bigrams(q));
            var scratchBytes = 8L * c * (unigrams.Size + bigrams.Size);
            var options = new ParallelOptions { MaxDegreeOfParallelism = (int)Math.Clamp(ScratchBudgetBytes / Math.Max(1, scratchBytes), 1, Environment.ProcessorCount) };
            Parallel.For(0, weightings.Count, options,
                () => (Uni: Dense(c, unigrams.Size), Bi: Dense(c, bigrams.Size)),
                (r, _, scratch) => { AddCodebook(unigrams, bigrams, weightings[r], scratch.Uni, scratch.Bi, sums[r]); return scratch; },
                _ => { });
        }
        foreach (var s in sums) for (var i = 0; i < s.Length; i++) s[i] /= codebooks;
        return sums;
    }

    static double[][] Dense(int cultures, int size) => [.. Enumerable.Range(0, cultures).Select(_ => new double[size])];

    /// <summary>Adds one codebook's divergences of every ordered pair under one weighting to <paramref name="sum"/>.</summary>
    void AddCodebook(Layout unigrams, Layout bigrams, int[][] weights, double[][] uni, double[][] bi, double[] sum)
    {
        var c = pieces.Length;
        var (uniTotal, biTotal) = (Fill(unigrams, weights, uni), Fill(bigrams, weights, bi));
        for (var a = 0; a < c; a++)
        {
            var self = (a * c + a) * 3;                                            // a culture against itself: 0, or NaN if empty
            (sum[self], sum[self + 1], sum[self + 2]) = (sum[self] + Zero(uniTotal[a]), sum[self + 1] + Zero(biTotal[a]), sum[self + 2] + Zero(uniTotal[a]));
            for (var b = a + 1; b < c; b++)
            {
                var jsd = Jsd(uni[a], uniTotal[a], unigrams.Support[a], uni[b], uniTotal[b], unigrams.Support[b]);
                var jsdPairs = Jsd(bi[a], biTotal[a], bigrams.Support[a], bi[b], biTotal[b], bigrams.Support[b]);
                var (ab, ba) = ((a * c + b) * 3, (b * c + a) * 3);
                sum[ab] += jsd; sum[ab + 1] += jsdPairs; sum[ab + 2] += SmoothedKl(uni[b], uniTotal[b], uni[a], uniTotal[a]);
                sum[ba] += jsd; sum[ba + 1] += jsdPairs; sum[ba + 2] += SmoothedKl(uni[a], uniTotal[a], uni[b], uniTotal[b]);
            }
        }
        Clear(unigrams, uni);
        Clear(bigrams, bi);
    }

    static double Zero(double total) => total > 0 ? 0 : double.NaN;

    /// <summary>Each culture's weighted histogram into its dense array; returns the totals.</summary>
    static double[] Fill(Layout layout, int[][] weights, double[][] dense)
    {
        var totals = new double[dense.Length];
        for (var c = 0; c < dense.Length; c++)
            for (var p = 0; p < weights[c].Length; p++)
            {
                var w = weights[c][p];
                if (w == 0) continue;
                var (position, count, total) = layout.Pieces[c][p];
                var h = dense[c];
                for (var j = 0; j < position.Length; j++) h[position[j]] += (double)w * count[j];
                totals[c] += (double)w * total;
            }
        return totals;
    }

    static void Clear(Layout layout, double[][] dense)
    {
        for (var c = 0; c < dense.Length; c++)
            foreach (var u in layout.Support[c]) dense[c][u] = 0;
    }

    /// <summary>
    /// JSD in bits of two histograms in one universe, the KL form of <see cref="TokenStatistics.JensenShannon"/>, each
    /// side summed over its own support. A cell only one side has adds ½a·log2(a / ½a) = ½a, no logarithm; the logarithms,
    /// the cost of a bootstrap over K² token pairs, are left to the shared cells. NaN if either histogram is empty.
    /// </summary>
    static double Jsd(double[] p, double pTotal, int[] pSupport, double[] q, double qTotal, int[] qSupport)
    {
        if (pTotal <= 0 || qTotal <= 0) return double.NaN;
        double jsd = 0;
        foreach (var u in pSupport)
        {
            if (p[u] == 0) continue;
            var a = p[u] / pTotal;
            if (q[u] == 0) { jsd += 0.5 * a; continue; }
            var b = q[u] / qTotal;
            var m = 0.5 * (a + b);
            jsd += 0.5 * a * Math.Log2(a / m) + 0.5 * b * Math.Log2(b / m);
        }
        foreach (var u in qSupport)
            if (q[u] != 0 && p[u] == 0) jsd += 0.5 * (q[u] / qTotal);
        return Math.Clamp(jsd, 0.0, 1.0);                                          // rounding can stray by an ulp
    }

    /// <summary>KL(task ‖ model) in bits over all K tokens, both add-½ smoothed: P̃(i) = (n(i) + ½) / (N + K/2). NaN if either is empty.</summary>
    static double SmoothedKl(double[] task, double taskTotal, double[] model, double modelTotal)
    {
        if (taskTotal <= 0 || modelTotal <= 0) return double.NaN;
        var (taskDenominator, modelDenominator) = (taskTotal + 0.5 * task.Length, modelTotal + 0.5 * model.Length);
        double kl = 0;
        for (var i = 0; i < task.Length; i++)
        {
            var b = (task[i] + 0.5) / taskDenominator;
            kl += b * Math.Log2(b / ((model[i] + 0.5) / modelDenominator));
        }
        return Math.Max(kl, 0.0);                                                  // Gibbs: KL ≥ 0 up to rounding
    }

    /// <summary>Unigrams of codebook <paramref name="q"/>: the universe is the K tokens, so a piece's keys are its positions.</summary>
    Layout Unigrams(int q)
    {
        var entries = pieces.Select(ps => ps.Select(p => new Entries(p.Unigrams[q].KeyArray, p.Unigrams[q].CountArray, p.Unigrams[q].Total)).ToArray()).ToArray();
        return new Layout(codebookSize, [.. entries.Select(Support)], entries);
    }

    /// <summary>Bigrams of codebook <paramref name="q"/>: the universe is the sorted set of pairs any piece has.</summary>
    Layout Bigrams(int q)
    {
        var universe = SortedDistinct(pieces.SelectMany(ps => ps).Select(p => p.Bigrams[q].KeyArray));
        var entries = pieces.Select(ps => ps.Select(p =>
        {
            var counts = p.Bigrams[q];
            var position = new int[counts.Length];
            for (var j = 0; j < position.Length; j++) position[j] = Array.BinarySearch(universe, counts.KeyArray[j]);
            return new Entries(position, counts.CountArray, counts.Total);
        }).ToArray()).ToArray();
        return new Layout(universe.Length, [.. entries.Select(Support)], entries);
    }

    static int[] Support(Entries[] ofCulture) => SortedDistinct(ofCulture.Select(e => e.Position));

    static int[] SortedDistinct(IEnumerable<int[]> lists)
    {
        var all = lists.SelectMany(l => l).ToArray();
        Array.Sort(all);
        var n = 0;
        for (var i = 0; i < all.Length; i++) if (i == 0 || all[i] != all[i - 1]) all[n++] = all[i];
        return all[..n];
    }
}
