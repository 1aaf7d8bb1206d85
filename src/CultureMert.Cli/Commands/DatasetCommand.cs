using System.CommandLine;
using CultureMert.Corpus.Datasets;

namespace CultureMert.Cli.Commands;

/// <summary><c>culturemert dataset prepare &lt;kind&gt;</c>: one task manifest (path,split,labels,track,culture) from a dataset's own files.</summary>
static class DatasetCommand
{
    public static Command Create()
    {
        var kind = new Argument<string>("kind") { Description = $"Dataset kind: {string.Join(", ", DatasetKinds.Names)}." };
        kind.AcceptOnlyFromAmong(DatasetKinds.Names);
        var root = new Option<string>("--root") { Description = "The dataset's folder (docs/evaluation.md: what each kind reads).", Required = true };
        var output = new Option<string>("--out") { Description = "Manifest CSV to write (paths relative to its folder).", Required = true };
        var top = new Option<int?>("--top") { Description = "Vocabulary size: the N most frequent tags on train (default: the task's — mtat 50 standard, fma 20, lyra 30, makam 30, hindustani 20, carnatic 20, folder all)." };
        var seed = new Option<int>("--seed") { Description = "Seed of drawn splits.", DefaultValueFactory = _ => 42 };
        var splitDir = new Option<string?>("--split-dir") { Description = "Folder with train/valid/test .npy or .txt split lists (mtat: minzwon's; makam/hindustani/carnatic: mbids)." };
        var seeded = new Option<bool>("--seeded-split") { Description = "fma: draw a seeded 0.7/0.1/0.2 split (ccml) instead of the official one." };
        var prepare = new Command("prepare", "Write a task manifest from a dataset's metadata.") { kind, root, output, top, seed, splitDir, seeded };
        prepare.SetAction(r => Common.Guard(() =>
        {
            var k = r.GetValue(kind)!;
            var m = DatasetKinds.Prepare(k, new DatasetOptions(r.GetValue(root)!, r.GetValue(top), r.GetValue(seed), r.GetValue(splitDir), r.GetValue(seeded)));
            var path = r.GetValue(output)!;
            m.Write(path);
            Console.WriteLine($"{k}: {m.Count("train")} train, {m.Count("valid")} valid, {m.Count("test")} test; " +
                              $"{m.Vocabulary.Count} tags; {m.Rows.Count(x => x.Labels.Length == 0)} rows with no tag in the vocabulary; manifest: {path}");
            return ExitCodes.Ok;
        }));
        (string, string)[] examples =
        [
            ("MagnaTagATune's top-50 tags with minzwon's splits", "culturemert dataset prepare mtat --root MagnaTagATune --split-dir mtat-splits --out tasks/mtat.csv"),
            ("Turkish makam recognition, 30 makams, a seeded split", "culturemert dataset prepare makam --root compmusic-makam --top 30 --seed 42 --out tasks/makam.csv"),
            ("Your own audio, one subfolder per label", "culturemert dataset prepare folder --root my-music --out tasks/mine.csv"),
        ];
        Examples.Add(prepare, examples);
        return Examples.Add(new Command("dataset", "Task manifests for evaluation datasets.") { prepare }, examples);
    }
}
