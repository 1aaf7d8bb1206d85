using CultureMert.Merging;

namespace CultureMert.Tests.Merging;

/// <summary>The merge methods' spellings (as written in --method, merge.json and reports) and the options each one reads.</summary>
public class MergeMethodTests
{
    [Theory]
    [InlineData("task-arithmetic", MergeMethod.TaskArithmetic)]
    [InlineData("ties", MergeMethod.Ties)]
    [InlineData("dare-linear", MergeMethod.DareLinear)]
    [InlineData("dare-ties", MergeMethod.DareTies)]
    [InlineData("slerp", MergeMethod.Slerp)]
    [InlineData("model-stock", MergeMethod.ModelStock)]
    [InlineData("breadcrumbs", MergeMethod.Breadcrumbs)]
    [InlineData("della", MergeMethod.Della)]
    [InlineData("tsv", MergeMethod.Tsv)]
    [InlineData("iso-c", MergeMethod.IsoC)]
    public void ParseAndName_RoundTripTheMergekitSpellings(string name, MergeMethod method)
    {
        Assert.Equal(method, MergeMethods.Parse(name));
        Assert.Equal(name, method.Name());
    }

    [Theory]
    [InlineData("average")]
    [InlineData("TIES")]
    [InlineData("task_arithmetic")]
    public void Parse_Other_NamesTheValueAndListsEveryMethod(string name)
    {
        var e = Assert.Throws<ArgumentException>(() => MergeMethods.Parse(name));
        Assert.Equal($"--method {name} is not one of task-arithmetic, ties, dare-linear, dare-ties, slerp, model-stock, breadcrumbs, della, tsv, iso-c.", e.Message);
    }

    [Fact]
    public void Options_EachMethodReadsItsOwn()
    {
        //                 TA     TIES   DARE-l DARE-t SLERP  Stock  Bread  DELLA  TSV    Iso-C
        Assert.Equal([false, true, true, true, false, false, true, true, false, false], Enum.GetValues<MergeMethod>().Select(m => m.UsesDensity()));
        Assert.Equal([false, false, true, true, false, false, false, true, false, false], Enum.GetValues<MergeMethod>().Select(m => m.UsesSeed()));
        Assert.Equal([true, true, true, true, false, false, true, true, true, true], Enum.GetValues<MergeMethod>().Select(m => m.UsesWeights()));
    }
}
