using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CultureMert.Corpus;

namespace CultureMert.Pretraining;

/// <summary>Where a data source's audio comes from: a manifest CSV (<c>path</c> column, optional <c>duration_s</c>) or
/// clips synthesised by <see cref="DemoAudio"/> (seeded; for recipes that must run anywhere).</summary>
public sealed record DataSource(string Name, string? Manifest, SynthesisSpec? Synthesize);

/// <param name="Piece">a <see cref="DemoAudio.Pieces"/> name</param>
public sealed record SynthesisSpec(string Piece, int Clips, double Seconds, int Seed);

/// <summary>Where the pre-training targets come from.</summary>
/// <param name="Cache">a <c>culturemert tokenize</c> output folder (index.csv + one .safetensors per file with
/// <c>codes</c> and <c>cqt</c>)</param>
/// <param name="Teacher">computed on the fly per crop: <c>encodec:DIR</c>, <c>kmeans:FILE</c>, or <c>kmeans-fit</c> (a
/// k-means teacher fitted on the run's own data at its start, MERT's first-version targets)</param>
/// <param name="KMeansK">codebook size for <c>kmeans-fit</c></param>
/// <param name="BandwidthKbps">EnCodec bandwidth (6 = MERT's 8 codebooks)</param>
public sealed record TargetSpec(string? Cache, string? Teacher, int KMeansK, double BandwidthKbps);

/// <summary>One stage of continual pre-training.</summary>
/// <param name="Mix">source name → weight (normalised to sum 1): the expected share of crops from each source</param>
/// <param name="Trainable">glob patterns over parameter names (HF encoder names and the heads' fairseq names
/// <c>final_proj.*</c>, <c>label_embs_concat</c>, <c>encoder_cqt_model.*</c>); <c>*</c> matches any run of characters</param>
public sealed record StageRecipe(string Name, int Steps, int WarmupSteps, double PeakLr, double FloorLr, string Decay,
    IReadOnlyDictionary<string, double> Mix, IReadOnlyList<string> Trainable,
    double Beta1, double Beta2, double Eps, double WeightDecay, double GradClip)
{
    public StageSchedule Schedule => new(Steps, WarmupSteps, PeakLr, FloorLr, Decay);
}

/// <summary>
/// A continual-pre-training recipe (<c>culturemert pretrain --recipe FILE</c>): base model, targets, crops, batch, seed
/// and a list of stages. JSON keys are snake_case; unknown keys are errors (a misspelt setting never passes silently);
/// relative paths are relative to the recipe file.
/// </summary>
public sealed record Recipe
{
    /// <summary>HF model folder, or <c>init:PRESET</c> (a freshly initialised model: tiny, mert-95m, mert-330m).</summary>
    public required string Base { get; init; }
    public int InitSeed { get; init; }
    public string? BaseHeads { get; init; }
    public required TargetSpec Targets { get; init; }
    public required IReadOnlyDictionary<string, DataSource> Sources { get; init; }
    public required IReadOnlyList<StageRecipe> Stages { get; init; }
    public double CropSeconds { get; init; } = 5;
    public bool PadShort { get; init; }
    public int BatchSize { get; init; } = 8;
    public int GradAccumulation { get; init; } = 1;
    public int Seed { get; init; } = 1337;
    public int CheckpointEvery { get; init; } = 1000;
    public int KeepCheckpoints { get; init; } = 2;
    public double MaskProb { get; init; } = 0.8;
    public int MaskLength { get; init; } = 5;
    /// <summary>Probability that an example gets in-batch noise (MERT: 0.5); 0 turns the mixture off.</summary>
    public double NoiseProbability { get; init; } = 0.5;
    public double NoiseMinSeconds { get; init; } = 0.5;
    public double NoiseMaxSeconds { get; init; } = 1.0;
    public int NoiseMaxSegments { get; init; } = 3;
    /// <summary>The recipe file's text hash: a checkpoint resumes only under the recipe that wrote it.</summary>
    public string Hash { get; init; } = "";
    public string SourceFile { get; init; } = "";

    public int TotalSteps => Stages.Sum(s => s.Steps);
    public IReadOnlyList<StageSchedule> Schedules => Stages.Select(s => s.Schedule).ToList();

    /// <summary>Reads and validates a recipe; every error names the file and the key.</summary>
    public static Recipe Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: recipe not found.");
        var text = File.ReadAllText(path);
        JsonObject root;
        try { root = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }) as JsonObject
                     ?? throw new InvalidDataException($"{path}: a recipe is a JSON object."); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON: {e.Message}"); }
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var r = new Reader(path, dir);
        var recipe = r.Recipe(root);
        return recipe with { Hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16].ToLowerInvariant(), SourceFile = Path.GetFullPath(path) };
    }

    /// <summary>Strict JSON reading with errors of the form <c>FILE: stages[1].peak_lr: must be &gt; 0</c>.</summary>
    private sealed class Reader(string file, string dir)
    {
        private InvalidDataException Error(string key, string why) => new($"{file}: {key}: {why}.");

        private void OnlyKeys(JsonObject o, string where, params string[] keys)
        {
            foreach (var (k, _) in o)
                if (!keys.Contains(k))
                    throw Error(where.Length == 0 ? k : $"{where}.{k}", $"unknown setting (known here: {string.Join(", ", keys)})");
        }

        private T Get<T>(JsonObject o, string where, string key, T fallback, bool required = false)
        {
            var name = where.Length == 0 ? key : $"{where}.{key}";
            if (!o.TryGetPropertyValue(key, out var node) || node is null)
                return required ? throw Error(name, "missing") : fallback;
            try { return node.GetValue<T>(); }
            catch (Exception e) when (e is InvalidOperationException or FormatException)
            { throw Error(name, $"expected {(typeof(T) == typeof(string) ? "a string" : typeof(T) == typeof(bool) ? "true or false" : "a number")}, got {node.ToJsonString()}"); }
        }

        private string PathOf(string p) => Path.GetFullPath(Path.Combine(dir, p));

        public Recipe Recipe(JsonObject o)
        {
            OnlyKeys(o, "", "base", "init_seed", "base_heads", "targets", "sources", "stages", "crop_seconds", "pad_short", "batch_size",
                     "grad_accumulation", "seed", "checkpoint_every", "keep_checkpoints", "mask_prob", "mask_length", "noise_probability",
                     "noise_min_seconds", "noise_max_seconds", "noise_max_segments", "description");
            var baseSpec = Get<string>(o, "", "base", "", required: true);
            if (!baseSpec.StartsWith("init:")) baseSpec = PathOf(baseSpec);
            var heads = Get<string?>(o, "", "base_heads", null);
            var sources = Sources(o["sources"] as JsonObject ?? throw Error("sources", "missing (an object: name → {manifest} or {synthesize})"));
            var stagesNode = o["stages"] as JsonArray ?? throw Error("stages", "missing (a list of stages)");
            if (stagesNode.Count == 0) throw Error("stages", "at least one stage is required");
            var stages = stagesNode.Select((s, i) => Stage(s as JsonObject ?? throw Error($"stages[{i}]", "expected an object"), i, sources)).ToList();
            foreach (var dup in stages.GroupBy(s => s.Name).Where(g => g.Count() > 1)) throw Error("stages", $"two stages are named '{dup.Key}'");

            var recipe = new Recipe
            {
                Base = baseSpec,
                InitSeed = Get(o, "", "init_seed", 0),
                BaseHeads = heads is null ? null : PathOf(heads),
                Targets = Targets(o["targets"] as JsonObject ?? throw Error("targets", "missing ({\"cache\": DIR} or {\"teacher\": SPEC})")),
                Sources = sources,
                Stages = stages,
                CropSeconds = Get(o, "", "crop_seconds", 5.0),
                PadShort = Get(o, "", "pad_short", false),
                BatchSize = Get(o, "", "batch_size", 8),
                GradAccumulation = Get(o, "", "grad_accumulation", 1),
                Seed = Get(o, "", "seed", 1337),
                CheckpointEvery = Get(o, "", "checkpoint_every", 1000),
                KeepCheckpoints = Get(o, "", "keep_checkpoints", 2),
                MaskProb = Get(o, "", "mask_prob", 0.8),
                MaskLength = Get(o, "", "mask_length", 5),
                NoiseProbability = Get(o, "", "noise_probability", 0.5),
                NoiseMinSeconds = Get(o, "", "noise_min_seconds", 0.5),
                NoiseMaxSeconds = Get(o, "", "noise_max_seconds", 1.0),
                NoiseMaxSegments = Get(o, "", "noise_max_segments", 3),
            };
            string? why =
                !(recipe.CropSeconds > 0.05) ? "crop_seconds must be > 0.05" :
                recipe.BatchSize < 1 ? "batch_size must be ≥ 1" :
                recipe.GradAccumulation < 1 ? "grad_accumulation must be ≥ 1" :
                recipe.CheckpointEvery < 1 ? "checkpoint_every must be ≥ 1" :
                recipe.KeepCheckpoints < 1 ? "keep_checkpoints must be ≥ 1" :
                recipe.MaskProb is <= 0 or > 1 ? "mask_prob must be in (0, 1]" :
                recipe.MaskLength < 1 ? "mask_length must be ≥ 1" :
                recipe.NoiseProbability is < 0 or > 1 ? "noise_probability must be in [0, 1]" :
                !(recipe.NoiseMinSeconds > 0) || recipe.NoiseMaxSeconds < recipe.NoiseMinSeconds ? "need 0 < noise_min_seconds ≤ noise_max_seconds" :
                recipe.NoiseMaxSegments < 1 ? "noise_max_segments must be ≥ 1" : null;
            if (why is not null) throw new InvalidDataException($"{file}: {why}.");
            return recipe;
        }

        private Dictionary<string, DataSource> Sources(JsonObject o)
        {
            var result = new Dictionary<string, DataSource>();
            foreach (var (name, node) in o)
            {
                var where = $"sources.{name}";
                if (node is not JsonObject s) throw Error(where, "expected an object");
                OnlyKeys(s, where, "manifest", "synthesize");
                var manifest = Get<string?>(s, where, "manifest", null);
                SynthesisSpec? synth = null;
                if (s["synthesize"] is JsonObject y)
                {
                    OnlyKeys(y, where + ".synthesize", "piece", "clips", "seconds", "seed");
                    synth = new SynthesisSpec(Get(y, where + ".synthesize", "piece", "", required: true), Get(y, where + ".synthesize", "clips", 16),
                                              Get(y, where + ".synthesize", "seconds", 8.0), Get(y, where + ".synthesize", "seed", 0));
                    if (!DemoAudio.Pieces.Any(p => p.Name == synth.Piece))
                        throw Error(where + ".synthesize.piece", $"unknown piece '{synth.Piece}' (known: {string.Join(", ", DemoAudio.Pieces.Select(p => p.Name))})");
                    if (synth.Clips < 1 || !(synth.Seconds > 0)) throw Error(where + ".synthesize", "clips ≥ 1 and seconds > 0 required");
                }
                if ((manifest is null) == (synth is null)) throw Error(where, "give exactly one of manifest or synthesize");
                result[name] = new DataSource(name, manifest is null ? null : PathOf(manifest), synth);
            }
            if (result.Count == 0) throw Error("sources", "at least one source is required");
            return result;
        }

        private TargetSpec Targets(JsonObject o)
        {
            OnlyKeys(o, "targets", "cache", "teacher", "k", "bandwidth_kbps");
            var cache = Get<string?>(o, "targets", "cache", null);
            var teacher = Get<string?>(o, "targets", "teacher", null);
            if ((cache is null) == (teacher is null)) throw Error("targets", "give exactly one of cache (a tokenize output folder) or teacher (computed on the fly)");
            if (teacher is not null && !(teacher == "kmeans-fit" || teacher.StartsWith("encodec:") || teacher.StartsWith("kmeans:")))
                throw Error("targets.teacher", $"expected encodec:DIR, kmeans:FILE or kmeans-fit, got '{teacher}'");
            if (teacher is not null && teacher != "kmeans-fit")
            {
                var colon = teacher.IndexOf(':');
                teacher = teacher[..(colon + 1)] + PathOf(teacher[(colon + 1)..]);
            }
            var k = Get(o, "targets", "k", 64);
            if (k < 2) throw Error("targets.k", "must be ≥ 2");
            return new TargetSpec(cache is null ? null : PathOf(cache), teacher, k, Get(o, "targets", "bandwidth_kbps", 6.0));
        }

        private StageRecipe Stage(JsonObject o, int i, Dictionary<string, DataSource> sources)
        {
            var w = $"stages[{i}]";
            OnlyKeys(o, w, "name", "steps", "warmup_steps", "peak_lr", "floor_lr", "decay", "mix", "trainable", "betas", "eps", "weight_decay", "grad_clip", "description");
            var mixNode = o["mix"] as JsonObject ?? throw Error(w + ".mix", "missing (source name → weight)");
            var mix = new Dictionary<string, double>();
            foreach (var (name, v) in mixNode)
            {
                if (!sources.ContainsKey(name)) throw Error($"{w}.mix.{name}", $"no such source (sources: {string.Join(", ", sources.Keys)})");
                var weight = Get(mixNode, w + ".mix", name, 0.0, required: true);
                if (!(weight > 0) || !double.IsFinite(weight)) throw Error($"{w}.mix.{name}", "weight must be > 0");
                mix[name] = weight;
            }
            if (mix.Count == 0) throw Error(w + ".mix", "at least one source is required");
            var sum = mix.Values.Sum();
            foreach (var k in mix.Keys.ToList()) mix[k] /= sum;
            var trainable = o["trainable"] is JsonArray t
                ? t.Select((x, j) => x?.GetValueKind() == JsonValueKind.String ? x.GetValue<string>() : throw Error($"{w}.trainable[{j}]", "expected a string")).ToList()
                : ["*"];
            if (trainable.Count == 0) throw Error(w + ".trainable", "no parameter would train");
            var betas = o["betas"] is JsonArray b
                ? (b.Count == 2 ? (b[0]!.GetValue<double>(), b[1]!.GetValue<double>()) : throw Error(w + ".betas", "expected [beta1, beta2]"))
                : (0.9, 0.98);
            var stage = new StageRecipe(
                Get(o, w, "name", $"stage{i + 1}"), Get(o, w, "steps", 0, required: true), Get(o, w, "warmup_steps", 0),
                Get(o, w, "peak_lr", 0.0, required: true), Get(o, w, "floor_lr", 0.0), Get(o, w, "decay", "linear"),
                mix, trainable, betas.Item1, betas.Item2, Get(o, w, "eps", 1e-6), Get(o, w, "weight_decay", 0.01), Get(o, w, "grad_clip", 10.0));
            if (stage.Name.Length == 0 || stage.Name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || stage.Name.StartsWith('.'))
                throw Error(w + ".name", $"'{stage.Name}' cannot be a folder name");
            try { LearningRateSchedule.Validate([stage.Schedule]); }
            catch (ArgumentException e) { throw Error(w, e.Message.Replace("stage 0: ", "").Split(" (Parameter")[0].TrimEnd('.')); }
            if (!(stage.GradClip > 0)) throw Error(w + ".grad_clip", "must be > 0");
            if (!(stage.Beta1 is >= 0 and < 1) || !(stage.Beta2 is >= 0 and < 1)) throw Error(w + ".betas", "each must be in [0, 1)");
            if (!(stage.Eps > 0) || !(stage.WeightDecay >= 0)) throw Error(w, "eps must be > 0 and weight_decay ≥ 0");
            return stage;
        }
    }

    /// <summary>Glob over parameter names: <c>*</c> matches any run of characters (dots included), everything else literally.</summary>
    public static bool GlobMatch(string pattern, string name)
    {
        var rx = "^" + string.Join(".*", pattern.Split('*').Select(System.Text.RegularExpressions.Regex.Escape)) + "$";
        return System.Text.RegularExpressions.Regex.IsMatch(name, rx, System.Text.RegularExpressions.RegexOptions.CultureInvariant);
    }
}
