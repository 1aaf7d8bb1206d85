using CultureMert.Reports;
using SkiaSharp;

namespace CultureMert.Tests.Reports;

public class HtmlReportTests
{
    [Fact]
    public void Write_OnePageWithTablesAndInlinePlots_RendersWithoutTheNetwork()
    {
        using var dir = new Fixtures.TempDir();
        BarPlot.SavePng(dir["bars.png"], "ROC-AUC per task", "ROC-AUC", ["greek", "turkish"], [("base", [0.61, 0.72], [0.02, 0.03])]);
        using (var white = new SKBitmap(400, 200))                           // a blank plot, the check's negative control
        {
            white.Erase(SKColors.White);
            using var data = white.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(dir["blank.png"], data.ToArray());
        }
        File.WriteAllText(dir["other.md"], "# Other\n");
        File.WriteAllText(dir["other.html"], "<p>other</p>");
        File.WriteAllText(dir["REPORT.md"], """
            # Study of λ

            | model | ROC-AUC |
            |---|---|
            | base | 61.0 ± 2.0 |
            | cpt-multi | **72.5** ± 3.0 |

            ![bars](bars.png)

            ![blank](blank.png)

            Full report: [other](other.md), data: [scores](scores.csv).
            """);

        var html = File.ReadAllText(HtmlReport.Write(dir["REPORT.md"]));
        Assert.Equal(dir["REPORT.html"], HtmlReport.Write(dir["REPORT.md"]));
        Assert.Contains("<title>Study of λ</title>", html);
        Assert.Contains("href=\"other.html\"", html);                        // the twin page, which exists
        Assert.Contains("href=\"scores.csv\"", html);
        Assert.DoesNotContain("<script", html);

        var page = RenderedPage.Load(dir["REPORT.html"]);
        Assert.Empty(page.OtherRequests);
        Assert.Contains("Study of λ", page.Text);
        Assert.Contains("cpt-multi\t72.5 ± 3.0", page.Text);                  // a table row, as cells
        var bars = page.Images.Single(i => i.Alt == "bars");
        var blank = page.Images.Single(i => i.Alt == "blank");
        Assert.True(bars.NaturalWidth > 0 && blank.NaturalWidth == 400);
        Assert.True(page.InkShare(bars) > 0.02, $"bars: {page.InkShare(bars):P1}");
        Assert.True(page.InkShare(blank) < 0.001, $"blank: {page.InkShare(blank):P1}");
    }
}
