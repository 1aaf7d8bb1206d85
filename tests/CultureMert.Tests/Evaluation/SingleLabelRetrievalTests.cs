using System.Text.Json.Nodes;
using CultureMert.Evaluation;

namespace CultureMert.Tests.Evaluation;

/// <summary>
/// Single-label accuracy and macro-F1, and retrieval's mAP, MAP@k, recall@k and MRR, against scikit-learn and numpy on
/// fixed inputs (tests/fixtures/metrics/single_label_retrieval_golden.py): 60 tracks, 5 classes, one class only ever
/// predicted, one track alone in its label.
/// </summary>
public class SingleLabelRetrievalTests
{
    static readonly JsonNode Golden = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.Dir("metrics"), "single-label-retrieval.json")))!;

    static double[] Doubles(JsonNode? n) => [.. n!.AsArray().Select(x => x!.GetValue<double>())];
    static int[] Ints(JsonNode? n) => [.. n!.AsArray().Select(x => x!.GetValue<int>())];
    static double D(string key) => Golden[key]!.GetValue<double>();

    [Fact]
    public void AccuracyAndMacroF1_MatchScikitLearn()
    {
        var rows = Golden["scores"]!.AsArray().Select(Doubles).ToArray();
        var scores = new double[rows.Length, rows[0].Length];
        for (var i = 0; i < rows.Length; i++) for (var j = 0; j < rows[i].Length; j++) scores[i, j] = rows[i][j];
        var truth = Ints(Golden["truth"]);
        var oneHot = new bool[truth.Length, rows[0].Length];
        for (var i = 0; i < truth.Length; i++) oneHot[i, truth[i]] = true;
        var (accuracy, macroF1) = SingleLabel.Compute(oneHot, scores);                  // every class is true or predicted somewhere
        Assert.Equal(D("accuracy"), accuracy, 12);
        Assert.Equal(D("macro_f1"), macroF1, 12);
    }

    [Fact]
    public void Retrieval_MapMapAtKRecallAtKMrr_MatchScikitLearnAndNumpy()
    {
        var labels = Ints(Golden["labels"]);
        var oneHot = new bool[labels.Length, labels.Max() + 1];
        for (var i = 0; i < labels.Length; i++) oneHot[i, labels[i]] = true;
        var r = Retrieval.Evaluate(Golden["embeddings"]!.AsArray().Select(Doubles).ToArray(), oneHot, Ints(Golden["ks"]));
        Assert.Equal(D("map"), r.MeanAveragePrecision, 12);
        Assert.Equal(D("mrr"), r.MeanReciprocalRank, 12);
        foreach (var (expected, actual) in Doubles(Golden["precision_at_k"]).Zip(r.PrecisionAtK)) Assert.Equal(expected, actual, 12);
        foreach (var (expected, actual) in Doubles(Golden["recall_at_k"]).Zip(r.RecallAtK)) Assert.Equal(expected, actual, 12);
        foreach (var (expected, actual) in Doubles(Golden["map_at_k"]).Zip(r.MapAtK)) Assert.Equal(expected, actual, 12);
    }
}
