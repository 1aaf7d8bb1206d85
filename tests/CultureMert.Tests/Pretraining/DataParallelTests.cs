using System.Diagnostics;
using CultureMert.Checkpoints;
using CultureMert.Pretraining;
using static TorchSharp.torch;

namespace CultureMert.Tests.Pretraining;

/// <summary>
/// Data-parallel pre-training over MPI: the tiny model under <c>mpirun -np 2</c> (the built CLI, two processes) against
/// one process on the same recipe. Rank r runs micro-batches r, r + 2, ... with one process's seeds, so only the order
/// of the gradient sums differs: the weights agree to float rounding, not bit for bit.
/// </summary>
[Collection(ProcessWideMeasurements.Name)]
public class DataParallelTests
{
    /// <summary>mpirun's path, installed first where this process may (as the feature itself does); else the test fails saying how.</summary>
    public static string RequireMpirun()
    {
        CultureMert.Setup.SystemPackages.Require(CultureMert.Setup.SystemPackages.Mpi);
        return CultureMert.Setup.SystemPackages.Which("mpirun")!;
    }

    internal static string Cli => Path.Combine(AppContext.BaseDirectory, "CultureMert.Cli.dll");

    /// <summary>The dotnet that runs these tests (dotnet test sets DOTNET_HOST_PATH), else the one on the PATH.</summary>
    internal static string Dotnet => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    /// <summary>Two stages of 6 steps of 2 micro-batches of 4 crops; stage 1 freezes the CNN (no gradient on any rank).</summary>
    internal static string WriteRecipe(Fixtures.TempDir dir, int gradAccumulation)
    {
        File.WriteAllText(dir["r.json"], $$"""
            { "base": "init:tiny", "targets": { "teacher": "kmeans-fit", "k": 8 },
              "sources": { "a": { "synthesize": { "piece": "makam-hicaz", "clips": 3, "seconds": 3, "seed": 1 } },
                           "w": { "synthesize": { "piece": "western-major", "clips": 3, "seconds": 3, "seed": 2 } } },
              "crop_seconds": 1, "batch_size": 4, "grad_accumulation": {{gradAccumulation}}, "seed": 7, "checkpoint_every": 4,
              "stages": [ { "name": "s1", "steps": 6, "warmup_steps": 2, "peak_lr": 1e-3, "floor_lr": 1e-4, "decay": "cosine",
                            "mix": { "a": 0.8, "w": 0.2 }, "trainable": ["feature_projection.*", "masked_spec_embed", "encoder.layers.*", "final_proj.*", "label_embs_concat", "encoder_cqt_model.*"] },
                          { "name": "s2", "steps": 6, "warmup_steps": 2, "peak_lr": 1e-3, "mix": { "a": 1 } } ] }
            """);
        return dir["r.json"];
    }

    /// <summary>mpirun -np <paramref name="ranks"/> dotnet CultureMert.Cli.dll ARGS; exit code and stdout + stderr.</summary>
    internal static (int Code, string Output) MpiRun(int ranks, params string[] args)
    {
        var start = new ProcessStartInfo(RequireMpirun()) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        // Containers often forbid the cross-process memory reads (CMA) Open MPI's shared-memory transport uses for large
        // messages; copying through the shared segment instead works everywhere.
        start.Environment["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none";
        foreach (var a in (string[])["--allow-run-as-root", "--oversubscribe", "-np", ranks.ToString(), Dotnet, Cli, .. args]) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        process.StandardInput.Close();                                            // mpirun forwards stdin to rank 0: none
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"mpirun -np {ranks} did not finish within 120 s:\n{stdout.Result}\n{stderr.Result}");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    /// <summary>
    /// max |a − b| / max |b| ≤ <paramref name="relative"/> for each tensor of two safetensors files with the same keys
    /// and shapes — except the attention key biases: softmax over the keys is shift-invariant (q·(k + b) adds the same
    /// q·b to every key's score of a query), so their gradient is zero in exact arithmetic and what they hold is
    /// rounding noise scaled up by Adam's 1 / (√v + eps). For them both runs must merely keep that noise tiny (|w| ≤ <paramref name="noise"/>).
    /// </summary>
    internal static void AssertClose(string expected, string actual, double relative, double noise = 1e-5, double absolute = 0)
    {
        var (a, b) = (SafeTensors.Load(expected), SafeTensors.Load(actual));
        try
        {
            Assert.Equal(a.Keys.Order(), b.Keys.Order());
            var bad = new List<string>();
            foreach (var (k, t) in a)
            {
                var scale = t.abs().max().to(ScalarType.Float64).item<double>();
                if (k.EndsWith("attention.k_proj.bias"))
                {
                    var other = b[k].abs().max().to(ScalarType.Float64).item<double>();
                    if (!(Math.Max(scale, other) <= noise)) bad.Add($"{k}: max |w| {scale:G3} and {other:G3}, expected rounding noise ≤ {noise:G1} (its gradient is zero)");
                    continue;
                }
                var diff = Fixtures.MaxAbsDiff(b[k], t);
                if (!(diff <= Math.Max(relative * Math.Max(scale, 1e-12), absolute))) bad.Add($"{k} differs by {diff:G3} (max |w| {scale:G3})");
            }
            Assert.True(bad.Count == 0, $"{actual}: more than {relative:G1} relative:\n" + string.Join("\n", bad));
        }
        finally { foreach (var t in a.Values.Concat(b.Values)) t.Dispose(); }
    }

    /// <summary>
    /// fp32: weights to 1e-5 relative, losses to 1e-4. bf16 (given on the command line, so the override reaches every
    /// rank): the two runs round each weight's bf16 copy from fp32 masters that differ in the last bits; a copy that rounds
    /// the other way changes a product by a bf16 unit (2⁻⁸ relative), and Adam turns such a change of a small gradient into
    /// a change of the update of up to the learning rate. So the runs drift apart by a fraction of one update per step:
    /// measured after 12 steps, at most 0.83 of one update at the peak LR of 1e-3 (8.3e-4); the bound is two updates (2e-3)
    /// and the losses within 1 %. The attention key biases' rounding noise is larger in bf16 too (measured 7.7e-5; bound 5e-4).
    /// </summary>
    [Theory]
    [InlineData("fp32", 1e-5, 0.0, 1e-5)]
    [InlineData("bf16", 0.0, 2e-3, 5e-4)]
    public void Pretrain_TwoRanksOverMpi_MatchesOneProcess(string precision, double tolerance, double absolute, double keyBiasNoise)
    {
        using var dir = new Fixtures.TempDir();
        var recipe = WriteRecipe(dir, gradAccumulation: 2);
        var one = Pretrainer.Run(Recipe.Load(recipe) with { Precision = CultureMert.Model.Precisions.Parse(precision) }, dir["one"],
                                 new PretrainOptions(AllowSlowBf16: true), _ => { });
        Assert.True(one.Finished);

        var (code, output) = MpiRun(2, "pretrain", "--recipe", recipe, "--out", dir["two"], "--precision", precision, "--allow-slow-bf16");
        Assert.True(code == 0, output);
        Assert.Contains("data-parallel over 2 MPI ranks", output);
        foreach (var stage in new[] { "s1", "s2" })
            foreach (var file in new[] { "model.safetensors", "heads.safetensors" })
                AssertClose(Path.Combine(dir["one"], "stages", stage, file), Path.Combine(dir["two"], "stages", stage, file), tolerance, keyBiasNoise, absolute);
        Assert.Contains($"\"precision\": \"{precision}\"", File.ReadAllText(Path.Combine(dir["two"], "stages", "s2", "training.json")));
        // rank 0 alone wrote the log: one row per step, and the losses are one process's to rounding
        var (la, lb) = (File.ReadAllLines(dir["one/log.csv"]), File.ReadAllLines(dir["two/log.csv"]));
        Assert.Equal(la.Length, lb.Length);
        foreach (var (ra, rb) in la.Skip(1).Zip(lb.Skip(1)))
        {
            var (a, b) = (double.Parse(ra.Split(',')[2]), double.Parse(rb.Split(',')[2]));
            Assert.True(Math.Abs(a - b) <= (precision == "fp32" ? 1e-4 : 1e-2 * Math.Abs(a)), $"loss {b} vs one process's {a}");
        }
    }

    [Fact]
    public void Pretrain_GradAccumulationNotAMultipleOfTheRanks_EveryRankAbortsNamingItself()
    {
        using var dir = new Fixtures.TempDir();
        var recipe = WriteRecipe(dir, gradAccumulation: 3);
        var clock = Stopwatch.StartNew();
        var (code, output) = MpiRun(2, "pretrain", "--recipe", recipe, "--out", dir["run"]);
        Assert.NotEqual(0, code);
        Assert.Matches("rank [01] of 2: .*grad_accumulation 3 is not a multiple of the 2 ranks", output);
        Assert.Contains("MPI_Abort", output);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"the job took {clock.Elapsed} to fail");
    }
}
