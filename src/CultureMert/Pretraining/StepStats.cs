using CultureMert.Distributed;
using static TorchSharp.torch;

namespace CultureMert.Pretraining;

/// <summary>
/// The figures of one optimiser step that log.csv records: each a mean over the step's micro-batches (a sum for
/// <see cref="MaskedFrames"/> and <see cref="Drawn"/>). Filled micro-batch by micro-batch (<see cref="Add"/>), summed
/// over the ranks of a data-parallel run (<see cref="SumOver"/>), then given the step's <see cref="GradNorm"/>.
/// </summary>
public sealed record StepStats
{
    public double Loss { get; private set; }                // Σ CE + 10·features_pen + cqt_mse, as trained
    public double FeaturesPen { get; private set; }
    public double CqtMse { get; private set; }
    public double MaskedFrames { get; private set; }        // a count; a double so that it sums with the rest
    public double[] Ce { get; private init; }               // (codebooks) cross-entropy on the masked frames
    public double[] Acc { get; private init; }              // (codebooks) masked accuracy
    public double[] Chance { get; private init; }           // (codebooks) share of the most frequent target: a constant predictor's accuracy
    /// <summary>Seconds of audio this rank's micro-batches drew per source (data parallel only: one process adds them
    /// straight into the run's totals, see <see cref="Pretrainer"/>).</summary>
    public Dictionary<string, double> Drawn { get; private init; } = [];
    public double GradNorm { get; set; }                    // before clipping
    /// <summary>Where this rank's step went (not summed over ranks).</summary>
    public StepTimes Times { get; } = new();

    public StepStats(int codebooks) => (Ce, Acc, Chance) = (new double[codebooks], new double[codebooks], new double[codebooks]);

    public int Codebooks => Ce.Length;

    /// <summary>Adds one of the step's <paramref name="accum"/> micro-batches.</summary>
    /// <param name="maskedTargets">(S, n_q) the targets of the S masked frames</param>
    public void Add(ObjectiveTerms terms, Tensor maskedTargets, int accum)
    {
        Loss += terms.Total.item<float>() / accum;              // float ÷ int in float, as log.csv has always summed
        FeaturesPen += terms.FeaturePenalty.item<float>() / accum;
        CqtMse += terms.CqtMse.item<float>() / accum;
        var per = terms.PerCodebook.cpu().data<float>().ToArray();
        var acc = terms.Accuracy.cpu().data<float>().ToArray();
        MaskedFrames += maskedTargets.size(0);
        for (var i = 0; i < Codebooks; i++)
        {
            Ce[i] += per[i] / accum;
            Acc[i] += acc[i] / accum;
            Chance[i] += bincount(maskedTargets[.., i]).max().item<long>() / (double)maskedTargets.size(0) / accum;
        }
    }

    /// <summary>The step's figures over all ranks: every rank's share (including <see cref="Drawn"/> of <paramref name="sources"/>) summed.</summary>
    public StepStats SumOver(ICommunicator world, IReadOnlyList<string> sources)
    {
        var packed = new List<double>();
        MapSummed(v => { packed.Add(v); return v; }, sources);
        var sums = packed.ToArray();
        world.AllReduceSum(sums);
        var next = 0;
        return MapSummed(_ => sums[next++], sources);
    }

    /// <summary>
    /// Every figure that ranks sum, passed through <paramref name="f"/> in one fixed order: packing into the all-reduce
    /// buffer and unpacking from it both walk this one list, so a field added here cannot misalign the two.
    /// </summary>
    StepStats MapSummed(Func<double, double> f, IReadOnlyList<string> sources) => this with
    {
        Loss = f(Loss), FeaturesPen = f(FeaturesPen), CqtMse = f(CqtMse), MaskedFrames = f(MaskedFrames),
        Ce = Ce.Select(f).ToArray(), Acc = Acc.Select(f).ToArray(), Chance = Chance.Select(f).ToArray(),
        Drawn = sources.ToDictionary(s => s, s => f(Drawn.GetValueOrDefault(s))),
    };
}

/// <summary>
/// Milliseconds of one step by phase, on this rank: data (crops, teacher targets, noise, mask), forward (model and
/// loss), backward, all-reduce (figures and gradients over the ranks), clip, optimiser (AdamW and zeroing the gradients).
/// Host time: on a GPU, work still queued when a phase ends is counted in a later one.
/// </summary>
public sealed class StepTimes
{
    public double Data { get; private set; }
    public double Forward { get; private set; }
    public double Backward { get; private set; }
    public double AllReduce { get; private set; }
    public double Clip { get; private set; }
    public double Optimizer { get; private set; }

    public enum Phase { Data, Forward, Backward, AllReduce, Clip, Optimizer }

    /// <summary>Runs <paramref name="work"/> and adds its wall time to <paramref name="phase"/>.</summary>
    public T Time<T>(Phase phase, Func<T> work)
    {
        var start = System.Diagnostics.Stopwatch.GetTimestamp();
        var result = work();
        var ms = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        _ = phase switch
        {
            Phase.Data => Data += ms, Phase.Forward => Forward += ms, Phase.Backward => Backward += ms,
            Phase.AllReduce => AllReduce += ms, Phase.Clip => Clip += ms, _ => Optimizer += ms,
        };
        return result;
    }

    public void Time(Phase phase, Action work) => Time(phase, () => { work(); return 0; });
}
