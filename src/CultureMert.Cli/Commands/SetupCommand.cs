using System.CommandLine;
using CultureMert.Setup;

namespace CultureMert.Cli.Commands;

/// <summary>
/// <c>culturemert setup</c>: which system packages each feature needs and whether they are here; with feature names,
/// installs those now (as root) instead of at their first use.
/// </summary>
static class SetupCommand
{
    public static Command Create()
    {
        var features = new Argument<string[]>("feature")
        {
            Description = $"Features to install now: {string.Join(", ", SystemPackages.Known.Select(f => f.Name))}, or all (every one but browser, which only the tests use). None: only list them.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var command = new Command("setup", "List the system packages each feature needs, or install them now (each is otherwise installed at its first use).") { features };
        command.SetAction(r => Common.Guard(() =>
        {
            var names = r.GetValue(features) ?? [];
            var chosen = names.SelectMany(n => n == "all" ? SystemPackages.All : [Find(n)]).Distinct();
            foreach (var feature in chosen) SystemPackages.Require(feature);
            foreach (var f in SystemPackages.Known)
            {
                var present = f.IsPresent();
                Console.WriteLine($"{f.Name,-7} {(present ? "ready  " : "missing")}  {f.Purpose}: {string.Join(" ", f.Packages)}" +
                                  (present ? "" : $"  (installed at first use as root; else: {f.InstallCommand})"));
            }
            return ExitCodes.Ok;
        }));
        return Examples.Add(command,
            ("Which features have their system packages, and what each needs", "culturemert setup"),
            ("Install what rendering MIDI and reading FLAC need, now (as root)", "culturemert setup render flac"),
            ("Install every feature's packages and the tests' browser, as ./test.sh does", "culturemert setup all browser"));
    }

    static SystemFeature Find(string name) => SystemPackages.Known.FirstOrDefault(f => f.Name == name)
        ?? throw new ArgumentException($"unknown feature '{name}' (known: {string.Join(", ", SystemPackages.Known.Select(f => f.Name))}, all).");
}
