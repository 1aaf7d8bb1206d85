using CultureMert.Corpus.Datasets;
using static CultureMert.Tests.Fixtures;

namespace CultureMert.Tests.Datasets;

public class LyraDatasetTests
{
    const string Columns = "id\tinstruments\tgenres\tplace\tcoordinates\tis-danced\tyoutube-id\tstart-ts\tend-ts\n";

    static string Row(string id, string instruments, string genres, string place) =>
        $"{id}\t{instruments}\t{genres}\t{place}\tNone\t0\tcKXi8_5_Rd4\t10\t20\n";

    [Fact]
    public void Prepare_PublicSplit_PrefixedTagsTopOnTrainAndValidFromTrain()
    {
        using var dir = new TempDir();
        var training = string.Concat(Enumerable.Range(0, 10).Select(i => Row($"song-{i}", "Voice|Violin", i < 6 ? "Traditional|Epirotic" : "Laiko", "None")));
        DatasetFiles.Write(dir["lyra/data/split/training.tsv"], Columns + training);
        DatasetFiles.Write(dir["lyra/data/split/test.tsv"], Columns +
            Row("t-1", "Lyra", "Traditional|Cretan", "Crete") + Row("t-2", "Lyra", "Traditional|Cretan", "Crete") + Row("t-3", "Voice", "Laiko", "None"));
        DatasetFiles.Write(dir["lyra/audio/t-1.wav"], "");
        var m = LyraDataset.Prepare(new DatasetOptions(dir["lyra"], Top: 4));
        // train counts: Voice 10, Violin 10, Traditional 6, Epirotic 6, Laiko 4 → top 4 by count then name; Cretan/Crete only in test.
        Assert.Equal(["instruments--Violin", "instruments--Voice", "genres--Epirotic", "genres--Traditional"], m.Vocabulary);
        Assert.Equal((9, 1, 3), (m.Count("train"), m.Count("valid"), m.Count("test")));
        var t1 = m.Rows.Single(r => r.Track == "t-1");
        Assert.Equal(["genres--Traditional"], t1.Labels);
        Assert.Equal(dir["lyra/audio/t-1.wav"], t1.Path);
        Assert.Equal(dir["lyra/audio/t-3.mp3"], m.Rows.Single(r => r.Track == "t-3").Path);
        Assert.Equal(["instruments--Voice"], m.Rows.Single(r => r.Track == "t-3").Labels);
        Assert.All(m.Rows, r => Assert.Equal("greek", r.Culture));
    }

    [Fact]
    public void Prepare_SplitWithoutTagColumns_TakesThemFromRawTsv()
    {
        using var dir = new TempDir();
        DatasetFiles.Write(dir["data/raw.tsv"], Columns + Row("a", "Voice", "Laiko", "None") + Row("b", "Lyra", "Traditional", "Crete"));
        DatasetFiles.Write(dir["data/split/training.tsv"], "id\na\n");
        DatasetFiles.Write(dir["data/split/test.tsv"], "id\nb\n");
        var m = LyraDataset.Prepare(new DatasetOptions(dir.Path));
        Assert.Equal(["instruments--Voice", "genres--Laiko"], m.Rows.Single(r => r.Track == "a").Labels);
        Assert.Empty(m.Rows.Single(r => r.Track == "b").Labels);   // its tags never occur in train
    }

    [Fact]
    public void Prepare_MissingFiles_NameThem()
    {
        using var dir = new TempDir();
        DatasetFiles.Write(dir["data/split/training.tsv"], Columns + Row("a", "Voice", "Laiko", "None"));
        var e = Assert.Throws<FileNotFoundException>(() => LyraDataset.Prepare(new DatasetOptions(dir.Path)));
        Assert.Contains("test.tsv", e.Message);
        DatasetFiles.Write(dir["data/split/test.tsv"], "id\tgenres\nb\tLaiko\n");
        e = Assert.Throws<FileNotFoundException>(() => LyraDataset.Prepare(new DatasetOptions(dir.Path)));
        Assert.Contains("raw.tsv", e.Message);
    }
}
