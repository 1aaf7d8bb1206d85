using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CultureMert.Audio;
using CultureMert.Batch;
using CultureMert.Checkpoints;
using CultureMert.Corpus;
using CultureMert.Embedding;
using CultureMert.Model;
using CultureMert.Pretraining;
using CultureMert.Teachers;
using TorchSharp;
using static TorchSharp.torch;

// One benchmark configuration per process (so that peak RSS belongs to it), printed as one JSON line.
//   forward  --batch B --clips K [--threads T] [--model DIR] [--precision fp32|bf16]
//                                                             model forward on 5-s clips, all hidden states, time-mean
//   make-audio --clips K --out DIR [--files N --seconds S]    K 5-s clips of music as 44.1 kHz WAV files of 4 clips each,
//                                                             or N files of S seconds
//   embed    --batch B --audio DIR [--threads T] [--model DIR] [--precision fp32|bf16]
//                                                             end to end over the audio files of DIR, as `culturemert embed` runs
//   memory   --audio DIR [--batch B] [--precision P] [--plot PNG]   RSS of EmbedJob over a long job (one long file, many
//                                                             files): peak per half, at 10 % and at the end
//   profile  --batch B --audio DIR [--precision fp32|bf16]     the same work stage by stage: decode, mix + resample, CNN,
//                                                             projection + pos-conv, attention, FFN, other, write (seconds, share)
//   encodec  [--seconds S] [--clips K] [--threads T] [--chunk N]  EnCodec 24 kHz tokens (random real-size weights, 6 kbps)
//                                                             of K mono clips of S s (default 5), encoded in chunks of N
//                                                             samples (default EncodecTeacher.DefaultChunkSamples); audio s/s
//   cqt      [--clips K] [--threads T]                         MERT's CQT target (MertCqt) on 5-s and 60-s clips, audio-s/s
//   metrics  [--rows N] [--tags K]                             sklearn-exact multi-label ROC-AUC/AP/F1 on N × K (default 1e6 × 50)
//   allreduce [--floats F] [--tensors N] [--repeats R]       under mpirun -np W: one sum all-reduce of F float32 (default
//                                                             95.5M: MERT-95M's parameters) as one MPI_Allreduce, and as
//                                                             data-parallel pre-training does it (N gradient tensors,
//                                                             default 211, packed in 32 MiB buckets); median ms of R
//   gemm     [--frames F] [--threads T]                      GFLOP/s of fp32 and bf16 linear (MERT-95M FFN shapes) and the
//                                                             CNN's widest conv1d: the bound the forward is measured against
//   conv     [--batch B] [--precision fp32|bf16] [--threads T]  each MERT-95M conv1d shape of a 5-s clip: GFLOP/s of every
//                                                             candidate algorithm on the real shape, and the one the
//                                                             autotuner chose (one JSON line per shape)
//   startup  --model DIR [--threads T]                        start-up of embedding one 5-s clip: runtime start, libtorch
//                                                             load, model load, first and second forward (seconds)
//   precision --model DIR [--batch B]                         bf16 vs fp32 hidden states (and vs a fixture's golden when DIR
//                                                             has expected.safetensors): relative L2, pooled cosine, speed-up
//   train    [--size tiny|small|95m] [--batch B] [--crop-seconds S] [--steps N] [--warmup W] [--threads T] [--precision fp32|bf16]
//                                                             one pre-training step (forward, loss, backward, clip, AdamW) on
//                                                             random data, ms/step: the counterpart of reference_train.py
//   curves   --out PNG [--title T] GROUP=LOG.csv ...           loss curves of several pre-training runs, a colour per group
//   csv      [--rows N] [--repeats R]                          Sep vs CsvHelper: median ms to parse an N-row manifest
//                                                             (default 100,000) into typed values, and RFC 4180 cases passed
var mode = args.Length > 0 ? args[0] : "forward";
int Arg(string name, int fallback) { var i = Array.IndexOf(args, name); return i >= 0 ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback; }
string? Str(string name) { var i = Array.IndexOf(args, name); return i >= 0 ? args[i + 1] : null; }
var batch = Arg("--batch", mode == "train" ? 2 : 1);      // train: reference_train.py's default
var clips = Arg("--clips", 8);
var threads = Arg("--threads", Environment.ProcessorCount);
if (mode == "startup")
{
    // Where the start-up of embedding one 5-s clip goes: .NET runtime start (process start → here), libtorch's native
    // load (the first torch call), model load, the first forward (first-call kernel set-up and, with an empty cache, the
    // convolution autotuning) against a second forward of the same clip (the steady state).
    var sinceStart = (DateTime.Now - Process.GetCurrentProcess().StartTime).TotalSeconds;
    var t = Stopwatch.StartNew();
    torch.set_num_threads(threads);
    var native = t.Elapsed.TotalSeconds;
    t.Restart();
    using var m = MertCheckpoint.Load(Str("--model") ?? throw new ArgumentException("startup needs --model DIR"));
    var load = t.Elapsed.TotalSeconds;
    using var clip = (torch.rand(1, 5 * m.Model.Config.SampleRate) * 0.2 - 0.1);   // (1, samples)
    double Forward()
    {
        var c = Stopwatch.StartNew();
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        m.Model.HiddenStates(clip).Last().sum().item<float>();
        return c.Elapsed.TotalSeconds;
    }
    var first = Forward();
    var second = Forward();
    var tuned = ConvAutotuner.Default.Decisions.Values.Where(d => d.Source == "measured").ToList();
    Console.WriteLine(JsonSerializer.Serialize(new
    {
        impl = "culturemert", mode, threads, runtime_start_s = Math.Round(sinceStart, 3), libtorch_load_s = Math.Round(native, 3),
        model_load_s = Math.Round(load, 3), first_forward_s = Math.Round(first, 3), second_forward_s = Math.Round(second, 3),
        conv_shapes_measured = tuned.Count, conv_cache = ConvAutotuner.Default.Decisions.Values.Count(d => d.Source == "cache"),
    }));
    return;
}
torch.set_num_threads(threads);

var work = Path.Combine(Path.GetTempPath(), $"cm-bench-{Environment.ProcessId}");
Directory.CreateDirectory(work);
try
{
    if (mode == "curves")
    {
        var runs = args.Skip(1).Where(a => a.Contains('=') && a.EndsWith(".csv")).Select(a => (a[..a.IndexOf('=')], a[(a.IndexOf('=') + 1)..])).ToList();
        LossCurves.SavePng(Str("--out") ?? throw new ArgumentException("curves: --out PNG is required"), Str("--title") ?? "pre-training loss", runs);
        return;
    }
    if (mode == "csv")
    {
        CsvBench.Run(Arg("--rows", 100_000), Arg("--repeats", 5), work);
        return;
    }
    if (mode == "metrics")
    {
        // Tagging metrics at evaluation scale: continuous scores (no ties), 10 % positives, a weak signal.
        var (n, k) = (Arg("--rows", 1_000_000), Arg("--tags", 50));
        var truth = new bool[n, k];
        var scores = new double[n, k];
        Parallel.For(0, k, t =>
        {
            var rng = new Random(t);
            for (var i = 0; i < n; i++) { truth[i, t] = rng.NextDouble() < 0.1; scores[i, t] = rng.NextDouble() + (truth[i, t] ? 0.2 : 0); }
        });
        var clock = Stopwatch.StartNew();
        var m = CultureMert.Evaluation.MultiLabel.Compute(truth, scores, 0.5, [.. Enumerable.Range(0, k).Select(t => $"t{t}")]);
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            impl = "culturemert", mode, rows = n, tags = k, threads, seconds = clock.Elapsed.TotalSeconds,
            roc_auc_micro = m.RocAucMicro, peak_rss_mb = Math.Round(Rss("VmHWM")),
        }));
        return;
    }
    if (mode == "conv")
    {
        // MERT-95M's conv1d shapes for a batch of 5-s clips at 24 kHz: the CNN's 7 blocks, then the positional conv.
        var dtype = Str("--precision") == "bf16" ? ScalarType.BFloat16 : ScalarType.Float32;
        var c95 = MertConfig.Preset("mert-95m");
        var shapes = new List<ConvShape>();
        long samples = 5 * c95.SampleRate;
        for (var i = 0; i < c95.ConvDim.Length; i++)
        {
            shapes.Add(ConvShape.Of(batch, i == 0 ? 1 : c95.ConvDim[i - 1], samples, c95.ConvDim[i], c95.ConvKernel[i], c95.ConvStride[i], 0, 1, 1, dtype));
            samples = (samples - c95.ConvKernel[i]) / c95.ConvStride[i] + 1;
        }
        shapes.Add(ConvShape.Of(batch, c95.HiddenSize, samples, c95.HiddenSize, c95.NumConvPosEmbeddings, 1, c95.NumConvPosEmbeddings / 2, 1,
                                c95.NumConvPosEmbeddingGroups, dtype));
        foreach (var (shape, i) in shapes.Select((sh, i) => (sh, i)))
        {
            var clock = Stopwatch.StartNew();
            var chosen = ConvAutotuner.Default.Choose(shape);
            var chooseMs = clock.Elapsed.TotalMilliseconds;
            var source = ConvAutotuner.Default.Decisions.TryGetValue(shape.Key, out var d) ? d.Source : "rule";
            var candidates = ConvAutotuner.Candidates(shape);
            var (ms, gflop) = ConvAutotuner.Measure(shape, candidates, 1500, double.PositiveInfinity);
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                impl = "culturemert", mode, threads, batch, precision = dtype == ScalarType.BFloat16 ? "bf16" : "fp32",
                layer = i < c95.ConvDim.Length ? $"cnn.{i}" : "pos_conv", shape = shape.Key, gflop = Math.Round(gflop, 2),
                gflops = ms.ToDictionary(p => ConvAutotuner.Name(p.Key), p => Math.Round(gflop / p.Value * 1e3, 1)),
                chosen = ConvAutotuner.Name(chosen), source, choose_ms = Math.Round(chooseMs, 1),
            }));
        }
        return;
    }
    if (mode == "gemm")
    {
        // The machine's matrix-multiply rate at the shapes of one MERT-95M 5-s clip (374 frames × 768 / 3072 features)
        // and of the CNN's widest layer as a conv1d, fp32 and bf16: the bound the forward pass is measured against.
        var frames = Arg("--frames", 374);
        var report = new List<object>();
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
        {
            double Rate(Func<Tensor> op, double flops)
            {
                using (var w = op()) { }
                var c = Stopwatch.StartNew();
                var n = 0;
                while (c.Elapsed.TotalSeconds < 2) { using var r = op(); n++; }
                return flops * n / c.Elapsed.TotalSeconds / 1e9;
            }
            using var a = torch.rand(frames, 768).to(dtype);
            using var w1 = torch.rand(3072, 768).to(dtype);
            using var w2 = torch.rand(768, 3072).to(dtype);
            using var h = torch.rand(frames, 3072).to(dtype);
            using var cx = torch.rand(1, 512, 2 * 11999 + 1).to(dtype);
            using var cw = torch.rand(512, 512, 3).to(dtype);
            report.Add(new
            {
                dtype = dtype.ToString(),
                linear_768_3072 = Math.Round(Rate(() => nn.functional.linear(a, w1), 2.0 * frames * 768 * 3072), 1),
                linear_3072_768 = Math.Round(Rate(() => nn.functional.linear(h, w2), 2.0 * frames * 768 * 3072), 1),
                conv1d_512_k3_s2 = Math.Round(Rate(() => nn.functional.conv1d(cx, cw, stride: 2), 2.0 * 11999 * 512 * 512 * 3), 1),
                // The same convolution as the model runs it: the algorithm the autotuner chose for this shape here.
                conv1d_512_k3_s2_chosen = Math.Round(Rate(() => Convolutions.Conv1d(cx, cw, null, stride: 2), 2.0 * 11999 * 512 * 512 * 3), 1),
                conv1d_512_k3_s2_algorithm = ConvAutotuner.Name(ConvAutotuner.Default.Choose(ConvShape.Of(cx, cw, 2, 0, 1, 1))),
            });
        }
        // FLOPs of one 5-s clip through MERT-95M (multiply-adds × 2): the CNN's convs, then the matrix products of the
        // positional conv, projection and 12 layers (Q, K, V, O, FFN, and the two attention products).
        var c95 = MertConfig.Preset("mert-95m");
        double cnnFlops = 0;
        long length = 5 * c95.SampleRate;
        for (var i = 0; i < c95.ConvDim.Length; i++)
        {
            length = (length - c95.ConvKernel[i]) / c95.ConvStride[i] + 1;
            cnnFlops += 2.0 * length * c95.ConvDim[i] * (i == 0 ? 1 : c95.ConvDim[i - 1]) * c95.ConvKernel[i];
        }
        double T = length, H = c95.HiddenSize, I = c95.IntermediateSize;
        var layerFlops = c95.NumHiddenLayers * (2 * T * (4 * H * H + 2 * H * I) + 4 * T * T * H);
        var frontFlops = 2 * T * c95.ConvDim[^1] * H + 2 * T * H * (H / c95.NumConvPosEmbeddingGroups) * c95.NumConvPosEmbeddings;
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            impl = "culturemert", mode, threads, frames, gflops = report,
            clip_gflop = new { cnn = Math.Round(cnnFlops / 1e9, 2), projection_pos_conv = Math.Round(frontFlops / 1e9, 2), layers = Math.Round(layerFlops / 1e9, 2) },
        }));
        return;
    }
    if (mode == "allreduce")
    {
        using var world = new CultureMert.Distributed.MpiWorld();
        var (floats, count, repeats) = (Arg("--floats", 95_500_000), Arg("--tensors", 211), Arg("--repeats", 5));
        var buffer = new float[floats];
        Array.Fill(buffer, 1f);
        var parameters = Enumerable.Range(0, count).Select(i => ones(floats / count + (i < floats % count ? 1 : 0)).requires_grad_()).ToList();
        foreach (var p in parameters) p.grad = ones_like(p);
        double Median(Action run)
        {
            run();                                                                   // warm-up: connections, pages
            var ms = new List<double>();
            for (var r = 0; r < repeats; r++)
            {
                world.Barrier();
                var clock = Stopwatch.StartNew();
                run();
                ms.Add(clock.Elapsed.TotalMilliseconds);
            }
            return ms.Order().ElementAt(ms.Count / 2);
        }
        var raw = Median(() => world.AllReduceSum(buffer));
        var bucketed = Median(() => CultureMert.Distributed.TensorCollectives.AllReduceGradients(world, parameters));
        if (buffer[0] <= 1 || parameters[0].grad!.data<float>()[0] <= 1) throw new InvalidOperationException("the all-reduce did not sum");
        if (world.Rank == 0)
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                impl = "culturemert", mode, ranks = world.Size, floats, bytes = 4L * floats, tensors = count, repeats, threads,
                mpi_allreduce_ms = Math.Round(raw, 1), bucketed_gradients_ms = Math.Round(bucketed, 1),
                bus_gb_per_s = Math.Round(2.0 * (world.Size - 1) / world.Size * 4L * floats / (raw / 1000) / 1e9, 2),   // NCCL's "bus bandwidth"
            }));
        return;
    }
    if (mode == "train")
    {
        // The same step as Pretrainer.TrainStep (grad_accumulation 1, no noise mixing, no logging) and as
        // reference_train.py: random weights, waveforms, EnCodec codes and CQT; a fresh span mask each step.
        var size = Str("--size") ?? "tiny";
        var config = MertConfig.Preset(size == "95m" ? "mert-95m" : size);
        var cropSeconds = double.Parse(Str("--crop-seconds") ?? "5", CultureInfo.InvariantCulture);
        var (steps, warmup) = (Arg("--steps", 5), Arg("--warmup", 1));
        var trainPrecision = Precisions.Parse(Str("--precision") ?? "fp32");   // bf16: mixed, as pretrain's precision bf16
        manual_seed(0);                                                       // dropout and LayerDrop
        using var model = new MertModel(config).InitializeWeights(0);
        using var objective = new MertObjective(config, Enumerable.Repeat(1024, 8).ToArray());
        model.train();
        var named = model.named_parameters().Select(p => (Name: p.name, Param: (Tensor)p.parameter))
                         .Concat(objective.NamedHeads().Select(h => (h.Name, Param: (Tensor)h.Param))).ToList();
        using var optimizer = new AdamW(named, 1e-4, 0.9, 0.98, 1e-6, 0.01);
        var samples = (long)Math.Round(cropSeconds * config.SampleRate);
        var frames = (int)config.FrameCount(samples);
        var audio = torch.rand(batch, samples) * 0.2 - 0.1;                  // (B, samples)
        var targets = randint(0, 1024, [batch, frames, 8], ScalarType.Int64);  // (B, T, 8) EnCodec codes
        var cqt = torch.rand(batch, frames, 336);                             // (B, T, 336) CQT magnitude
        var maskRng = new Random(0);
        var phases = new Dictionary<string, double>();                        // ms per phase, summed over timed steps
        var timing = false;
        var phaseClock = new Stopwatch();
        void Phase(string name)
        {
            if (timing) phases[name] = phases.GetValueOrDefault(name) + phaseClock.Elapsed.TotalMilliseconds;
            phaseClock.Restart();
        }
        float Step()
        {
            using var scope = NewDisposeScope();
            phaseClock.Restart();
            var mask = SpanMasking.ComputeMaskIndices(batch, frames, maskRng); // (B, T)
            ObjectiveTerms terms;
            using (MixedPrecision.Enter(trainPrecision)) terms = objective.Loss(model, audio, mask, targets, cqt);
            using var owned = terms;
            var loss = terms.Total.item<float>();                             // synchronises, as Python's loss.item()
            Phase("forward_ms");
            terms.Total.backward();
            Phase("backward_ms");
            Pretrainer.ClipGradNorm(named.Select(p => p.Param), 10.0);
            Phase("clip_ms");
            optimizer.Take();
            optimizer.ZeroGrad();
            Phase("adamw_ms");
            return loss;
        }
        for (var i = 0; i < warmup; i++) Step();                              // first steps allocate, untimed
        timing = true;
        var times = new List<double>();
        var losses = new List<float>();
        for (var i = 0; i < steps; i++)
        {
            var clock = Stopwatch.StartNew();
            losses.Add(Step());
            times.Add(clock.Elapsed.TotalSeconds);
        }
        var sec = times.Average();
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            impl = "culturemert", workload = "train", size, precision = trainPrecision.Name(), batch, crop_seconds = cropSeconds, frames, steps, warmup,
            ms_per_step = Math.Round(sec * 1000, 1), ms_per_step_min = Math.Round(times.Min() * 1000, 1),
            audio_s_per_s = batch * cropSeconds / sec, peak_rss_mib = Math.Round(Rss("VmHWM")), threads,
            @params = named.Sum(p => p.Param.numel()), loss_first = Math.Round(losses[0], 4), loss_last = Math.Round(losses[^1], 4),
            phases = phases.ToDictionary(kv => kv.Key, kv => Math.Round(kv.Value / steps, 1)),
        }));
        return;
    }
    if (mode == "make-audio")
    {
        // The input of the end-to-end runs: music as 44.1 kHz WAV, by default 20-s files (4 chunks of 5 s each) for K
        // clips; --files N --seconds S for other shapes (one 1-hour file, 10,000 short ones). bench/run.sh encodes them
        // to MP3 where sox can.
        var audioDir = Str("--out") ?? throw new ArgumentException("make-audio needs --out DIR");
        var fileSeconds = double.Parse(Str("--seconds") ?? "20", CultureInfo.InvariantCulture);
        var count = Arg("--files", (int)Math.Ceiling(clips * 5.0 / fileSeconds));
        var piece = DemoAudio.Pieces[0] with { Seconds = fileSeconds, SampleRate = 44100 };
        Directory.CreateDirectory(audioDir);
        var digits = Math.Max(3, (int)Math.Ceiling(Math.Log10(count + 1)));
        Parallel.For(0, count, f => AudioFile.WriteWav(Path.Combine(audioDir, $"clip{f.ToString(CultureInfo.InvariantCulture).PadLeft(digits, '0')}.wav"),
                                                       DemoAudio.Render(piece, f), piece.SampleRate));
        return;
    }
    if (mode == "encodec")
    {
        // The MERT-v1 acoustic teacher at facebook/encodec_24khz size (weights cannot be downloaded here: random, same maths).
        var clipS = double.Parse(Str("--seconds") ?? "5", CultureInfo.InvariantCulture);
        using var teacher = EncodecTeacher.Random(new EncodecConfig(), seed: 0);
        if (Str("--chunk") is { } chunk) teacher.ChunkSamples = long.Parse(chunk, CultureInfo.InvariantCulture);
        var samples = (long)(clipS * teacher.SampleRate);
        using var wave = torch.rand(samples) * 0.2 - 0.1;                     // (samples)
        teacher.Encode(wave).Dispose();                                       // warm-up
        var clock = Stopwatch.StartNew();
        long frames = 0;
        for (var i = 0; i < clips; i++)
            using (var codes = teacher.Encode(wave)) frames = codes.shape[1];
        var secs = clock.Elapsed.TotalSeconds;
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            impl = "culturemert", mode, teacher = teacher.Name, threads, clips, clip_s = clipS, chunk_samples = teacher.ChunkSamples, frames, audio_s = clips * clipS,
            seconds = secs, throughput = clips * clipS / secs, peak_rss_mb = Math.Round(Rss("VmHWM")),
        }));
        return;
    }
    if (mode == "cqt")
    {
        // The CQT reconstruction target as pre-training computes it per crop (1, 2 and 5 s), and on a long file (60 s).
        using var cqt = new MertCqt();
        var clock = Stopwatch.StartNew();
        using (var warm = cqt.Transform(torch.rand(5 * 24000) - 0.5)) { }
        var warmSeconds = clock.Elapsed.TotalSeconds;
        double Throughput(double clipSeconds, int count)
        {
            using var scope = NewDisposeScope();
            var x = torch.rand((long)(clipSeconds * 24000), generator: new Generator(1)) * 0.2 - 0.1;   // (samples)
            var c = Stopwatch.StartNew();
            for (var i = 0; i < count; i++) cqt.Transform(x).sum().item<float>();
            return count * clipSeconds / c.Elapsed.TotalSeconds;
        }
        var crop1 = Throughput(1, Math.Max(1, clips));                         // the quick demo's crops
        var crop2 = Throughput(2, Math.Max(1, clips));                         // the default demo's and the tiny recipe's
        var short5 = Throughput(5, Math.Max(1, clips));
        var long60 = Throughput(60, Math.Max(1, clips / 4));
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            impl = "culturemert", mode, threads, clips, first_call_s = Math.Round(warmSeconds, 3),
            throughput_1s = Math.Round(crop1, 1), throughput_2s = Math.Round(crop2, 1), throughput_5s = Math.Round(short5, 1), throughput_60s = Math.Round(long60, 1), peak_rss_mb = Math.Round(Rss("VmHWM")),
        }));
        return;
    }
    var modelDir = Str("--model");
    if (modelDir is null)
    {
        modelDir = Path.Combine(work, "mert-95m");
        using (var init = new MertModel(MertConfig.Preset("mert-95m")).InitializeWeights(0))
            MertCheckpoint.Save(init, modelDir);
    }
    using var mert = MertCheckpoint.Load(modelDir);
    var precisionOption = Precisions.Parse(Str("--precision") ?? "fp32");
    var rate = mert.Model.Config.SampleRate;
    const double clipSeconds = 5.0;
    var rng = new Random(1);
    double seconds;
    int? chosenBatch = null;                                      // embed --batch 0: the size the job measured
    if (mode == "precision")
    {
        // bf16 against fp32 (and against a fixture's golden hidden states when --model is a fixture folder with
        // expected.safetensors): per hidden state, relative L2 of the frames and cosine of the time-means; and speed.
        var golden = Path.Combine(modelDir, "expected.safetensors");
        var hasGolden = File.Exists(golden);
        var x = hasGolden ? SafeTensors.LoadTensor(golden, "waveform").unsqueeze(0)
                          : torch.rand(batch, (long)(clipSeconds * rate), generator: new Generator(3)) * 0.2 - 0.1;   // (batch, samples)
        x = mert.Preprocessor.Apply(x);
        using var _ = inference_mode();
        double Seconds(Tensor input)
        {
            var c = Stopwatch.StartNew();
            for (var i = 0; i < 3; i++) { using var sc = NewDisposeScope(); mert.Model.HiddenStates(input)[^1].sum().to(ScalarType.Float32).item<float>(); }
            return c.Elapsed.TotalSeconds / 3;
        }
        var fp32 = mert.Model.HiddenStates(x).Select(t => t.clone()).ToList();
        var fp32Seconds = Seconds(x);
        mert.Model.to(ScalarType.BFloat16);
        var xb = x.to(ScalarType.BFloat16);
        var bf16 = mert.Model.HiddenStates(xb).Select(t => t.to(ScalarType.Float32)).ToList();
        var bf16Seconds = Seconds(xb);
        object Compare(List<Tensor> reference) => Enumerable.Range(0, reference.Count).Select(l => new
        {
            layer = l,
            rel_l2 = Math.Round(((bf16[l] - reference[l]).norm() / reference[l].norm()).item<float>(), 5),
            pooled_cos = Math.Round(nn.functional.cosine_similarity(bf16[l].mean([1]), reference[l].mean([1]), dim: -1).min().item<float>(), 7),
        }).ToList();
        var goldenStates = hasGolden ? SafeTensors.LoadTensor(golden, "hidden_states").unbind(0).Select(t => t.unsqueeze(0)).ToList() : null;
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            impl = "culturemert", mode, model = Path.GetFileName(Path.GetFullPath(modelDir)), batch = x.size(0), samples = x.size(1), threads,
            fp32_s = Math.Round(fp32Seconds, 3), bf16_s = Math.Round(bf16Seconds, 3), speedup = Math.Round(fp32Seconds / bf16Seconds, 2),
            bf16_vs_fp32 = Compare(fp32), bf16_vs_golden = goldenStates is null ? null : Compare(goldenStates),
            fp32_vs_golden_max_abs = goldenStates is null ? (double?)null : Math.Round(fp32.Zip(goldenStates, (a, g) => (a - g).abs().max().item<float>()).Max(), 7),
        }));
        return;
    }
    if (mode == "memory")
    {
        // Peak and current RSS of `embed` (EmbedJob, as the CLI runs it) over a long job: one long file or many files.
        // Flat = the second half of the run adds nothing to the first half's peak.
        var audioDir = Str("--audio") ?? throw new ArgumentException("memory needs --audio DIR");
        var precision = precisionOption;
        var outDir = Path.Combine(work, "out");
        var job = new EmbedJob(mert, new EmbedOptions { BatchSize = batch, Precision = precision }, outDir, true);
        var tasks = BatchJob.Plan([audioDir], outDir);
        List<IndexRow> rows;
        // RSS once a second from a timer, against the time into the run: the halves, 10 % and the end are taken on
        // that clock, which needs no file length (MP3s may not declare one).
        var samples = new List<(double Seconds, double RssMib)>();
        var clock = Stopwatch.StartNew();
        using (new Timer(_ => { lock (samples) samples.Add((clock.Elapsed.TotalSeconds, Rss("VmRSS"))); }, null, 0, 1000))
            rows = job.Run(tasks);
        var runSeconds = clock.Elapsed.TotalSeconds;
        if (rows.Any(r => r.Status != "ok")) throw new InvalidOperationException(rows.First(r => r.Status != "ok").Error);
        var audioS = rows.Sum(r => r.DurationSeconds ?? 0);
        double? PeakOf(Func<double, bool> part) => samples.Where(x => part(x.Seconds / runSeconds)).Select(x => (double?)Math.Round(x.RssMib)).Max();
        double? At(double fraction) => samples.Where(x => x.Seconds >= fraction * runSeconds).Select(x => (double?)Math.Round(x.RssMib)).FirstOrDefault();
        var plot = Str("--plot");
        if (plot is not null && samples.Count > 0)
        {
            using var chart = new ScottPlot.Plot();
            chart.Add.Scatter(samples.Select(x => x.Seconds / 60).ToArray(), samples.Select(x => x.RssMib).ToArray());
            chart.Title($"embed, MERT-95M {(precision == Precision.BFloat16 ? "bf16" : "fp32")}, batch {batch}: {(tasks.Count == 1 ? $"one {audioS / 60:F0}-min file" : $"{tasks.Count:N0} files")}");
            chart.XLabel("minutes into the run");
            chart.YLabel("RSS (MiB)");
            chart.Axes.SetLimitsY(0, Math.Max(1600, samples.Max(x => x.RssMib) * 1.1));
            var limit = chart.Add.HorizontalLine(1536);
            limit.LegendText = "1.5 GiB";
            chart.SavePng(plot, 640, 400);
        }
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            impl = "culturemert", mode, precision = precision == Precision.BFloat16 ? "bf16" : "fp32", batch, threads, files = tasks.Count,
            audio_s = Math.Round(audioS, 1), seconds = Math.Round(runSeconds, 1), throughput = Math.Round(audioS / runSeconds, 2),
            rss_samples = samples.Count, peak_rss_first_half_mib = PeakOf(d => d <= 0.5), peak_rss_second_half_mib = PeakOf(d => d > 0.5),
            rss_at_10pct_mib = At(0.1), rss_end_mib = samples.Count > 0 ? Math.Round(samples[^1].RssMib) : (double?)null,
            peak_rss_mb = Math.Round(Rss("VmHWM")),
        }));
        return;
    }
    if (mode == "profile")
    {
        // Where the time of `embed` goes, stage by stage, on the bench's audio files: decode (to interleaved float),
        // mix + resample to 24 kHz, then per batch of 5-s chunks the model's CNN, projection + positional conv,
        // attention and FFN blocks (timed by forward hooks; CPU ops are synchronous), the rest of the forward (layer
        // norms, residual adds, normalisation, pooling), and writing the .safetensors. Run serially, without the
        // decode/compute overlap of `embed`, so that each stage's cost is its own.
        var audioDir = Str("--audio") ?? throw new ArgumentException("profile needs --audio DIR (from make-audio)");
        var precision = precisionOption;
        if (precision == Precision.BFloat16) mert.Model.to(ScalarType.BFloat16);
        var spent = new Dictionary<string, double>();
        void Add(string stage, double sec) => spent[stage] = spent.GetValueOrDefault(stage) + sec;
        foreach (var (_, module) in mert.Model.named_modules())
        {
            var stage = module switch
            {
                MertFeatureEncoder => "cnn", MertFeatureProjection or MertPositionalConvEmbedding => "projection + pos-conv",
                MertAttention => "attention", MertFeedForward => "ffn", _ => null,
            };
            if (stage is null || module is not nn.Module<Tensor, Tensor> m) continue;
            long started = 0;
            m.register_forward_pre_hook((_, x) => { started = Stopwatch.GetTimestamp(); return x; });
            m.register_forward_hook((_, _, y) => { Add(stage, Stopwatch.GetElapsedTime(started).TotalSeconds); return y; });
        }
        var files = Directory.EnumerateFiles(audioDir).Where(AudioDecoder.IsAudioFile).Order().ToList();
        double audioSeconds = 0;
        var chunk = (int)(clipSeconds * rate);
        for (var pass = 0; pass < 2; pass++)                                  // pass 0 warms up on the first file
        {
            spent.Clear();
            audioSeconds = 0;
            foreach (var file in pass == 0 ? files.Take(1) : files)
            {
                var c = Stopwatch.StartNew();
                using var reader = AudioDecoder.Open(file);
                var interleaved = new List<float>();
                var block = new float[4096 * reader.Channels];
                int frames;
                while ((frames = reader.Read(block)) > 0) interleaved.AddRange(block.AsSpan(0, frames * reader.Channels));
                Add("decode", c.Elapsed.TotalSeconds);
                c.Restart();
                var channels = reader.Channels;
                var mono = new float[interleaved.Count / channels];
                for (var i = 0; i < mono.Length; i++)
                {
                    var sum = 0f;
                    for (var ch = 0; ch < channels; ch++) sum += interleaved[i * channels + ch];
                    mono[i] = sum / channels;
                }
                var wave = Resampler.ResampleAll(mono, reader.SampleRate, rate);
                Add("mix + resample", c.Elapsed.TotalSeconds);
                audioSeconds += (double)wave.Length / rate;
                var pooled = new List<Tensor>();
                using var scope = NewDisposeScope();
                for (var start = 0; start + chunk <= wave.Length; start += batch * chunk)
                {
                    var n = Math.Min(batch, (wave.Length - start) / chunk);
                    c.Restart();
                    var before = spent.Where(kv => kv.Key is "cnn" or "projection + pos-conv" or "attention" or "ffn").Sum(kv => kv.Value);
                    using (var _ = inference_mode())
                    {
                        var x = torch.tensor(wave.AsSpan(start, n * chunk).ToArray()).view(n, chunk);   // (n, samples)
                        x = mert.Preprocessor.Apply(x).to(mert.Model.parameters().First().dtype);
                        var states = mert.Model.HiddenStates(x);
                        pooled.Add(stack(states.Select(t => t.to(ScalarType.Float32).mean([1])).ToArray(), 1));   // (n, layers, hidden)
                    }
                    var after = spent.Where(kv => kv.Key is "cnn" or "projection + pos-conv" or "attention" or "ffn").Sum(kv => kv.Value);
                    Add("other (norms, residuals, pooling)", c.Elapsed.TotalSeconds - (after - before));
                }
                c.Restart();
                var chunks = cat(pooled);
                SafeTensors.Save(Path.Combine(work, Path.GetFileName(file) + ".safetensors"),
                    [new("chunk_embeddings", chunks), new("embedding", chunks.mean([0]))], new Dictionary<string, string> { ["format"] = "pt" });
                Add("write", c.Elapsed.TotalSeconds);
            }
        }
        var total = spent.Values.Sum();
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            impl = "culturemert", mode, precision = precision == Precision.BFloat16 ? "bf16" : "fp32", batch, threads, files = files.Count,
            format = Path.GetExtension(files[0]).TrimStart('.'), audio_s = Math.Round(audioSeconds, 1), seconds = Math.Round(total, 2),
            throughput = Math.Round(audioSeconds / total, 2),
            stages = spent.ToDictionary(kv => kv.Key, kv => new { seconds = Math.Round(kv.Value, 3), share = Math.Round(kv.Value / total, 4), ms_per_audio_s = Math.Round(kv.Value / audioSeconds * 1000, 2) }),
            peak_rss_mb = Math.Round(Rss("VmHWM")),
        }));
        return;
    }
    if (mode == "cnn-layers")
    {
        using var _ = inference_mode();
        var spent = new double[mert.Model.Config.ConvDim.Length];
        var idx = 0;
        foreach (var (_, module) in mert.Model.named_modules())
            if (module is MertConvLayer m)
            {
                var i = idx++;
                long started = 0;
                m.register_forward_pre_hook((_, x) => { started = Stopwatch.GetTimestamp(); return x; });
                m.register_forward_hook((_, _, y) => { spent[i] += Stopwatch.GetElapsedTime(started).TotalMilliseconds; return y; });
            }
        var x = torch.rand(batch, (long)(clipSeconds * rate)) * 0.2 - 0.1;
        for (var r = 0; r < 6; r++) { if (r == 1) Array.Clear(spent); using var sc = NewDisposeScope(); mert.Model.ExtractFeatures(x).sum().item<float>(); }
        Console.WriteLine(string.Join(" ", spent.Select((t, i) => $"L{i}:{t / 5:F1}ms")));
        var x3 = x.unsqueeze(1);
        var w0 = mert.Model.state_dict()["feature_extractor.conv_layers.0.conv.weight"];
        double Time(Func<Tensor> f) { f().Dispose(); var c = Stopwatch.StartNew(); for (var i = 0; i < 5; i++) { using var sc = NewDisposeScope(); f().sum().item<float>(); } return c.Elapsed.TotalMilliseconds / 5; }
        var ref0 = nn.functional.conv1d(x3, w0, stride: 5);
        var alt = matmul(w0.view(512, 10), x.unfold(1, 10, 5).transpose(1, 2).contiguous());
        Console.WriteLine($"diff {(ref0 - alt).abs().max().item<float>():E2}");
        Console.WriteLine($"layer0 conv1d {Time(() => nn.functional.conv1d(x3, w0, stride: 5)):F1} ms, " +
                          $"unfold.T.contiguous+matmul {Time(() => matmul(w0.view(512, 10), x.unfold(1, 10, 5).transpose(1, 2).contiguous())):F1} ms, " +
                          $"unfold.contiguous+linear {Time(() => nn.functional.linear(x.unfold(1, 10, 5).contiguous(), w0.view(512, 10))):F1} ms, " +
                          $"gn {Time(() => nn.functional.group_norm(ref0, 512, null, null)):F1} ms, gelu {Time(() => nn.functional.gelu(ref0)):F1} ms");
        return;
    }
    if (mode == "forward")
    {
        var dtype = precisionOption == Precision.BFloat16 ? ScalarType.BFloat16 : ScalarType.Float32;
        mert.Model.to(dtype);
        var x = (torch.rand(batch, (long)(clipSeconds * rate)) * 0.2 - 0.1).to(dtype);   // (batch, samples)
        void Step()
        {
            using var scope = NewDisposeScope();
            using var _ = inference_mode();
            var states = mert.Model.HiddenStates(x);
            var pooled = stack(states.Select(s => s.to(ScalarType.Float32).mean([1])).ToArray(), 1);  // (batch, layers, hidden)
            pooled.sum().item<float>();
        }
        Step();                                                               // warm-up
        var steps = Math.Max(1, clips / batch);
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < steps; i++) Step();
        seconds = clock.Elapsed.TotalSeconds;
        clips = steps * batch;
    }
    else
    {
        // End to end, as `culturemert embed` runs: decode, resample 44.1→24 kHz, chunk, forward, pool, write .safetensors.
        var audioDir = Str("--audio") ?? throw new ArgumentException("embed needs --audio DIR (from make-audio)");
        var files = Directory.EnumerateFiles(audioDir).Where(AudioDecoder.IsAudioFile).Order().ToList();
        var options = new EmbedOptions { BatchSize = batch > 0 ? batch : null, Precision = precisionOption };   // --batch 0: measured
        var warm = new EmbedJob(mert, options, Path.Combine(work, "warm"), true);
        warm.Run(BatchJob.Plan([files[0]], Path.Combine(work, "warm")));
        var outDir = Path.Combine(work, "out");
        var job = new EmbedJob(mert, options, outDir, true);
        var clock = Stopwatch.StartNew();
        var rows = job.Run(BatchJob.Plan([audioDir], outDir));
        seconds = clock.Elapsed.TotalSeconds;
        if (rows.Any(r => r.Status != "ok")) throw new InvalidOperationException(rows.First(r => r.Status != "ok").Error);
        chosenBatch = job.BatchSize;
        clips = (int)Math.Round(rows.Sum(r => r.DurationSeconds ?? 0) / clipSeconds);
    }
    var peakMb = Rss("VmHWM");
    Console.WriteLine(JsonSerializer.Serialize(new
    {
        impl = "culturemert", mode, precision = precisionOption == Precision.BFloat16 ? "bf16" : "fp32",
        batch = batch > 0 ? batch.ToString(CultureInfo.InvariantCulture) : $"auto ({(chosenBatch is { } cb ? cb.ToString(CultureInfo.InvariantCulture) : "measuring")})", threads, clips, audio_s = clips * clipSeconds, seconds,
        throughput = clips * clipSeconds / seconds, peak_rss_mb = Math.Round(peakMb),
    }));
}
finally
{
    Directory.Delete(work, true);
}

/// <summary>A memory figure of this process from /proc/self/status, in MiB (VmRSS: now, VmHWM: peak).</summary>
static double Rss(string key) => File.ReadLines("/proc/self/status").Where(l => l.StartsWith(key + ":"))
    .Select(l => double.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024).FirstOrDefault();
