using CultureMert.Cli;
using CultureMert.Corpus.Datasets;
using static CultureMert.Tests.Fixtures;

namespace CultureMert.Tests.Datasets;

public class DunyaDatasetTests
{
    [Fact]
    public void Prepare_Makam_TypedTagsSeededSplitTopOnTrain()
    {
        using var dir = new TempDir();
        for (var i = 0; i < 10; i++)
            DatasetFiles.Write(dir[$"makam/metadata/mbid-{i:00}.json"],
                $$"""{"mbid": "mbid-{{i:00}}", "makam": ["Hicaz"], "usul": "Aksak", "instrument": ["Ney", "Voice"], "raga": ["ignored"]}""");
        DatasetFiles.Write(dir["makam/audio/mbid-03.flac"], "");
        var m = DunyaDataset.Prepare(DunyaDataset.Makam, new DatasetOptions(dir["makam"]));
        Assert.Equal((7, 1, 2), (m.Count("train"), m.Count("valid"), m.Count("test")));
        Assert.Equal(["instrument--Ney", "instrument--Voice", "makam--Hicaz", "usul--Aksak"], m.Vocabulary);  // all 7: ties by name
        Assert.All(m.Rows, r => Assert.Equal(["makam--Hicaz", "usul--Aksak", "instrument--Ney", "instrument--Voice"], r.Labels));
        Assert.Equal(dir["makam/audio/mbid-03.flac"], m.Rows.Single(r => r.Track == "mbid-03").Path);
        Assert.Equal(dir["makam/audio/mbid-04.mp3"], m.Rows.Single(r => r.Track == "mbid-04").Path);
        Assert.All(m.Rows, r => Assert.Equal("turkish-makam", r.Culture));
        var again = DunyaDataset.Prepare(DunyaDataset.Makam, new DatasetOptions(dir["makam"]));
        Assert.Equal(m.Rows.Select(r => (r.Track, r.Split)), again.Rows.Select(r => (r.Track, r.Split)));
    }

    [Fact]
    public void Prepare_HindustaniSplitDir_TagFrequentOnlyInTestLeftOut()
    {
        using var dir = new TempDir();
        void Rec(string id, string json) => DatasetFiles.Write(dir[$"metadata/{id}.json"], $$"""{"mbid": "{{id}}", {{json}}}""");
        Rec("a", """ "raga": ["Yaman kalyan"], "tala": ["Teentaal"], "form": ["Khayal"], "instrument": ["Voice", "Tabla"] """);
        Rec("b", """ "raga": ["Bageshree"], "tala": ["Teentaal"], "form": [], "instrument": ["Voice"] """);
        Rec("c", """ "raga": ["Bhairabi"], "tala": ["Ektaal"], "instrument": ["Sitar"], "makam": ["Hicaz"] """);
        Rec("d", """ "raga": ["Bhairabi"], "tala": ["Ektaal"], "instrument": ["Sitar"] """);
        Rec("e", """ "raga": ["Bhairabi"], "instrument": ["Sitar"] """);
        DatasetFiles.Write(dir["split/train.txt"], "a\nb\n");
        DatasetFiles.Write(dir["split/valid.txt"], "c\n");
        DatasetFiles.Write(dir["split/test.txt"], "d\ne\n");
        var m = DunyaDataset.Prepare(DunyaDataset.Hindustani, new DatasetOptions(dir.Path, Top: 3, SplitDir: dir["split"]));
        // train: instrument--Voice 2, tala--Teentaal 2, then 1 each → form--Khayal first by name.
        Assert.Equal(["instrument--Voice", "tala--Teentaal", "form--Khayal"], m.Vocabulary);
        Assert.Equal([("a", "train"), ("b", "train"), ("c", "valid"), ("d", "test"), ("e", "test")], m.Rows.Select(r => (r.Track!, r.Split)));
        Assert.Equal(["tala--Teentaal", "instrument--Voice", "form--Khayal"], m.Rows[0].Labels);   // in tag-type order
        Assert.Empty(m.Rows[4].Labels);                            // Bhairabi/Sitar: frequent in test only
    }

    [Fact]
    public void Prepare_MissingMbidOrFolder_NamesIt()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<DirectoryNotFoundException>(() => DunyaDataset.Prepare(DunyaDataset.Carnatic, new DatasetOptions(dir.Path)));
        Assert.Contains("metadata", e.Message);
        DatasetFiles.Write(dir["metadata/x.json"], """{"raga": ["Todi"]}""");
        var f = Assert.Throws<InvalidDataException>(() => DunyaDataset.Prepare(DunyaDataset.Carnatic, new DatasetOptions(dir.Path)));
        Assert.Contains("x.json", f.Message);
        Assert.Contains("mbid", f.Message);
    }
}

public class DatasetCommandTests
{
    [Fact]
    public void DatasetPrepare_Folder_WritesManifestAndExitsZero()
    {
        using var dir = new TempDir();
        for (var i = 0; i < 10; i++) DatasetFiles.Write(dir[$"data/{(i < 5 ? "a" : "b")}/{i}.wav"], "");
        var rc = CliApp.Run(["dataset", "prepare", "folder", "--root", dir["data"], "--out", dir["m.csv"]]);
        Assert.Equal(0, rc);
        var m = TaskManifest.Read(dir["m.csv"]);
        Assert.Equal(10, m.Rows.Count);
        Assert.All(m.Rows, r => Assert.StartsWith("data/", r.Path));
    }

    [Fact]
    public void DatasetPrepare_BadInput_ExitCodes()
    {
        using var dir = new TempDir();
        Assert.Equal(3, CliApp.Run(["dataset", "prepare", "mtat", "--root", dir.Path, "--out", dir["m.csv"]]));   // no annotations_final.csv
        Assert.Equal(2, CliApp.Run(["dataset", "prepare", "folder", "--root", dir.Path, "--out", dir["m.csv"], "--top", "0"]));
        Assert.False(File.Exists(dir["m.csv"]));
    }
}
