using System.CommandLine;
using System.Diagnostics;
using CultureMert.Evaluation;

namespace CultureMert.Cli.Commands;

/// <summary><c>culturemert metrics</c>: sklearn-exact ROC-AUC, average precision and F1 of tag scores against the truth.</summary>
static class MetricsCommand
{
    public static Command Create()
    {
        var truth = new Option<string>("--truth") { Description = "CSV with an 'id' column and one 0/1 column per tag.", Required = true };
        var scores = new Option<string>("--scores") { Description = "CSV with an 'id' column and one real-valued column per tag (same ids and tags, any order).", Required = true };
        var threshold = new Option<double>("--threshold") { Description = "F1 counts score >= threshold as a positive prediction.", DefaultValueFactory = _ => 0.5 };
        var json = new Option<bool>("--json") { Description = "Print the metrics as JSON instead of a table." };
        var command = new Command("metrics", "ROC-AUC and average precision (macro, micro, per tag; as scikit-learn) and F1 at a threshold.")
            { truth, scores, threshold, json };
        command.SetAction(r => Common.Guard(() =>
        {
            var clock = Stopwatch.StartNew();
            var table = TagTable.Read(r.GetValue(truth)!, r.GetValue(scores)!);
            var m = MultiLabel.Compute(table.Truth, table.Scores, r.GetValue(threshold), table.Tags);
            if (r.GetValue(json)) { Console.WriteLine(m.ToJson()); return ExitCodes.Ok; }
            var width = Math.Max(5, table.Tags.Max(t => t.Length));
            Console.WriteLine($"{"tag".PadRight(width)}  {"ROC-AUC",8}  {"AP",8}  {"F1",8}  {"pos",9}");
            foreach (var t in m.PerTag)
                Console.WriteLine($"{t.Tag.PadRight(width)}  {F(t.RocAuc),8}  {F(t.AveragePrecision),8}  {F(t.F1),8}  {t.Positives,9}");
            Console.WriteLine($"{"macro".PadRight(width)}  {F(m.RocAucMacro),8}  {F(m.ApMacro),8}  {F(m.F1Macro),8}");
            Console.WriteLine($"{"micro".PadRight(width)}  {F(m.RocAucMicro),8}  {F(m.ApMicro),8}  {F(m.F1Micro),8}");
            if (m.SkippedTags.Length > 0)
                Console.WriteLine($"skipped in the ROC-AUC/AP macro averages (one class only in the truth): {string.Join(", ", m.SkippedTags)}");
            Console.WriteLine($"{m.Samples} samples × {m.PerTag.Length} tags, F1 at score >= {m.Threshold}, {clock.Elapsed.TotalSeconds:0.00} s");
            return ExitCodes.Ok;
        }));
        return Examples.Add(command,
            ("Per-tag and macro/micro ROC-AUC, AP and F1 as a table", "culturemert metrics --truth truth.csv --scores scores.csv"),
            ("As JSON, F1 at a threshold of 0.3", "culturemert metrics --truth truth.csv --scores scores.csv --threshold 0.3 --json"));
    }

    static string F(double? v) => v is { } x ? x.ToString("0.0000", System.Globalization.CultureInfo.InvariantCulture) : "-";
}
