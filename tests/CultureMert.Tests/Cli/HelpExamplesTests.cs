using System.CommandLine;
using CultureMert.Cli;

namespace CultureMert.Tests.Cli;

/// <summary>
/// Every command's <c>--help</c> ends with an "Examples:" section of two or three command lines that are that command's
/// and that its parser accepts: the examples cannot drift from the options they show.
/// </summary>
[Collection(ProcessWideMeasurements.Name)]                      // captures Console.Out
public class HelpExamplesTests
{
    [Fact]
    public void Help_EveryCommand_ShowsTwoOrThreeExamplesOfThatCommandThatParse()
    {
        var root = CliApp.CreateRoot();
        var commands = Commands(root, []).ToList();
        Assert.True(commands.Count >= 20, $"only {commands.Count} commands found");
        foreach (var (path, command) in commands)
        {
            var name = string.Join(' ', ["culturemert", .. path]);
            var (code, help) = RunCapturingOut([.. path, "--help"]);
            Assert.True(code == 0, $"{name} --help: exit code {code}");
            var examples = ExampleLines(help);
            Assert.True(examples.Count is >= 2 and <= 3, $"{name} --help shows {examples.Count} examples:\n{help}");
            foreach (var example in examples)
            {
                Assert.True(example == name || example.StartsWith(name + " "), $"\"{example}\" is not an example of \"{name}\"");
                var parsed = root.Parse(example["culturemert ".Length..]);
                Assert.True(parsed.Errors.Count == 0, $"{example}: {string.Join("; ", parsed.Errors.Select(e => e.Message))}");
                Assert.True(SelfAndAncestors(parsed.CommandResult.Command).Contains(command), $"{example} runs {parsed.CommandResult.Command.Name}, not a part of {name}");
            }
        }
    }

    /// <summary>Every command below <paramref name="command"/>, itself included, with the words that name it.</summary>
    static IEnumerable<(string[] Path, Command Command)> Commands(Command command, string[] path)
    {
        yield return (path, command);
        foreach (var sub in command.Subcommands)
            foreach (var found in Commands(sub, [.. path, sub.Name]))
                yield return found;
    }

    static IEnumerable<Command> SelfAndAncestors(Command? command)
    {
        for (; command is not null; command = command.Parents.OfType<Command>().FirstOrDefault()) yield return command;
    }

    /// <summary>The lines of the help's "Examples:" section that are command lines (the others say what each does).</summary>
    static List<string> ExampleLines(string help)
    {
        var lines = help.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        var start = lines.IndexOf("Examples:");
        Assert.True(start >= 0, $"no Examples section in:\n{help}");
        return lines.Skip(start + 1).TakeWhile(l => l.StartsWith(' ')).Select(l => l.Trim())
                    .Where(l => l.StartsWith("culturemert ")).ToList();
    }

    static (int Code, string Out) RunCapturingOut(string[] args)
    {
        var saved = Console.Out;
        var output = new StringWriter();
        Console.SetOut(output);
        try { return (CliApp.Run(args), output.ToString()); }
        finally { Console.SetOut(saved); }
    }
}
