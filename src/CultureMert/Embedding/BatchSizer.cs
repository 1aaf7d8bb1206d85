using System.Text.Json.Nodes;
using CultureMert.IO;

namespace CultureMert.Embedding;

/// <summary>
/// Embed's batch size when the user gave none: the first batches of the job itself run at 1, 2 and 4 chunks in turn
/// (after one warm-up batch), twice each, and the size with the shortest time per chunk is kept for the rest of the
/// job, and for later jobs through the tuning cache. A larger batch is kept only when it is at least 3 % faster per
/// chunk than batch 1, so a machine where batching does not pay (an AMD EPYC Zen 4 embedded slower at 4 than at 1)
/// runs at 1. Nothing is computed twice: the trial batches are the job's own chunks, and results do not depend on
/// the batch size (chunks of equal length, no padding). A job too short to finish the trial leaves it in the cache
/// and the next job goes on with it (each process still spends its first batch warming up).
/// </summary>
public sealed class BatchSizer
{
    /// <summary>The sizes tried, in this order, each <see cref="Rounds"/> times.</summary>
    public static readonly int[] Trials = [1, 2, 4];
    const int Rounds = 2;
    const double MinGain = 0.03;

    readonly TuningCache? cache;
    readonly string machine, key;
    readonly Dictionary<int, double> bestPerChunk = [];
    int warmUps = 1, step;

    /// <param name="size">the user's batch size, or null to choose one</param>
    /// <param name="key">what the speed depends on besides the machine: model shape, chunk length, precision, device</param>
    public BatchSizer(int? size, TuningCache? cache, string machine, string key)
    {
        (this.cache, this.machine, this.key) = (cache, machine, key);
        if (size is { } s) { Chosen = s; return; }
        var entry = cache?.Get(machine, key);
        if (entry?["batch_size"] is JsonValue v && v.TryGetValue<int>(out var cached) && Trials.Contains(cached)) { Chosen = cached; return; }
        // A trial an earlier job left unfinished (a job of a few chunks) goes on from where it stopped.
        if (entry?["step"] is JsonValue st && st.TryGetValue<int>(out var done) && entry["ms_per_chunk"] is JsonObject times)
        {
            foreach (var (name, t) in times)
                if (int.TryParse(name, out var n) && Trials.Contains(n) && t is JsonValue tv && tv.TryGetValue<double>(out var ms)) bestPerChunk[n] = ms / 1e3;
            if (Trials.All(n => bestPerChunk.ContainsKey(n) || Array.IndexOf(Trials, n) >= done)) step = Math.Clamp(done, 0, Rounds * Trials.Length - 1);
            else bestPerChunk.Clear();
        }
    }

    /// <summary>The size decided (given, cached or measured), or null while the trial runs.</summary>
    public int? Chosen { get; private set; }

    /// <summary>The most chunks a batch will hold.</summary>
    public int Largest => Chosen ?? Trials.Max();

    /// <summary>Chunks to put in the next batch.</summary>
    public int Next => Chosen ?? (warmUps > 0 ? Trials[0] : Trials[step % Trials.Length]);

    /// <summary>Reports a batch of <paramref name="chunks"/> full chunks that took <paramref name="seconds"/>.</summary>
    public void Record(int chunks, double seconds)
    {
        if (Chosen is not null || chunks != Next) return;              // a file's last, partial batch says nothing
        if (warmUps > 0) { warmUps--; return; }                       // first call: kernel set-up, convolution autotuning
        bestPerChunk[chunks] = Math.Min(bestPerChunk.GetValueOrDefault(chunks, double.PositiveInfinity), seconds / chunks);
        var times = new JsonObject(bestPerChunk.OrderBy(p => p.Key)
            .Select(p => KeyValuePair.Create(p.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), (JsonNode?)Math.Round(p.Value * 1e3, 3))));
        if (++step < Rounds * Trials.Length)
        {
            cache?.Set(machine, key, new JsonObject { ["step"] = step, ["ms_per_chunk"] = times });
            return;
        }
        var best = Trials[0];
        foreach (var size in Trials.Skip(1))
            if (bestPerChunk[size] < bestPerChunk[best] && bestPerChunk[size] < (1 - MinGain) * bestPerChunk[Trials[0]]) best = size;
        Chosen = best;
        cache?.Set(machine, key, new JsonObject { ["batch_size"] = best, ["ms_per_chunk"] = times });
    }
}
