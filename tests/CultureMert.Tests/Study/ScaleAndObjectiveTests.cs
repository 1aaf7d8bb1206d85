using CultureMert.Study;

namespace CultureMert.Tests.Study;

/// <summary>The scale sweep's points (model preset × steps) and the objective-versus-prior check, on hand-made inputs
/// against values worked out by hand.</summary>
public class ScaleAndObjectiveTests
{
    [Fact]
    public void SweepPoints_CrossPresetsAndStepFactors_AndRefuseBadItems()
    {
        var points = ScaleSweep.Points(StudyOptions.Default, "small:3, 10,1");
        Assert.Equal(["x1", "x10", "small-x3"], points.Select(p => p.Name));              // the run's preset first, factors ascending
        Assert.Equal(["tiny", "tiny", "small"], points.Select(p => p.Options.Preset));
        Assert.Equal([300, 3000, 900], points.Select(p => p.Options.BaseSteps));
        Assert.Equal([35, 350, 105], points.Select(p => p.Options.Stage1Steps));
        Assert.Equal(StudyOptions.Full.BaseSteps, points[1].Options.BaseSteps);          // --full is the sweep's x10
        Assert.Equal(StudyOptions.Full.Stage2Steps, points[1].Options.Stage2Steps);

        foreach (var bad in new[] { "1", "1,1", "1,0", "1,-2", "1,abc", "1,huge:3", "1,small:", "1,small:3:4" })
        {
            var e = Assert.Throws<ArgumentException>(() => ScaleSweep.Points(StudyOptions.Default, bad));
            Assert.Contains("--scale " + bad, e.Message);
        }
        Assert.Contains("unknown preset", Assert.Throws<ArgumentException>(() => ScaleSweep.Points(StudyOptions.Default, "1,huge:3")).Message);
    }

    [Fact]
    public void ObjectiveVsPrior_ComparesTheBasesFinalLossWithTheWesternTokenEntropy()
    {
        using var tmp = new Fixtures.TempDir();
        var paths = new StudyPaths(tmp.Path);
        Directory.CreateDirectory(paths.Tokens);
        // Western counts pooled over two cultures: token 0: 1 + 1, token 1: 2, token 2: 4 (p = 1/4, 1/4, 1/2);
        // the non-Western culture's counts must not enter.
        File.WriteAllText(Path.Combine(paths.Tokens, "histograms.csv"),
            "culture,codebook,token,count,probability\n" +
            "west-a,0,0,1,0.2\nwest-a,0,2,4,0.8\nwest-b,0,0,1,0.3333\nwest-b,0,1,2,0.6667\neast,0,1,100,1\n");
        var prior = -(0.25 * Math.Log(0.25) * 2 + 0.5 * Math.Log(0.5));                 // 1.0397 nats
        // Seed 0: 20 steps, the last two (the last tenth) at CE 1.0 and 0.8, accuracy 0.4 and 0.6; step 19 logged twice
        // (a resumed run), its last row counts. Seed 1: one step at CE 2.0.
        var log0 = "step,stage,loss,ce,ce_0,acc_0\n" + string.Concat(Enumerable.Range(0, 18).Select(s => $"{s},s,9,3.0,3.0,0.1\n")) +
                   "18,s,9,1.0,1.0,0.4\n19,s,9,5.0,5.0,0.0\n19,s,9,0.8,0.8,0.6\n";
        WriteLog(paths, 0, log0);
        WriteLog(paths, 1, "step,stage,loss,ce,ce_0,acc_0\n0,s,9,2.0,2.0,0.25\n");
        var cultures = new StudyCultures(["east", "west-a", "west-b"], ["west-a", "west-b"], ["east"]);

        var o = ObjectiveVsPrior.Measure(paths, cultures, pretrainSeeds: 3)!;             // seed 2 has no log: left out
        Assert.Equal(prior, o.PriorNats, 12);
        Assert.Equal(0.5, o.MostFrequentShare, 12);
        Assert.Equal([0, 1], o.Bases.Select(b => b.Seed));
        Assert.Equal(0.9, o.Bases[0].CrossEntropy, 12);
        Assert.Equal(0.5, o.Bases[0].Accuracy, 12);
        Assert.Equal(2.0, o.Bases[1].CrossEntropy, 12);
        Assert.Equal(1, o.BelowPrior);
        Assert.Equal((0.9 + 2.0) / 2 - prior, o.MeanGapNats, 12);
    }

    static void WriteLog(StudyPaths paths, int seed, string text)
    {
        var dir = paths.Run(StudyModel.RunName("base", seed));
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "log.csv"), text);
    }
}
