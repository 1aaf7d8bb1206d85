using System.CommandLine;
using CultureMert.Batch;

namespace CultureMert.Cli.Commands;

/// <summary><c>culturemert index merge</c>: one <c>index.csv</c> from the shard indexes of a sharded embed or tokenize.</summary>
static class IndexCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "The --out folder the shards wrote into.", Required = true };
        var merge = new Command("merge", "Join index.shard-<i>-of-<N>.csv into index.csv, checking that all N shards ran and listed disjoint files.") { output };
        merge.SetAction(r => Common.Guard(() =>
        {
            var dir = r.GetValue(output)!;
            var rows = ShardIndex.Merge(dir);
            Console.WriteLine($"{rows.Count} files ({rows.Count(x => x.Status == "ok")} ok, {rows.Count(x => x.Status == "skipped")} already done, " +
                              $"{rows.Count(x => x.Status == "error")} failed); index: {Path.Combine(dir, BatchJob.IndexFile)}");
            return ExitCodes.Ok;                                                   // failed files were reported by their shards; the merge itself succeeded
        }));
        (string, string)[] examples =
        [
            ("After every shard of `embed --shard i/N --out embeddings` has run", "culturemert index merge --out embeddings"),
            ("The same for a sharded tokenize", "culturemert index merge --out targets"),
        ];
        Examples.Add(merge, examples);
        return Examples.Add(new Command("index", "Work with the index.csv of embed and tokenize output folders.") { merge }, examples);
    }
}
