using PuppeteerSharp;
using SkiaSharp;

namespace CultureMert.Tests.Reports;

/// <summary>An image as the browser laid it out: where it is on the page, in CSS pixels, and whether it decoded.</summary>
public sealed record ImageBox(string Alt, double X, double Y, double Width, double Height, int NaturalWidth);

/// <summary>
/// An HTML report as a reader sees it: loaded from its file in headless Chromium (Debian's <c>chromium</c>), with its
/// rendered text, the boxes of its images, a full-page screenshot, and every request it tried to make beyond its own file.
/// </summary>
public sealed class RenderedPage
{
    public required string Text { get; init; }
    public required IReadOnlyList<ImageBox> Images { get; init; }
    public required SKBitmap Screenshot { get; init; }
    public required IReadOnlyList<string> OtherRequests { get; init; }

    public static RenderedPage Load(string htmlPath)
    {
        CultureMert.Setup.SystemPackages.Require(CultureMert.Setup.SystemPackages.Browser);
        return LoadAsync(Path.GetFullPath(htmlPath)).GetAwaiter().GetResult();
    }

    static async Task<RenderedPage> LoadAsync(string htmlPath)
    {
        var url = new Uri(htmlPath).AbsoluteUri;
        await using var browser = await Puppeteer.LaunchAsync(new LaunchOptions
        {
            Headless = true, ExecutablePath = CultureMert.Setup.SystemPackages.Which("chromium"),
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--font-render-hinting=none"],
        });
        await using var page = await browser.NewPageAsync();
        await page.SetViewportAsync(new ViewPortOptions { Width = 1200, Height = 900, DeviceScaleFactor = 1 });
        var others = new List<string>();
        await page.SetRequestInterceptionAsync(true);
        page.Request += async (_, e) =>
        {
            if (e.Request.Url == url || e.Request.Url.StartsWith("data:", StringComparison.Ordinal)) await e.Request.ContinueAsync();
            else { lock (others) others.Add(e.Request.Url); await e.Request.AbortAsync(); }   // a self-contained page asks for nothing
        };
        await page.GoToAsync(url, WaitUntilNavigation.Load);
        var text = await page.EvaluateExpressionAsync<string>("document.body.innerText");
        var images = await page.EvaluateExpressionAsync<ImageBox[]>("""
            [...document.images].map(i => { const r = i.getBoundingClientRect();
              return { alt: i.alt, x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height, naturalWidth: i.naturalWidth }; })
            """);
        var png = await page.ScreenshotDataAsync(new ScreenshotOptions { FullPage = true, Type = ScreenshotType.Png });
        return new RenderedPage { Text = text, Images = images, Screenshot = SKBitmap.Decode(png), OtherRequests = others };
    }

    /// <summary>
    /// The share of the box's pixels on screen that differ from the box's commonest colour (its background): near 0 for
    /// a blank or missing plot, a few percent or more for axes, labels, bars and lines.
    /// </summary>
    public double InkShare(ImageBox box)
    {
        var counts = new Dictionary<SKColor, int>();
        var (x0, y0) = ((int)Math.Ceiling(box.X), (int)Math.Ceiling(box.Y));
        var (x1, y1) = (Math.Min(Screenshot.Width, (int)(box.X + box.Width)), Math.Min(Screenshot.Height, (int)(box.Y + box.Height)));
        for (var y = y0; y < y1; y++)
            for (var x = x0; x < x1; x++)
            {
                var c = Screenshot.GetPixel(x, y);
                counts[c] = counts.GetValueOrDefault(c) + 1;
            }
        var total = counts.Values.Sum();
        return total == 0 ? 0 : 1 - (double)counts.Values.Max() / total;
    }

    /// <summary>The checks every report gets: it asked for nothing, every image decoded and shows something.</summary>
    public void AssertSelfContainedWithVisiblePlots(int images)
    {
        Assert.Empty(OtherRequests);
        Assert.Equal(images, Images.Count);
        foreach (var box in Images)
        {
            Assert.True(box.NaturalWidth > 0, $"{box.Alt}: the image did not decode");
            Assert.True(box.Width > 200 && box.Height > 100, $"{box.Alt}: laid out at {box.Width}×{box.Height}");
            var ink = InkShare(box);
            Assert.True(ink > 0.02, $"{box.Alt}: {ink:P1} of its pixels differ from its background (blank?)");
        }
    }
}
