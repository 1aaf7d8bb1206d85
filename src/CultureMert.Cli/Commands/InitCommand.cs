using System.CommandLine;
using CultureMert.Checkpoints;
using CultureMert.Model;
using TorchSharp;

namespace CultureMert.Cli.Commands;

/// <summary><c>culturemert init</c>: a randomly initialised model in Hugging Face format.</summary>
static class InitCommand
{
    public static Command Create()
    {
        var preset = new Option<string>("--preset") { Description = "Architecture: mert-95m, mert-330m, small or tiny.", DefaultValueFactory = _ => "mert-95m" };
        preset.AcceptOnlyFromAmong("mert-95m", "mert-330m", "small", "tiny");
        var seed = new Option<int>("--seed") { Description = "Random seed of the initialisation.", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "Model folder to write (config.json, preprocessor_config.json, model.safetensors).", Required = true };
        var deviceOption = SharedOptions.Device();
        var command = new Command("init", "Write a randomly initialised MERT model (Hugging Face's initialisation scheme) in Hugging Face format.") { preset, seed, output, deviceOption };
        command.SetAction(r => Common.Guard(() =>
        {
            var device = ComputeDevice.Parse(r.GetValue(deviceOption)!);
            var dir = r.GetValue(output)!;
            // The draws come from a CPU generator on every device: a seed writes the same weights with any --device.
            using var model = new MertModel(MertConfig.Preset(r.GetValue(preset)!)).to(device).InitializeWeights(r.GetValue(seed));
            MertCheckpoint.Save(model, dir);
            new ModelCard
            {
                Title = $"randomly initialised MERT ({r.GetValue(preset)}, seed {r.GetValue(seed)})",
                Summary = "A MERT model with Hugging Face's initialisation and nothing learned, written by CultureMERT.NET (`culturemert init`): " +
                          "a starting point for pre-training from scratch, or the random-init rung of a comparison.",
                Tags = ["random-init"],
                Facts = [("preset", r.GetValue(preset)!), ("seed", r.GetValue(seed).ToString(System.Globalization.CultureInfo.InvariantCulture))],
            }.Write(dir);
            var count = model.parameters().Sum(p => p.numel());
            Console.WriteLine($"wrote {dir}: {r.GetValue(preset)}, {model.NumLayers} layers × {model.Config.HiddenSize}, {count:N0} parameters, seed {r.GetValue(seed)}");
            return ExitCodes.Ok;
        }));
        return Examples.Add(command,
            ("A 2-layer model to try the other commands with", "culturemert init --preset tiny --out tiny-model"),
            ("MERT-v1-95M's architecture with random weights, seed 1", "culturemert init --preset mert-95m --seed 1 --out mert-95m-random"));
    }
}
