using CultureMert.Distributed;
using CultureMert.IO;
using CultureMert.Pretraining;
using static TorchSharp.torch;

namespace CultureMert.Tests.Pretraining;

/// <summary>The run folder's checkpoints (written whole, the newest kept), a step's figures summed over ranks, and log.csv's row.</summary>
public class RunFolderTests
{
    static TrainingState State(int step) => new(step, 0, 0, "h", new() { ["a"] = step });

    [Fact]
    public void WriteDirectory_ReplacesTheFolderWhole_AndAFailedWriteLeavesTheOldOne()
    {
        using var dir = new Fixtures.TempDir();
        var target = dir["x"];
        AtomicFile.WriteDirectory(target, d => File.WriteAllText(Path.Combine(d, "old.txt"), "1"));
        AtomicFile.WriteDirectory(target, d => File.WriteAllText(Path.Combine(d, "new.txt"), "2"));
        Assert.Equal(["new.txt"], Directory.GetFiles(target).Select(Path.GetFileName));
        Assert.Throws<IOException>(() => AtomicFile.WriteDirectory(target, d => throw new IOException("disk full")));
        Assert.Equal("2", File.ReadAllText(Path.Combine(target, "new.txt")));
        Assert.Equal([target], Directory.GetDirectories(dir.Path).Where(d => !Path.GetFileName(d).StartsWith(".cmtmp.")));
    }

    [Fact]
    public void SaveCheckpoint_KeepsTheNewest_AndLatestSkipsFoldersWithoutState()
    {
        using var dir = new Fixtures.TempDir();
        var run = new RunFolder(dir["run"]);
        foreach (var step in new[] { 4, 8, 12 }) run.SaveCheckpoint(State(step), keep: 2, d => File.WriteAllText(Path.Combine(d, "model.safetensors"), ""));
        Assert.Equal(["step-0000008", "step-0000012"], Directory.GetDirectories(run.Checkpoints).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(12, RunFolder.LoadState(run.LatestCheckpoint()!).Step);
        Directory.CreateDirectory(Path.Combine(run.Checkpoints, "step-0000016"));         // no state.json: not a checkpoint
        Assert.EndsWith("step-0000012", Pretrainer.LatestCheckpoint(run.Checkpoints));
        Assert.Null(new RunFolder(dir["empty"]).LatestCheckpoint());
    }

    /// <summary>Two ranks that drew the same figures: every summed figure doubles, each source's seconds included.</summary>
    sealed class TwinRanks : ICommunicator
    {
        public int Rank => 0;
        public int Size => 2;
        public void AllReduceSum(Span<float> buffer) { foreach (ref var v in buffer) v *= 2; }
        public void AllReduceSum(Span<double> buffer) { foreach (ref var v in buffer) v *= 2; }
        public void Broadcast(Span<float> buffer, int root) { }
        public void Barrier() { }
    }

    static StepStats OneMicroBatchOfTwo()
    {
        var stats = new StepStats(codebooks: 2);
        using var terms = new ObjectiveTerms(tensor(3f), tensor(new[] { 1f, 2f }), tensor(0.5f), tensor(0.25f), tensor(new[] { 0.5f, 0.75f }));
        using var targets = tensor(new long[] { 0, 1, 0, 1, 2, 1 }).reshape(3, 2);            // (S, n_q): 2 of 3 are 0, all 3 are 1
        stats.Add(terms, targets, accum: 2);
        stats.Drawn["a"] = 4;
        return stats;
    }

    [Fact]
    public void StepStats_AddAndSumOverRanks_EachFieldByName()
    {
        var one = OneMicroBatchOfTwo();
        Assert.Equal((1.5, 0.25, 0.125, 3.0), (one.Loss, one.FeaturesPen, one.CqtMse, one.MaskedFrames));
        Assert.Equal([0.5, 1.0], one.Ce);
        Assert.Equal([0.25, 0.375], one.Acc);
        Assert.Equal([1 / 3.0, 0.5], one.Chance);

        var sum = one.SumOver(new TwinRanks(), ["a", "w"]);
        Assert.Equal((3.0, 0.5, 0.25, 6.0), (sum.Loss, sum.FeaturesPen, sum.CqtMse, sum.MaskedFrames));
        Assert.Equal([1.0, 2.0], sum.Ce);
        Assert.Equal([0.5, 0.75], sum.Acc);
        Assert.Equal([2 / 3.0, 1.0], sum.Chance);
        Assert.Equal(new Dictionary<string, double> { ["a"] = 8, ["w"] = 0 }, sum.Drawn);
    }

    [Fact]
    public void TrainingLog_WritesATypedRowUnderTheHeader()
    {
        using var dir = new Fixtures.TempDir();
        Assert.Equal("step,stage,loss,lr,ce,ce_0,ce_1,acc_0,acc_1,chance_0,chance_1,features_pen,cqt_mse,grad_norm,masked_frames,ms_per_step,ms_data,ms_forward,ms_backward,ms_allreduce,ms_clip,ms_optimizer,steps_per_s,audio_s_per_s,eta_s,rss_mib,seconds_a,seconds_w",
                     string.Join(",", TrainingLog.ColumnsFor(2, ["a", "w"])));
        var stats = OneMicroBatchOfTwo();
        stats.GradNorm = 0.125;
        using (var log = new TrainingLog(dir["log.csv"], TrainingLog.ColumnsFor(2, ["a", "w"]), 0))
            log.Write(new TrainingLogRow(7, "s1", 1e-3, stats, 250, 32, 60.5, 100.5, [("a", 12.5), ("w", 3)]));
        Assert.Equal("7,s1,1.5,0.001,1.5,0.5,1,0.25,0.375,0.333333,0.5,0.25,0.125,0.125,3,250,0,0,0,0,0,0,4,32,60.5,100.5,12.5,3", File.ReadAllLines(dir["log.csv"])[1]);
    }
}
