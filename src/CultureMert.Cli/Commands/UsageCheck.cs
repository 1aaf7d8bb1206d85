using System.CommandLine;
using System.CommandLine.Parsing;

namespace CultureMert.Cli.Commands;

/// <summary>
/// What is wrong with a command line before any work starts: the parser's errors, and any token that looks like an
/// option but is none of the command's. A command that takes input paths would otherwise read <c>--layer 0</c> (for
/// <c>--layers</c>) as two files and run. Each problem names the nearest valid option.
/// </summary>
static class UsageCheck
{
    public static List<string> Problems(ParseResult parse)
    {
        var known = OptionsOf(parse.CommandResult).ToList();
        var unknown = UnknownOptionTokens(parse).ToList();
        var problems = unknown.Select(t => $"unknown option '{t}' for '{CommandPath(parse.CommandResult)}'{Nearest(t, known)}.").ToList();
        // The parser's own line for the same token ("Unrecognized command or argument") adds nothing.
        problems.AddRange(parse.Errors.Select(e => e.Message).Where(m => !unknown.Any(t => m.Contains($"'{t}'"))));
        return problems;
    }

    /// <summary>Tokens that start with '-' (not a lone '-' or a negative number) and were not bound to an option.</summary>
    static IEnumerable<string> UnknownOptionTokens(ParseResult parse)
    {
        var asArguments = parse.CommandResult.Children.OfType<ArgumentResult>().SelectMany(a => a.Tokens).Select(t => t.Value);
        return asArguments.Concat(parse.UnmatchedTokens).Where(LooksLikeOption).Distinct();
    }

    static bool LooksLikeOption(string t) => t.Length > 1 && t[0] == '-' && !double.TryParse(t, System.Globalization.CultureInfo.InvariantCulture, out _);

    /// <summary>Every name and alias of the options this command accepts, its own and those its ancestors pass down.</summary>
    static IEnumerable<string> OptionsOf(CommandResult result)
    {
        for (SymbolResult? r = result; r is CommandResult c; r = c.Parent)
            foreach (var o in c.Command.Options.Where(o => ReferenceEquals(c, result) || o.Recursive))
                foreach (var name in o.Aliases.Prepend(o.Name)) yield return name;
    }

    static string CommandPath(CommandResult result)
    {
        var names = new List<string>();
        for (SymbolResult? r = result; r is CommandResult c; r = c.Parent)
            names.Insert(0, c.Parent is null ? "culturemert" : c.Command.Name);
        return string.Join(' ', names);
    }

    static string Nearest(string token, IReadOnlyList<string> known)
    {
        var name = token.Split('=')[0];
        var best = known.Select(k => (Name: k, Distance: Distance(name, k))).OrderBy(x => x.Distance).ThenBy(x => x.Name, StringComparer.Ordinal).FirstOrDefault();
        return best.Name is not null && best.Distance <= Math.Max(2, name.Length / 3) ? $" (did you mean {best.Name}?)" : "";
    }

    /// <summary>Levenshtein distance: small enough a loop not to need a package.</summary>
    static int Distance(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var (diagonal, row0) = (row[0], i);
            row[0] = row0;
            for (var j = 1; j <= b.Length; j++)
            {
                var next = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                (diagonal, row[j]) = (row[j], next);
            }
        }
        return row[b.Length];
    }
}
