using System.CommandLine;
using CultureMert.Cli.Commands;

namespace CultureMert.Cli;

/// <summary>The `culturemert` command: a thin shell over the CultureMert library. Each command's wiring lives in Commands/.</summary>
public static class CliApp
{
    public static int Main(string[] args) => Run(args);

    /// <summary>Parses and runs one command line; returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        var parse = CreateRoot().Parse(args);
        if (parse.Action is { ClearsParseErrors: true }) return parse.Invoke();         // --help (and --version) win over what else is wrong
        var problems = UsageCheck.Problems(parse);
        if (problems.Count == 0) return parse.Invoke();
        foreach (var p in problems) Console.Error.WriteLine($"error: {p}");
        Console.Error.WriteLine($"Run '{string.Join(' ', ["culturemert", .. CommandNames(parse.CommandResult)])} --help' for the options.");
        return ExitCodes.Usage;
    }

    static IEnumerable<string> CommandNames(System.CommandLine.Parsing.CommandResult c) =>
        c.Parent is System.CommandLine.Parsing.CommandResult parent ? [.. CommandNames(parent), c.Command.Name] : [];

    /// <summary>The command tree, with every command's options and its help examples.</summary>
    public static RootCommand CreateRoot()
    {
        var root = new RootCommand("CultureMERT.NET: MERT music foundation models for the world's musical traditions.")
        {
            EmbedCommand.Create(),
            InitCommand.Create(),
            DemoCommand.Create(),
            CorpusCommand.Create(),
            TokenizeCommand.Create(),
            TeacherCommand.Create(),
            TokensCommand.Create(),
            PretrainCommand.Create(),
            MergeCommand.Create(),
            MetricsCommand.Create(),
            DatasetCommand.Create(),
            ProbeCommand.Create(),
            EvaluateCommand.Create(),
            IndexCommand.Create(),
            SetupCommand.Create(),
        };
        Examples.Add(root,
            ("CultureMERT's study in miniature, reduced to a minute or two", "culturemert demo --quick --out demo-quick"),
            ("A small random model to try the other commands with", "culturemert init --preset tiny --out tiny-model"),
            ("Embeddings of every layer for a folder of audio", "culturemert embed --model MERT-v1-95M --out embeddings music/"));
        return Examples.Install(root);
    }
}
