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
        return root.Parse(args).Invoke();
    }
}
