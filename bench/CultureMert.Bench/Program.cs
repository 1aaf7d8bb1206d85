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
//   forward  --batch B --clips K [--threads T] [--model DIR]   model forward on 5-s clips, all hidden states, time-mean
//   make-audio --clips K --out DIR                             K 5-s clips of music as 44.1 kHz WAV files of 4 clips each
//   embed    --batch B --audio DIR [--threads T] [--model DIR]   end to end over those files, as `culturemert embed` runs
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
//   precision --model DIR [--batch B]                         bf16 vs fp32 hidden states (and vs a fixture's golden when DIR
//                                                             has expected.safetensors): relative L2, pooled cosine, speed-up
//   train    [--size tiny|95m] [--batch B] [--crop-seconds S] [--steps N] [--warmup W] [--threads T]
//                                                             one pre-training step (forward, loss, backward, clip, AdamW) on
//                                                             random data, ms/step: the counterpart of reference_train.py
var mode = args.Length > 0 ? args[0] : "forward";
int Arg(string name, int fallback) { var i = Array.IndexOf(args, name); return i >= 0 ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback; }
string? Str(string name) { var i = Array.IndexOf(args, name); return i >= 0 ? args[i + 1] : null; }
var batch = Arg("--batch", mode == "train" ? 2 : 1);      // train: reference_train.py's default
var clips = Arg("--clips", 8);
var threads = Arg("--threads", Environment.ProcessorCount);
torch.set_num_threads(threads);

var work = Path.Combine(Path.GetTempPath(), $"cm-bench-{Environment.ProcessId}");
Directory.CreateDirectory(work);
try
{
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
            });
        }
        Console.WriteLine(JsonSerializer.Serialize(new { impl = "culturemert", mode, threads, frames, gflops = report }));
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
        float Step()
        {
            using var scope = NewDisposeScope();
            var mask = SpanMasking.ComputeMaskIndices(batch, frames, maskRng); // (B, T)
            using var terms = objective.Loss(model, audio, mask, targets, cqt);
            terms.Total.backward();
            Pretrainer.ClipGradNorm(named.Select(p => p.Param), 10.0);
            optimizer.Take();
            optimizer.ZeroGrad();
            return terms.Total.item<float>();                                 // synchronises, as Python's loss.item()
        }
        for (var i = 0; i < warmup; i++) Step();                              // first steps allocate, untimed
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
            impl = "culturemert", workload = "train", size, batch, crop_seconds = cropSeconds, frames, steps, warmup,
            ms_per_step = Math.Round(sec * 1000, 1), ms_per_step_min = Math.Round(times.Min() * 1000, 1),
            audio_s_per_s = batch * cropSeconds / sec, peak_rss_mib = Math.Round(Rss("VmHWM")), threads,
            @params = named.Sum(p => p.Param.numel()), loss_first = Math.Round(losses[0], 4), loss_last = Math.Round(losses[^1], 4),
        }));
        return;
    }
    if (mode == "make-audio")
    {
        // The shared input of the end-to-end runs: 20-s music files at 44.1 kHz (4 chunks of 5 s each).
        var audioDir = Str("--out") ?? throw new ArgumentException("make-audio needs --out DIR");
        var piece = DemoAudio.Pieces[0] with { Seconds = 4 * 5.0, SampleRate = 44100 };
        for (var f = 0; f * 4 < clips; f++)
            AudioFile.WriteWav(Path.Combine(audioDir, $"clip{f:D3}.wav"), DemoAudio.Render(piece, f), piece.SampleRate);
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
        // The CQT reconstruction target as pre-training computes it per crop (5 s), and on a long file (60 s).
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
        var short5 = Throughput(5, Math.Max(1, clips));
        var long60 = Throughput(60, Math.Max(1, clips / 4));
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            impl = "culturemert", mode, threads, clips, first_call_s = Math.Round(warmSeconds, 3),
            throughput_5s = Math.Round(short5, 1), throughput_60s = Math.Round(long60, 1), peak_rss_mb = Math.Round(Rss("VmHWM")),
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
    var rate = mert.Model.Config.SampleRate;
    const double clipSeconds = 5.0;
    var rng = new Random(1);
    double seconds;
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
    if (mode == "profile")
    {
        // Where the time goes in one forward pass, per stage (CNN, projection + positional conv, transformer layers).
        Console.Error.WriteLine($"after load: RSS {Rss("VmRSS"):F0} MiB, peak {Rss("VmHWM"):F0} MiB");
        var x = torch.rand(batch, (long)(clipSeconds * rate)) * 0.2 - 0.1;
        using var _ = inference_mode();
        for (var it = 0; it < 3; it++)
        {
            using var scope = NewDisposeScope();
            var c = Stopwatch.StartNew();
            var cnn = mert.Model.ExtractFeatures(x); cnn.sum().item<float>();
            var tCnn = c.Elapsed.TotalSeconds;
            var all = mert.Model.HiddenStates(x, 0); all[0].sum().item<float>();
            var tFront = c.Elapsed.TotalSeconds - tCnn;
            var full = mert.Model.HiddenStates(x); full[^1].sum().item<float>();
            var tFull = c.Elapsed.TotalSeconds - tCnn - tFront;
            Console.Error.WriteLine($"cnn {tCnn:F3} s, cnn+proj+pos {tFront:F3} s, full forward {tFull:F3} s (layers ≈ {tFull - tFront:F3} s); " +
                                    $"RSS {Rss("VmRSS"):F0} MiB, peak {Rss("VmHWM"):F0} MiB");
        }
        return;
    }
    if (mode == "forward")
    {
        var x = torch.rand(batch, (long)(clipSeconds * rate)) * 0.2 - 0.1;    // (batch, samples)
        void Step()
        {
            using var scope = NewDisposeScope();
            using var _ = inference_mode();
            var states = mert.Model.HiddenStates(x);
            var pooled = stack(states.Select(s => s.mean([1])).ToArray(), 1);  // (batch, layers, hidden)
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
        var files = Directory.EnumerateFiles(audioDir, "*.wav").Order().ToList();
        var warm = new EmbedJob(mert, new EmbedOptions { BatchSize = batch }, Path.Combine(work, "warm"), true);
        warm.Run(BatchJob.Plan([files[0]], Path.Combine(work, "warm")));
        var outDir = Path.Combine(work, "out");
        var job = new EmbedJob(mert, new EmbedOptions { BatchSize = batch }, outDir, true);
        var clock = Stopwatch.StartNew();
        var rows = job.Run(BatchJob.Plan([audioDir], outDir));
        seconds = clock.Elapsed.TotalSeconds;
        if (rows.Any(r => r.Status != "ok")) throw new InvalidOperationException(rows.First(r => r.Status != "ok").Error);
        clips = (int)Math.Round(rows.Sum(r => r.DurationSeconds ?? 0) / clipSeconds);
    }
    var peakMb = Rss("VmHWM");
    Console.WriteLine(JsonSerializer.Serialize(new
    {
        impl = "culturemert", mode, batch, threads, clips, audio_s = clips * clipSeconds, seconds,
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
