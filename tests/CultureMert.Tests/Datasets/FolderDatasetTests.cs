using CultureMert.Corpus.Datasets;
using static CultureMert.Tests.Fixtures;

namespace CultureMert.Tests.Datasets;

public class FolderDatasetTests
{
    [Fact]
    public void Prepare_LabelFolders_SeededSplitAndRelativePaths()
    {
        using var dir = new TempDir();
        for (var i = 0; i < 6; i++) DatasetFiles.Write(dir[$"data/rock/r{i}.wav"], "");
        for (var i = 0; i < 4; i++) DatasetFiles.Write(dir[$"data/jazz/sub/j{i}.flac"], "");
        DatasetFiles.Write(dir["data/jazz/notes.txt"], "not audio");
        var m = FolderDataset.Prepare(new DatasetOptions(dir["data"]));
        Assert.Equal((7, 1, 2), (m.Count("train"), m.Count("valid"), m.Count("test")));
        Assert.Equal(["jazz", "rock"], m.Vocabulary.Order());        // only 3 files are outside train, so both labels are in it
        Assert.All(m.Rows, r => Assert.Equal(Path.GetFileName(Path.GetDirectoryName(r.Path)!) == "sub" ? "jazz" : "rock", r.Labels.Single()));
        m.Write(dir["m.csv"]);
        var back = TaskManifest.Read(dir["m.csv"]);
        Assert.Contains(back.Rows, r => r.Path == "data/jazz/sub/j0.flac");
        var again = FolderDataset.Prepare(new DatasetOptions(dir["data"]));
        Assert.Equal(m.Rows, again.Rows, (a, b) => a.Path == b.Path && a.Split == b.Split);
    }

    [Fact]
    public void Prepare_TrainValidTestFolders_AreTheSplit()
    {
        using var dir = new TempDir();
        DatasetFiles.Write(dir["train/a/1.wav"], "");
        DatasetFiles.Write(dir["train/b/2.wav"], "");
        DatasetFiles.Write(dir["valid/a/3.wav"], "");
        DatasetFiles.Write(dir["test/b/4.wav"], "");
        var m = FolderDataset.Prepare(new DatasetOptions(dir.Path));
        Assert.Equal([("1.wav", "train", "a"), ("2.wav", "train", "b"), ("3.wav", "valid", "a"), ("4.wav", "test", "b")],
                     m.Rows.Select(r => (Path.GetFileName(r.Path), r.Split, r.Labels.Single())));
    }

    [Fact]
    public void Prepare_MissingRoot_NamesIt()
    {
        var e = Assert.Throws<DirectoryNotFoundException>(() => FolderDataset.Prepare(new DatasetOptions("/no/such/folder")));
        Assert.Contains("/no/such/folder", e.Message);
    }
}
