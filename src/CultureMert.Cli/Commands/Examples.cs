using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Runtime.CompilerServices;

namespace CultureMert.Cli.Commands;

/// <summary>
/// The "Examples:" section at the end of <c>--help</c>, as git and dotnet print one. Each command registers its examples
/// with <see cref="Add{T}"/>; <see cref="Install"/> puts one help action on the root's --help (which applies to every
/// subcommand) that prints System.CommandLine's own help and then the examples of the command asked about.
/// System.CommandLine 2.0's HelpBuilder is internal, so wrapping its HelpAction is how text gets added.
/// </summary>
static class Examples
{
    /// <summary>One example: what it does (a short phrase) and the command line, starting with <c>culturemert</c>.</summary>
    public readonly record struct Example(string What, string CommandLine);

    // Keyed by the command object, so a command carries its examples wherever it is added.
    static readonly ConditionalWeakTable<Command, Example[]> registered = new();

    /// <summary>Registers the examples of <paramref name="command"/>, given as (what, command line) pairs; returns the command.</summary>
    public static T Add<T>(T command, params (string What, string CommandLine)[] examples) where T : Command
    {
        registered.AddOrUpdate(command, [.. examples.Select(e => new Example(e.What, e.CommandLine))]);
        return command;
    }

    /// <summary>The examples registered for <paramref name="command"/>; empty if none.</summary>
    public static IReadOnlyList<Example> Of(Command command) => registered.TryGetValue(command, out var e) ? e : [];

    /// <summary>Makes the root's --help (and so every subcommand's) end with the command's examples.</summary>
    public static RootCommand Install(RootCommand root)
    {
        var help = root.Options.OfType<HelpOption>().Single();
        help.Action = new HelpWithExamples((HelpAction)help.Action!);
        return root;
    }

    /// <summary>Writes the section; System.CommandLine's help already ends with a blank line.</summary>
    static void Write(TextWriter output, IReadOnlyList<Example> examples)
    {
        if (examples.Count == 0) return;
        output.WriteLine("Examples:");
        foreach (var e in examples)
        {
            output.WriteLine($"  {e.What}:");
            output.WriteLine($"    {e.CommandLine}");
        }
        output.WriteLine();
    }

    sealed class HelpWithExamples(HelpAction inner) : SynchronousCommandLineAction
    {
        // As HelpAction: `culturemert embed --help` shows help even though embed's required options are missing.
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            // System.CommandLine names the program after its file (CultureMert.Cli, or the dll); people type culturemert.
            var config = parseResult.InvocationConfiguration;
            var (output, help) = (config.Output, new StringWriter());
            config.Output = help;
            int code;
            try { code = inner.Invoke(parseResult); }
            finally { config.Output = output; }
            output.Write(help.ToString().Replace(RootCommand.ExecutableName + " ", "culturemert "));
            Write(output, Of(parseResult.CommandResult.Command));
            return code;
        }
    }
}
