using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CultureMert.Corpus;
using CultureMert.IO;
using CultureMert.Model;

namespace CultureMert.Pretraining;

/// <summary>Where a data source's audio comes from: a manifest CSV (<c>path</c> column, optional <c>duration_s</c>) or
/// clips synthesised by <see cref="DemoAudio"/> (seeded; for recipes that must run anywhere).</summary>
public sealed record DataSource(string Name, string? Manifest, SynthesisSpec? Synthesize);

/// <param name="Piece">a <see cref="DemoAudio.Pieces"/> name</param>
public sealed record SynthesisSpec(string Piece, int Clips = 16, double Seconds = 8, int Seed = 0);

/// <summary>Where the pre-training targets come from.</summary>
/// <param name="Cache">a <c>culturemert tokenize</c> output folder (index.csv + one .safetensors per file with
/// <c>codes</c> and <c>cqt</c>)</param>
/// <param name="Teacher">computed on the fly per crop: <c>encodec:DIR</c>, <c>kmeans:FILE</c>, or <c>kmeans-fit</c> (a
/// k-means teacher fitted on the run's own data at its start, MERT's first-version targets)</param>
/// <param name="KMeansK">codebook size for <c>kmeans-fit</c></param>
/// <param name="BandwidthKbps">EnCodec bandwidth (6 = MERT's 8 codebooks)</param>
public sealed record TargetSpec(string? Cache, string? Teacher, int KMeansK = 64, double BandwidthKbps = 6);

/// <summary>One stage of continual pre-training; the defaults are MERT-v1's fairseq AdamW settings.</summary>
public sealed record StageRecipe
{
    /// <summary>The stage's folder name under <c>stages/</c>.</summary>
    public required string Name { get; init; }
    public string? Description { get; init; }
    public required int Steps { get; init; }
    public int WarmupSteps { get; init; }
    public required double PeakLr { get; init; }
    public double FloorLr { get; init; }
    public LrDecay Decay { get; init; } = LrDecay.Linear;
    /// <summary>Source name → weight: the expected share of crops from each source (<see cref="Recipe.Load"/>
    /// normalises the weights to sum 1).</summary>
    public required IReadOnlyDictionary<string, double> Mix { get; init; }
    /// <summary>Glob patterns over parameter names (HF encoder names and the heads' fairseq names <c>final_proj.*</c>,
    /// <c>label_embs_concat</c>, <c>encoder_cqt_model.*</c>); <c>*</c> matches any run of characters.</summary>
    public IReadOnlyList<string> Trainable { get; init; } = ["*"];
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.98;
    public double Eps { get; init; } = 1e-6;
    public double WeightDecay { get; init; } = 0.01;
    public double GradClip { get; init; } = 10;

    public StageSchedule Schedule => new(Steps, WarmupSteps, PeakLr, FloorLr, Decay);
}

/// <summary>
/// A continual-pre-training recipe (<c>culturemert pretrain --recipe FILE</c>): base model, targets, crops, batch, seed
/// and a list of stages. JSON keys are snake_case; unknown keys are errors (a misspelt setting never passes silently);
/// relative paths are relative to the recipe file. <see cref="Load"/> reads a recipe file, <see cref="Save"/> writes one.
/// </summary>
public sealed record Recipe
{
    public string? Description { get; init; }
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
    /// <summary>fp32, or bf16 mixed precision (<see cref="MixedPrecision"/>: fp32 master weights, products in bf16).</summary>
    public Precision Precision { get; init; } = Precision.Float32;
    /// <summary>The recipe file's text hash: a checkpoint resumes only under the recipe that wrote it.</summary>
    public string Hash { get; init; } = "";
    public string SourceFile { get; init; } = "";

    public int TotalSteps => Stages.Sum(s => s.Steps);
    public IReadOnlyList<StageSchedule> Schedules => Stages.Select(s => s.Schedule).ToList();

    /// <summary>Every optional setting at its default: the reader's fallback and the writer's test for "leave it out",
    /// so a default is defined once, by the property initialisers above.</summary>
    private static readonly Recipe Defaults = new() { Base = "", Targets = new(null, null), Sources = new Dictionary<string, DataSource>(), Stages = [] };
    private static readonly StageRecipe StageDefaults = new() { Name = "", Steps = 0, PeakLr = 0, Mix = new Dictionary<string, double>() };
    private static readonly SynthesisSpec SynthesisDefaults = new("");

    /// <summary>The JSON spelling of a decay: its name in lower case.</summary>
    private static string DecayName(LrDecay d) => d.ToString().ToLowerInvariant();

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

    /// <summary>The recipe as a user would write it for a file in <paramref name="recipeDir"/>: snake_case keys, paths
    /// relative to that folder (with <c>/</c>), optional settings equal to their defaults left out (a stage's schedule is
    /// always written in full). <see cref="Load"/> of the text gives this recipe back, the mix normalised.</summary>
    public string ToJson(string recipeDir) =>
        new Writer(Path.GetFullPath(recipeDir)).Recipe(this).ToJsonString(new JsonSerializerOptions
            { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n";

    /// <summary>Writes <see cref="ToJson"/> to <paramref name="path"/>; a file that already holds that text is left
    /// untouched (its runs resume: their checkpoints carry the text's <see cref="Hash"/>).</summary>
    public void Save(string path)
    {
        var text = ToJson(Path.GetDirectoryName(Path.GetFullPath(path))!);
        if (!File.Exists(path) || File.ReadAllText(path) != text) AtomicFile.WriteText(path, text);
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
                     "noise_min_seconds", "noise_max_seconds", "noise_max_segments", "precision", "description");
            var d = Defaults;
            var baseSpec = Get<string>(o, "", "base", "", required: true);
            if (!baseSpec.StartsWith("init:")) baseSpec = PathOf(baseSpec);
            var heads = Get(o, "", "base_heads", d.BaseHeads);
            var sources = Sources(o["sources"] as JsonObject ?? throw Error("sources", "missing (an object: name → {manifest} or {synthesize})"));
            var stages = Stages(o["stages"] as JsonArray ?? throw Error("stages", "missing (a list of stages)"), sources);
            return Check(new Recipe
            {
                Description = Get(o, "", "description", d.Description),
                Base = baseSpec,
                InitSeed = Get(o, "", "init_seed", d.InitSeed),
                BaseHeads = heads is null ? null : PathOf(heads),
                Targets = Targets(o["targets"] as JsonObject ?? throw Error("targets", "missing ({\"cache\": DIR} or {\"teacher\": SPEC})")),
                Sources = sources,
                Stages = stages,
                CropSeconds = Get(o, "", "crop_seconds", d.CropSeconds),
                PadShort = Get(o, "", "pad_short", d.PadShort),
                BatchSize = Get(o, "", "batch_size", d.BatchSize),
                GradAccumulation = Get(o, "", "grad_accumulation", d.GradAccumulation),
                Seed = Get(o, "", "seed", d.Seed),
                CheckpointEvery = Get(o, "", "checkpoint_every", d.CheckpointEvery),
                KeepCheckpoints = Get(o, "", "keep_checkpoints", d.KeepCheckpoints),
                MaskProb = Get(o, "", "mask_prob", d.MaskProb),
                MaskLength = Get(o, "", "mask_length", d.MaskLength),
                NoiseProbability = Get(o, "", "noise_probability", d.NoiseProbability),
                NoiseMinSeconds = Get(o, "", "noise_min_seconds", d.NoiseMinSeconds),
                NoiseMaxSeconds = Get(o, "", "noise_max_seconds", d.NoiseMaxSeconds),
                NoiseMaxSegments = Get(o, "", "noise_max_segments", d.NoiseMaxSegments),
                Precision = PrecisionOf(o),
            });
        }

        private Recipe Check(Recipe recipe)
        {
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
            return why is null ? recipe : throw new InvalidDataException($"{file}: {why}.");
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
                var synth = s["synthesize"] is JsonObject y ? Synthesis(y, where + ".synthesize") : null;
                if ((manifest is null) == (synth is null)) throw Error(where, "give exactly one of manifest or synthesize");
                result[name] = new DataSource(name, manifest is null ? null : PathOf(manifest), synth);
            }
            if (result.Count == 0) throw Error("sources", "at least one source is required");
            return result;
        }

        private SynthesisSpec Synthesis(JsonObject y, string where)
        {
            OnlyKeys(y, where, "piece", "clips", "seconds", "seed");
            var d = SynthesisDefaults;
            var synth = new SynthesisSpec(Get(y, where, "piece", d.Piece, required: true), Get(y, where, "clips", d.Clips),
                                          Get(y, where, "seconds", d.Seconds), Get(y, where, "seed", d.Seed));
            if (!DemoAudio.Pieces.Any(p => p.Name == synth.Piece))
                throw Error(where + ".piece", $"unknown piece '{synth.Piece}' (known: {string.Join(", ", DemoAudio.Pieces.Select(p => p.Name))})");
            if (synth.Clips < 1 || !(synth.Seconds > 0)) throw Error(where, "clips ≥ 1 and seconds > 0 required");
            return synth;
        }

        private TargetSpec Targets(JsonObject o)
        {
            OnlyKeys(o, "targets", "cache", "teacher", "k", "bandwidth_kbps");
            var d = Defaults.Targets;
            var cache = Get(o, "targets", "cache", d.Cache);
            var teacher = Get(o, "targets", "teacher", d.Teacher);
            if ((cache is null) == (teacher is null)) throw Error("targets", "give exactly one of cache (a tokenize output folder) or teacher (computed on the fly)");
            if (teacher is not null && !(teacher == "kmeans-fit" || teacher.StartsWith("encodec:") || teacher.StartsWith("kmeans:")))
                throw Error("targets.teacher", $"expected encodec:DIR, kmeans:FILE or kmeans-fit, got '{teacher}'");
            if (teacher is not null && teacher != "kmeans-fit")
            {
                var colon = teacher.IndexOf(':');
                teacher = teacher[..(colon + 1)] + PathOf(teacher[(colon + 1)..]);
            }
            var k = Get(o, "targets", "k", d.KMeansK);
            if (k < 2) throw Error("targets.k", "must be ≥ 2");
            return new TargetSpec(cache is null ? null : PathOf(cache), teacher, k, Get(o, "targets", "bandwidth_kbps", d.BandwidthKbps));
        }

        private List<StageRecipe> Stages(JsonArray o, Dictionary<string, DataSource> sources)
        {
            if (o.Count == 0) throw Error("stages", "at least one stage is required");
            var stages = o.Select((s, i) => Stage(s as JsonObject ?? throw Error($"stages[{i}]", "expected an object"), i, sources)).ToList();
            foreach (var dup in stages.GroupBy(s => s.Name).Where(g => g.Count() > 1)) throw Error("stages", $"two stages are named '{dup.Key}'");
            return stages;
        }

        private StageRecipe Stage(JsonObject o, int i, Dictionary<string, DataSource> sources)
        {
            var w = $"stages[{i}]";
            OnlyKeys(o, w, "name", "steps", "warmup_steps", "peak_lr", "floor_lr", "decay", "mix", "trainable", "betas", "eps", "weight_decay", "grad_clip", "description");
            var d = StageDefaults;
            var mix = Mix(o["mix"] switch
            {
                JsonObject m => m,
                null => throw Error(w + ".mix", "missing (source name → weight)"),
                var other => throw Error(w + ".mix", $"expected an object (source name → weight), found {KindOf(other)}"),
            }, w + ".mix", sources);
            var trainable = o["trainable"] switch
            {
                JsonArray t => t.Select((x, j) => x?.GetValueKind() == JsonValueKind.String ? x.GetValue<string>() : throw Error($"{w}.trainable[{j}]", $"expected a string, found {KindOf(x)}")).ToList(),
                null => d.Trainable,
                var other => throw Error(w + ".trainable", $"expected a list of parameter-name globs, e.g. [\"masked_spec_embed\"], found {KindOf(other)}"),
            };
            if (trainable.Count == 0) throw Error(w + ".trainable", "no parameter would train");
            var betas = o["betas"] switch
            {
                JsonArray b when b.Count == 2 => (Number(b[0], w + ".betas[0]"), Number(b[1], w + ".betas[1]")),
                null => (d.Beta1, d.Beta2),
                var other => throw Error(w + ".betas", $"expected [beta1, beta2], found {(other is JsonArray a ? $"a list of {a.Count}" : KindOf(other))}"),
            };
            var stage = new StageRecipe
            {
                Name = Get(o, w, "name", $"stage{i + 1}"), Description = Get(o, w, "description", d.Description),
                Steps = Get(o, w, "steps", d.Steps, required: true), WarmupSteps = Get(o, w, "warmup_steps", d.WarmupSteps),
                PeakLr = Get(o, w, "peak_lr", d.PeakLr, required: true), FloorLr = Get(o, w, "floor_lr", d.FloorLr), Decay = Decay(o, w),
                Mix = mix, Trainable = trainable, Beta1 = betas.Item1, Beta2 = betas.Item2,
                Eps = Get(o, w, "eps", d.Eps), WeightDecay = Get(o, w, "weight_decay", d.WeightDecay), GradClip = Get(o, w, "grad_clip", d.GradClip),
            };
            return Check(stage, w);
        }

        private double Number(JsonNode? x, string where) =>
            x?.GetValueKind() == JsonValueKind.Number ? x.GetValue<double>() : throw Error(where, $"expected a number, found {KindOf(x)}");

        /// <summary>What a JSON value is, for an error message: "a string (\"no\")", "a list", ...</summary>
        internal static string KindOf(JsonNode? x) => x switch
        {
            null => "null",
            JsonArray => "a list",
            JsonObject => "an object",
            _ => x.GetValueKind() switch
            {
                JsonValueKind.String => $"a string ({x.ToJsonString()})",
                JsonValueKind.Number => $"a number ({x.ToJsonString()})",
                JsonValueKind.True or JsonValueKind.False => $"a boolean ({x.ToJsonString()})",
                _ => x.ToJsonString(),
            },
        };

        private StageRecipe Check(StageRecipe stage, string w)
        {
            if (stage.Name.Length == 0 || stage.Name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || stage.Name.StartsWith('.'))
                throw Error(w + ".name", $"'{stage.Name}' cannot be a folder name");
            try { LearningRateSchedule.Validate([stage.Schedule]); }
            catch (ArgumentException e) { throw Error(w, e.Message.Replace("stage 0: ", "").Split(" (Parameter")[0].TrimEnd('.')); }
            if (!(stage.GradClip > 0)) throw Error(w + ".grad_clip", "must be > 0");
            if (!(stage.Beta1 is >= 0 and < 1) || !(stage.Beta2 is >= 0 and < 1)) throw Error(w + ".betas", "each must be in [0, 1)");
            if (!(stage.Eps > 0) || !(stage.WeightDecay >= 0)) throw Error(w, "eps must be > 0 and weight_decay ≥ 0");
            return stage;
        }

        /// <summary>The stage's mix, normalised to sum 1 (summed in the file's order).</summary>
        private Dictionary<string, double> Mix(JsonObject o, string w, Dictionary<string, DataSource> sources)
        {
            var mix = new Dictionary<string, double>();
            foreach (var (name, _) in o)
            {
                if (!sources.ContainsKey(name)) throw Error($"{w}.{name}", $"no such source (sources: {string.Join(", ", sources.Keys)})");
                var weight = Get(o, w, name, 0.0, required: true);
                if (!(weight > 0) || !double.IsFinite(weight)) throw Error($"{w}.{name}", "weight must be > 0");
                mix[name] = weight;
            }
            if (mix.Count == 0) throw Error(w, "at least one source is required");
            var sum = mix.Values.Sum();
            foreach (var k in mix.Keys.ToList()) mix[k] /= sum;
            return mix;
        }

        private Precision PrecisionOf(JsonObject o)
        {
            var name = Get(o, "", "precision", Defaults.Precision.Name());
            try { return Precisions.Parse(name); }
            catch (ArgumentException) { throw Error("precision", $"expected fp32 or bf16, got '{name}'"); }
        }

        /// <summary>Parsed here, once: the rest of the code sees an <see cref="LrDecay"/>.</summary>
        private LrDecay Decay(JsonObject o, string w)
        {
            var name = Get(o, w, "decay", DecayName(StageDefaults.Decay));
            foreach (var decay in Enum.GetValues<LrDecay>())
                if (DecayName(decay) == name) return decay;
            throw Error(w + ".decay", $"expected one of {string.Join(", ", Enum.GetValues<LrDecay>().Select(DecayName))}, got '{name}'");
        }
    }

    /// <summary>The inverse of <see cref="Reader"/>: what it would read back as the same recipe, written as a user would.</summary>
    private sealed class Writer(string dir)
    {
        private string Relative(string path) => Path.GetRelativePath(dir, path).Replace('\\', '/');

        /// <summary>Sets <paramref name="key"/> unless <paramref name="value"/> is its default.</summary>
        private static void Put<T>(JsonObject o, string key, T value, T fallback)
        {
            if (!EqualityComparer<T>.Default.Equals(value, fallback)) o[key] = JsonValue.Create(value);
        }

        public JsonObject Recipe(Recipe r)
        {
            var d = Defaults;
            var o = new JsonObject();
            Put(o, "description", r.Description, d.Description);
            o["base"] = r.Base.StartsWith("init:") ? r.Base : Relative(r.Base);
            Put(o, "init_seed", r.InitSeed, d.InitSeed);
            Put(o, "base_heads", r.BaseHeads is null ? null : Relative(r.BaseHeads), d.BaseHeads);
            o["targets"] = Targets(r.Targets);
            o["sources"] = new JsonObject(r.Sources.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)Source(kv.Value))));
            Put(o, "crop_seconds", r.CropSeconds, d.CropSeconds);
            Put(o, "pad_short", r.PadShort, d.PadShort);
            Put(o, "noise_probability", r.NoiseProbability, d.NoiseProbability);
            Put(o, "noise_min_seconds", r.NoiseMinSeconds, d.NoiseMinSeconds);
            Put(o, "noise_max_seconds", r.NoiseMaxSeconds, d.NoiseMaxSeconds);
            Put(o, "noise_max_segments", r.NoiseMaxSegments, d.NoiseMaxSegments);
            Put(o, "mask_prob", r.MaskProb, d.MaskProb);
            Put(o, "mask_length", r.MaskLength, d.MaskLength);
            Put(o, "batch_size", r.BatchSize, d.BatchSize);
            Put(o, "grad_accumulation", r.GradAccumulation, d.GradAccumulation);
            Put(o, "seed", r.Seed, d.Seed);
            Put(o, "checkpoint_every", r.CheckpointEvery, d.CheckpointEvery);
            Put(o, "keep_checkpoints", r.KeepCheckpoints, d.KeepCheckpoints);
            Put(o, "precision", r.Precision.Name(), d.Precision.Name());
            o["stages"] = new JsonArray([.. r.Stages.Select(Stage)]);
            return o;
        }

        private JsonObject Targets(TargetSpec t)
        {
            var d = Defaults.Targets;
            var o = new JsonObject();
            if (t.Cache is not null) o["cache"] = Relative(t.Cache);
            if (t.Teacher is not null)
            {
                var colon = t.Teacher.IndexOf(':');     // encodec:DIR and kmeans:FILE carry a path; kmeans-fit none
                o["teacher"] = colon < 0 ? t.Teacher : t.Teacher[..(colon + 1)] + Relative(t.Teacher[(colon + 1)..]);
            }
            Put(o, "k", t.KMeansK, d.KMeansK);
            Put(o, "bandwidth_kbps", t.BandwidthKbps, d.BandwidthKbps);
            return o;
        }

        private JsonObject Source(DataSource s)
        {
            if (s.Manifest is not null) return new JsonObject { ["manifest"] = Relative(s.Manifest) };
            var (y, d) = (s.Synthesize!, SynthesisDefaults);
            var o = new JsonObject { ["piece"] = y.Piece };
            Put(o, "clips", y.Clips, d.Clips);
            Put(o, "seconds", y.Seconds, d.Seconds);
            Put(o, "seed", y.Seed, d.Seed);
            return new JsonObject { ["synthesize"] = o };
        }

        private JsonNode Stage(StageRecipe s)
        {
            var d = StageDefaults;
            var o = new JsonObject { ["name"] = s.Name };
            Put(o, "description", s.Description, d.Description);
            o["steps"] = s.Steps;
            o["warmup_steps"] = s.WarmupSteps;
            o["peak_lr"] = s.PeakLr;
            o["floor_lr"] = s.FloorLr;
            o["decay"] = DecayName(s.Decay);
            o["mix"] = new JsonObject(s.Mix.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
            if (!s.Trainable.SequenceEqual(d.Trainable)) o["trainable"] = new JsonArray([.. s.Trainable.Select(g => (JsonNode?)g)]);
            if ((s.Beta1, s.Beta2) != (d.Beta1, d.Beta2)) o["betas"] = new JsonArray(s.Beta1, s.Beta2);
            Put(o, "eps", s.Eps, d.Eps);
            Put(o, "weight_decay", s.WeightDecay, d.WeightDecay);
            Put(o, "grad_clip", s.GradClip, d.GradClip);
            return o;
        }
    }

    /// <summary>Glob over parameter names: <c>*</c> matches any run of characters (dots included), everything else literally.</summary>
    public static bool GlobMatch(string pattern, string name)
    {
        var rx = "^" + string.Join(".*", pattern.Split('*').Select(System.Text.RegularExpressions.Regex.Escape)) + "$";
        return System.Text.RegularExpressions.Regex.IsMatch(name, rx, System.Text.RegularExpressions.RegexOptions.CultureInvariant);
    }
}
