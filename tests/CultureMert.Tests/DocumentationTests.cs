using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace CultureMert.Tests;

/// <summary>
/// The documentation's links: every relative link in README.md and docs/*.md names a file that exists (and, for a
/// #fragment into a Markdown page, one of its headings or anchors); every heading the README had before it was split
/// into docs/ is still an anchor of README.md, so links people made to README.md#heading keep landing somewhere.
/// Anchors follow GitHub's rules: the heading lower-cased, letters, digits, spaces, '-' and '_' kept, spaces → '-',
/// "-1", "-2", ... added to repeats.
/// </summary>
public class DocumentationTests
{
    /// <summary>The README's heading anchors before the split (every "#"/"##"/"###" heading of README.md at that commit).</summary>
    static readonly string[] FormerReadmeAnchors =
    [
        "culturemertnet", "quick-start", "embedding-audio", "output", "using-a-real-checkpoint", "gpus",
        "pre-training-targets-tokenize", "token-statistics-across-cultures-tokens-stats", "continual-pre-training-pretrain",
        "data-parallel-pre-training-over-mpi", "the-benchmark-corpus-corpus-build", "the-demo-culturemert-in-miniature",
        "merging-models-merge-and-merge-analyze", "metrics-metrics", "probing-probe", "evaluation-grid-evaluate",
        "sharded-jobs-slurm-and-kubernetes", "slurm-a-job-array", "kubernetes-an-indexed-job", "datasets-dataset-prepare",
        "how-we-know-the-numbers-are-right", "random-models-init", "library", "speed-memory-and-precision", "benchmarks",
    ];

    static readonly Regex Fence = new(@"^\s*(```|~~~)");
    static readonly Regex Heading = new(@"^(#{1,6})\s+(.*?)\s*#*\s*$");
    static readonly Regex HtmlAnchor = new(@"<a\s+(?:[^>]*?\s)?(?:id|name)\s*=\s*[""']([^""']+)[""']", RegexOptions.IgnoreCase);
    static readonly Regex Link = new(@"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+""[^""]*"")?\s*\)");
    static readonly Regex CodeSpan = new(@"(`+)(?:(?!\1).)+?\1");

    [Fact]
    public void Slug_FollowsGitHubsRules()
    {
        Assert.Equal("pre-training-targets-tokenize", Slug("Pre-training targets: `tokenize`"));
        Assert.Equal("speed-memory-and-precision", Slug("Speed, memory and precision"));
        Assert.Equal("culturemertnet", Slug("CultureMERT.NET"));
        Assert.Equal(new HashSet<string> { "a", "a-1", "x" }, Anchors("# A\n## A\n```\n# not a heading\n```\n<a id=\"x\"></a>"));
    }

    [Fact]
    public void Readme_KeepsEveryFormerAnchor()
    {
        var now = Anchors(File.ReadAllText(Path.Combine(Root, "README.md")));
        var gone = FormerReadmeAnchors.Where(a => !now.Contains(a)).ToList();
        Assert.True(gone.Count == 0, $"README.md lost anchors (add a heading or <a id=...>): {string.Join(", ", gone)}");
    }

    [Fact]
    public void Readme_FitsAPage() => Assert.InRange(File.ReadAllLines(Path.Combine(Root, "README.md")).Length, 20, 250);

    [Fact]
    public void RelativeLinks_NameFilesAndHeadingsThatExist()
    {
        var pages = Directory.GetFiles(Path.Combine(Root, "docs"), "*.md").Order(StringComparer.Ordinal).Prepend(Path.Combine(Root, "README.md")).ToList();
        var problems = new List<string>();
        var checkedLinks = 0;
        foreach (var page in pages)
            foreach (var (number, line) in ProseLines(File.ReadAllText(page)))
                foreach (Match m in Link.Matches(CodeSpan.Replace(line, "")))
                {
                    var target = m.Groups[1].Value;
                    if (Regex.IsMatch(target, "^[a-z][a-z0-9+.-]*:", RegexOptions.IgnoreCase)) continue;   // http:, mailto:
                    checkedLinks++;
                    var hash = target.IndexOf('#');
                    var (path, fragment) = hash < 0 ? (target, "") : (target[..hash], target[(hash + 1)..]);
                    var file = path.Length == 0 ? page : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(page)!, path));
                    var where = $"{Path.GetRelativePath(Root, page)}:{number}: ({target})";
                    if (!File.Exists(file) && !Directory.Exists(file)) problems.Add($"{where}: {Path.GetRelativePath(Root, file)} does not exist");
                    else if (fragment.Length > 0 && file.EndsWith(".md") && !Anchors(File.ReadAllText(file)).Contains(fragment))
                        problems.Add($"{where}: no heading or anchor #{fragment} in {Path.GetRelativePath(Root, file)}");
                }
        Assert.True(checkedLinks > 50, $"only {checkedLinks} links found: is the link pattern broken?");
        Assert.Empty(problems);
    }

    static IEnumerable<(int Number, string Line)> ProseLines(string text)
    {
        var inside = false;
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            if (Fence.IsMatch(lines[i])) { inside = !inside; continue; }
            if (!inside) yield return (i + 1, lines[i]);
        }
    }

    static string Slug(string heading)
    {
        var text = Regex.Replace(heading, @"!?\[([^\]]*)\]\([^)]*\)", "$1");      // a link's text only
        text = Regex.Replace(text, "<[^>]+>", "").Replace("`", "").Replace("*", "");
        var kept = new StringBuilder();
        foreach (var c in text.ToLowerInvariant())
            if (c is ' ' or '-' or '_' || char.GetUnicodeCategory(c) is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter
                    or UnicodeCategory.OtherLetter or UnicodeCategory.DecimalDigitNumber or UnicodeCategory.OtherNumber or UnicodeCategory.LetterNumber)
                kept.Append(c);
        return kept.ToString().Replace(' ', '-');
    }

    static HashSet<string> Anchors(string text)
    {
        var found = new HashSet<string>();
        var seen = new Dictionary<string, int>();
        foreach (var (_, line) in ProseLines(text))
        {
            if (Heading.Match(line) is { Success: true } h)
            {
                var s = Slug(h.Groups[2].Value);
                var n = seen.GetValueOrDefault(s);
                seen[s] = n + 1;
                found.Add(n == 0 ? s : $"{s}-{n}");
            }
            foreach (Match a in HtmlAnchor.Matches(line)) found.Add(a.Groups[1].Value);
        }
        return found;
    }

    static readonly string Root = Fixtures.RepoRoot;
}
