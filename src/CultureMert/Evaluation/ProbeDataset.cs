using System.Globalization;
using CultureMert.Batch;
using CultureMert.Checkpoints;
using CultureMert.Corpus.Datasets;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Evaluation;

/// <summary>
/// One split of a probing data set. Every chunk is a row of <see cref="X"/> (chunks, layers, hidden), flattened; chunks
/// of one track share a group. Training uses the chunks as examples (MARBLE: each chunk carries its clip's label);
/// validation and test average chunk predictions per group.
/// </summary>
public sealed class ProbeSplit
{
    public required float[] X { get; init; }              // (chunks, layers, hidden), row-major
    public required int[] ChunkGroup { get; init; }       // chunk → group index
    public required string[] GroupIds { get; init; }      // the track (or path) of each group
    public required bool[,] Truth { get; init; }          // (groups, tags)
    public int Chunks => ChunkGroup.Length;
    public int Groups => GroupIds.Length;

    /// <summary>The single label of each group (single-label tasks; -1 when its tag is not in the vocabulary).</summary>
    public int[] Classes()
    {
        var (g, k) = (Truth.GetLength(0), Truth.GetLength(1));
        var result = new int[g];
        for (var i = 0; i < g; i++)
        {
            result[i] = -1;
            for (var t = 0; t < k; t++) if (Truth[i, t]) { result[i] = t; break; }
        }
        return result;
    }
}

/// <summary>
/// A probing data set: a manifest (<c>path</c>, <c>split</c> train/valid/test, <c>labels</c> ';'-separated, optional
/// <c>track</c> and <c>culture</c>) joined to the outputs of <c>culturemert embed</c>. Manifest paths are resolved against
/// the manifest's folder and matched to outputs through the embeddings folder's <c>index.csv</c> (status ok or skipped),
/// falling back to the <c>source</c> metadata of every <c>*.safetensors</c> under the folder. A row without an output is
/// an error naming the rows, unless <c>skipMissing</c>: then it is left out and listed in <see cref="Missing"/>.
/// </summary>
public sealed class ProbeDataset
{
    public required TaskType Task { get; init; }
    public required string[] Tags { get; init; }            // vocabulary: the train split's tags (retrieval: every split's), ordinal order
    public required int[] LayerIds { get; init; }           // from the outputs' `layers` metadata, else 0..L-1
    public required int Hidden { get; init; }
    public required ProbeSplit Train { get; init; }
    public required ProbeSplit Valid { get; init; }
    public required ProbeSplit Test { get; init; }
    public required string[] DroppedTags { get; init; }     // tags seen only in valid/test, dropped from the truth
    public required string[] Missing { get; init; }         // "manifest:line: path" of rows skipped for lack of an output
    public required string[] Cultures { get; init; }        // per test group, "" when the manifest has no culture column
    public int Layers => LayerIds.Length;

    /// <summary>Loads and joins; <paramref name="task"/> null = auto (every row has exactly one label → single-label).</summary>
    public static ProbeDataset Load(string manifest, string embeddings, TaskType? task = null, bool skipMissing = false)
    {
        var parsed = TaskManifest.Read(manifest);
        if (!Directory.Exists(embeddings)) throw new DirectoryNotFoundException($"{embeddings}: embeddings folder not found (the --out of culturemert embed).");
        var outputs = OutputsBySource(embeddings);
        var entries = new List<(string Split, string Group, string[] Labels, string Culture, string Output)>();
        var missing = new List<string>();
        foreach (var r in parsed.Rows)
        {
            var full = parsed.FullPath(r);
            if (!outputs.TryGetValue(full, out var output)) { missing.Add($"{parsed.Where(r)}: {r.Path}"); continue; }
            entries.Add((r.Split, r.Track ?? full, r.Labels, r.Culture ?? "", output));
        }
        if (missing.Count > 0 && !skipMissing)
            throw new InvalidDataException($"{missing.Count} manifest row(s) have no embeddings in {embeddings} (not in its index.csv with status ok/skipped, " +
                                           $"nor the source of any .safetensors there): {string.Join("; ", missing.Take(10))}{(missing.Count > 10 ? "; …" : "")}. " +
                                           "Run culturemert embed on them, fix the paths, or pass --skip-missing.");
        var resolved = task ?? parsed.Type ?? (entries.All(e => e.Labels.Length == 1) ? TaskType.SingleLabel : TaskType.MultiLabel);
        // retrieval trains nothing: it ranks within valid (to choose the layer) and within test
        var retrieval = resolved == TaskType.Retrieval;
        foreach (var s in retrieval ? ["valid", "test"] : TaskManifest.Splits)
            if (!entries.Any(e => e.Split == s))
                throw new InvalidDataException($"{manifest}: no '{s}' rows with embeddings; {(retrieval ? "retrieval needs valid and test" : "probing needs train, valid and test")}.");
        if (retrieval && new[] { "valid", "test" }.FirstOrDefault(s => entries.Where(e => e.Split == s).Select(e => e.Group).Distinct().Count() < 2) is { } few)
            throw new InvalidDataException($"{manifest}: the '{few}' split has one track; retrieval ranks a split's tracks against each other and needs at least two.");

        if (resolved == TaskType.SingleLabel && entries.FindIndex(e => e.Labels.Length != 1) is var bad and >= 0)
            throw new InvalidDataException($"{manifest}: single-label task but '{entries[bad].Group}' has {entries[bad].Labels.Length} labels (use --task multilabel).");
        var tags = entries.Where(e => retrieval || e.Split == "train").SelectMany(e => e.Labels).Distinct().Order(StringComparer.Ordinal).ToArray();
        if (tags.Length == 0) throw new InvalidDataException($"{manifest}: {(retrieval ? "no row has" : "the train split has no")} labels.");
        var tagIndex = tags.Select((t, i) => (t, i)).ToDictionary(x => x.t, x => x.i);
        var dropped = entries.SelectMany(e => e.Labels).Where(l => !tagIndex.ContainsKey(l)).Distinct().Order(StringComparer.Ordinal).ToArray();

        int[]? layerIds = null;
        var hidden = 0;
        ProbeSplit Build(string split, List<string>? cultures)
        {
            var mine = entries.Where(e => e.Split == split).ToList();
            var groupIds = mine.Select(e => e.Group).Distinct().ToList();
            var groupOf = groupIds.Select((g, i) => (g, i)).ToDictionary(x => x.g, x => x.i);
            var truth = new bool[groupIds.Count, tags.Length];
            var x = new List<float>();
            var chunkGroup = new List<int>();
            foreach (var e in mine)
            {
                var g = groupOf[e.Group];
                foreach (var label in e.Labels) if (tagIndex.TryGetValue(label, out var t)) truth[g, t] = true;
                using var reader = new SafeTensorsReader(e.Output);
                if (!reader.Contains("chunk_embeddings"))
                    throw new InvalidDataException($"{e.Output}: no chunk_embeddings tensor (embed with --pool mean).");
                using var stored = reader.Read("chunk_embeddings");                      // held: not a temporary the finaliser could free mid-call
                using var ce = stored.to(ScalarType.Float32);                            // (C, L, H)
                if (ce.dim() != 3) throw new InvalidDataException($"{e.Output}: chunk_embeddings has {ce.dim()} dims, expected [chunks, layers, hidden].");
                var (c, l, h) = ((int)ce.shape[0], (int)ce.shape[1], (int)ce.shape[2]);
                var ids = ParseLayers(reader.Metadata.GetValueOrDefault("layers"), l);
                if (layerIds is null) (layerIds, hidden) = (ids, h);
                else if (!layerIds.SequenceEqual(ids) || hidden != h)
                    throw new InvalidDataException($"{e.Output}: layers [{string.Join(",", ids)}] × hidden {h}, but earlier outputs have [{string.Join(",", layerIds)}] × {hidden}; embed every file with the same model and --layers.");
                x.AddRange(ce.data<float>());
                for (var j = 0; j < c; j++) chunkGroup.Add(g);
            }
            if (cultures is not null)
                foreach (var gid in groupIds) cultures.Add(mine.First(e => e.Group == gid).Culture);
            return new ProbeSplit { X = [.. x], ChunkGroup = [.. chunkGroup], GroupIds = [.. groupIds], Truth = truth };
        }
        var cultureList = new List<string>();
        var train = Build("train", null);
        var valid = Build("valid", null);
        var test = Build("test", cultureList);
        return new ProbeDataset
        {
            Task = resolved, Tags = tags, LayerIds = layerIds!, Hidden = hidden, Train = train, Valid = valid, Test = test,
            DroppedTags = dropped, Missing = [.. missing], Cultures = [.. cultureList],
        };
    }

    static int[] ParseLayers(string? meta, int count)
    {
        if (meta is not null)
        {
            var parts = meta.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (parts.Length == count && parts.All(p => int.TryParse(p, NumberStyles.Integer, CultureInfo.InvariantCulture, out _)))
                return [.. parts.Select(p => int.Parse(p, CultureInfo.InvariantCulture))];
        }
        return [.. Enumerable.Range(0, count)];
    }

    /// <summary>Absolute audio path → absolute output path: index.csv first, then the <c>source</c> metadata of outputs it does not list.</summary>
    static Dictionary<string, string> OutputsBySource(string embeddings)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        var root = Path.GetFullPath(embeddings);
        foreach (var row in Manifest.ReadIndex(Path.Combine(root, "index.csv")))
            if (row.Status is "ok" or "skipped")
            {
                var output = Path.GetFullPath(Path.Combine(root, row.Output));
                if (File.Exists(output)) map[Path.GetFullPath(row.Path)] = output;
            }
        var listed = new HashSet<string>(map.Values, StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(root, "*.safetensors", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            if (listed.Contains(file)) continue;
            Dictionary<string, string> meta;
            try { meta = SafeTensors.ReadHeader(file).Metadata; }
            catch (InvalidDataException) { continue; }                      // not a safetensors output: not ours
            if (meta.GetValueOrDefault("source") is { Length: > 0 } source) map.TryAdd(Path.GetFullPath(source), file);
        }
        return map;
    }
}
