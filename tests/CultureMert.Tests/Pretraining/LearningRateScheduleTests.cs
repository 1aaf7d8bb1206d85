using CultureMert.Pretraining;

namespace CultureMert.Tests.Pretraining;

public class LearningRateScheduleTests
{
    // A: 10 steps, warm-up 4 → peak 1.0, then 6 linear decay steps (4..9) to 0.1.
    private static readonly StageSchedule A = new(10, 4, 1.0, 0.1, LrDecay.Linear);
    // B: 12 steps, warm-up 4 → peak 2.0, then 8 cosine decay steps (4..11) to 0.
    private static readonly StageSchedule B = new(12, 4, 2.0, 0.0, LrDecay.Cosine);

    [Theory]
    [InlineData(0, 0.25)]   // warm-up start: 1·1/4
    [InlineData(1, 0.5)]    // warm-up middle: 1·2/4
    [InlineData(3, 1.0)]    // warm-up end: peak
    [InlineData(4, 0.85)]   // first decay step: p = 1/6 → 0.1 + 0.9·5/6
    [InlineData(6, 0.55)]   // decay middle: p = 3/6 → 0.1 + 0.9·0.5
    [InlineData(9, 0.1)]    // decay end: floor
    public void LinearStage(int step, double lr)
    {
        var (stage, got) = LearningRateSchedule.At(new[] { A }, step);
        Assert.Equal(0, stage);
        Assert.Equal(lr, got, 12);
    }

    [Theory]
    [InlineData(0, 0.5)]
    [InlineData(3, 2.0)]
    [InlineData(5, 1.7071067811865475)]  // p = 2/8: 2·(1 + cos(π/4))/2 = 1 + √2/2
    [InlineData(7, 1.0)]                 // p = 4/8: 2·(1 + 0)/2
    [InlineData(11, 0.0)]                // p = 1: floor
    public void CosineStage(int step, double lr)
    {
        Assert.Equal(lr, LearningRateSchedule.At(new[] { B }, step).Lr, 12);
    }

    [Fact]
    public void SecondStageReWarmsFromNearZero()
    {
        var stages = new[] { A, B };
        Assert.Equal((0, 0.1), Round(LearningRateSchedule.At(stages, 9)));   // last step of A: floor
        Assert.Equal((1, 0.5), Round(LearningRateSchedule.At(stages, 10)));  // first step of B: 2·1/4
        Assert.Equal((1, 2.0), Round(LearningRateSchedule.At(stages, 13)));  // end of B's warm-up
        Assert.Equal((1, 1.0), Round(LearningRateSchedule.At(stages, 17)));  // B local 7
    }

    [Fact]
    public void PastTheEndIsTheLastFloor()
    {
        var stages = new[] { B, A };  // 22 steps in all, last floor 0.1
        Assert.Equal((1, 0.1), Round(LearningRateSchedule.At(stages, 22)));
        Assert.Equal((1, 0.1), Round(LearningRateSchedule.At(stages, 1_000_000)));
    }

    [Fact]
    public void NoWarmupAndAllWarmup()
    {
        Assert.Equal(0.75, LearningRateSchedule.At(new[] { new StageSchedule(4, 0, 1.0, 0.0, LrDecay.Linear) }, 0).Lr, 12);
        Assert.Equal(0.5, LearningRateSchedule.At(new[] { new StageSchedule(4, 4, 1.0, 0.0, LrDecay.Linear) }, 1).Lr, 12);
    }

    [Fact]
    public void MertRecipeValues()
    {
        // spec §7: peak 5e-4, warm-up 32,000, linear to 0 at 400,000.
        var mert = new[] { new StageSchedule(400_000, 32_000, 5e-4, 0.0, LrDecay.Linear) };
        Assert.Equal(5e-4 / 32_000, LearningRateSchedule.At(mert, 0).Lr, 15);
        Assert.Equal(5e-4, LearningRateSchedule.At(mert, 31_999).Lr, 15);
        Assert.Equal(2.5e-4, LearningRateSchedule.At(mert, 32_000 + 184_000 - 1).Lr, 15);
    }

    [Theory]
    [InlineData(0, 0, 1.0, 0.0, LrDecay.Linear)]
    [InlineData(10, 11, 1.0, 0.0, LrDecay.Linear)]
    [InlineData(10, -1, 1.0, 0.0, LrDecay.Linear)]
    [InlineData(10, 2, 0.0, 0.0, LrDecay.Linear)]
    [InlineData(10, 2, 1.0, 2.0, LrDecay.Linear)]
    [InlineData(10, 2, 1.0, -0.1, LrDecay.Linear)]
    [InlineData(10, 2, double.NaN, 0.0, LrDecay.Linear)]
    [InlineData(10, 2, 1.0, 0.0, (LrDecay)2)]          // no such decay
    public void InvalidStagesThrow(int steps, int warm, double peak, double floor, LrDecay decay)
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            LearningRateSchedule.At(new[] { new StageSchedule(steps, warm, peak, floor, decay) }, 0));
        Assert.Contains("stage 0", ex.Message);
    }

    [Fact]
    public void EmptyAndNegativeStepThrow()
    {
        Assert.Throws<ArgumentException>(() => LearningRateSchedule.At(Array.Empty<StageSchedule>(), 0));
        Assert.Throws<ArgumentException>(() => LearningRateSchedule.At(new[] { A }, -1));
    }

    private static (int, double) Round((int Stage, double Lr) x) => (x.Stage, Math.Round(x.Lr, 12));
}
