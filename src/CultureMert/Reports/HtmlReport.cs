using System.Net;
using System.Text;
using CultureMert.IO;
using Markdig;
using Markdig.Syntax;
using Markdig.Syntax.Inlines;

namespace CultureMert.Reports;

/// <summary>
/// A Markdown report as one self-contained HTML page beside it (<c>REPORT.md</c> → <c>REPORT.html</c>): tables, every
/// local image inlined as a data URI, the style in the page, nothing fetched from a network — one file to open, mail or
/// archive. Links to a neighbouring <c>.md</c> report point to its <c>.html</c> twin when there is one.
/// </summary>
public static class HtmlReport
{
    static readonly MarkdownPipeline Pipeline = new MarkdownPipelineBuilder().UsePipeTables().UseAutoIdentifiers().Build();

    /// <summary>Writes the page for <paramref name="markdownPath"/> (atomically); returns its path.</summary>
    public static string Write(string markdownPath)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(markdownPath))!;
        var document = Markdown.Parse(File.ReadAllText(markdownPath), Pipeline);
        foreach (var link in document.Descendants<LinkInline>())
            link.Url = link.IsImage ? Inlined(folder, link.Url) : HtmlTwin(folder, link.Url);
        var title = document.Descendants<HeadingBlock>().FirstOrDefault() is { Inline: { } h }
            ? string.Concat(h.Descendants<LiteralInline>().Select(l => l.Content.ToString())) : Path.GetFileNameWithoutExtension(markdownPath);
        var page = new StringBuilder()
            .Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
            .Append("<title>").Append(WebUtility.HtmlEncode(title)).Append("</title>\n<style>").Append(Style).Append("</style>\n</head>\n<body>\n<main>\n")
            .Append(document.ToHtml(Pipeline))
            .Append("</main>\n</body>\n</html>\n");
        var path = Path.ChangeExtension(markdownPath, ".html");
        AtomicFile.WriteText(path, page.ToString());
        return path;
    }

    /// <summary>A local PNG/SVG/JPEG as a data URI; anything else (a remote or missing image) as it was.</summary>
    static string? Inlined(string folder, string? url)
    {
        if (url is null || url.Contains("://") || url.StartsWith("data:", StringComparison.Ordinal)) return url;
        var file = Path.Combine(folder, Uri.UnescapeDataString(url));
        var type = Path.GetExtension(file).ToLowerInvariant() switch
        {
            ".png" => "image/png",
            ".svg" => "image/svg+xml",
            ".jpg" or ".jpeg" => "image/jpeg",
            _ => null,
        };
        return type is null || !File.Exists(file) ? url : $"data:{type};base64,{Convert.ToBase64String(File.ReadAllBytes(file))}";
    }

    /// <summary><c>x/report.md</c> → <c>x/report.html</c> when that page exists; other links as they were.</summary>
    static string? HtmlTwin(string folder, string? url)
    {
        if (url is null || url.Contains("://") || !url.EndsWith(".md", StringComparison.OrdinalIgnoreCase)) return url;
        var twin = Path.ChangeExtension(url, ".html");
        return File.Exists(Path.Combine(folder, Uri.UnescapeDataString(twin))) ? twin : url;
    }

    const string Style = """

        body { font: 15px/1.5 system-ui, "DejaVu Sans", sans-serif; color: #1f2328; margin: 0; background: #fff; }
        main { max-width: 1100px; margin: 0 auto; padding: 24px 32px 64px; }
        h1, h2, h3 { line-height: 1.25; margin: 1.6em 0 0.6em; }
        h1 { border-bottom: 1px solid #d0d7de; padding-bottom: 0.3em; }
        table { border-collapse: collapse; margin: 1em 0; display: block; overflow-x: auto; font-variant-numeric: tabular-nums; }
        th, td { border: 1px solid #d0d7de; padding: 4px 10px; }
        th { background: #f6f8fa; }
        tr:nth-child(even) td { background: #fafbfc; }
        img { max-width: 100%; height: auto; display: block; margin: 1em 0; }
        code { font: 13px ui-monospace, "DejaVu Sans Mono", monospace; background: #f6f8fa; padding: 0.1em 0.3em; border-radius: 4px; }
        pre code { display: block; padding: 12px; overflow-x: auto; }
        blockquote { color: #57606a; border-left: 4px solid #d0d7de; margin: 1em 0; padding: 0 1em; }

        """;
}
