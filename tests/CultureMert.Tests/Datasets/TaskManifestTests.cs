using CultureMert.Corpus.Datasets;
using static CultureMert.Tests.Fixtures;

namespace CultureMert.Tests.Datasets;

public class TaskManifestTests
{
    [Fact]
    public void WriteRead_RoundTrip_RelativePathsAndQuoting()
    {
        using var dir = new TempDir();
        var m = new TaskManifest([
            new TaskRow(dir["audio/a,1.wav"], "train", ["genres--Laiko", "place--Crete"], "t1", "greek"),
            new TaskRow(dir["audio/b.wav"], "test", [], null, null),
        ], ["genres--Laiko", "place--Crete"]);
        m.Write(dir["m.csv"]);
        var text = File.ReadAllText(dir["m.csv"]);
        Assert.Equal("path,split,labels,track,culture\n\"audio/a,1.wav\",train,genres--Laiko;place--Crete,t1,greek\naudio/b.wav,test,,,\n", text);
        var back = TaskManifest.Read(dir["m.csv"]);
        Assert.Equal(2, back.Rows.Count);
        Assert.Equal("audio/a,1.wav", back.Rows[0].Path);
        Assert.Equal(["genres--Laiko", "place--Crete"], back.Rows[0].Labels);
        Assert.Null(back.Rows[1].Track);
        Assert.Empty(back.Rows[1].Labels);
    }

    [Fact]
    public void TaskColumn_RoundTripsTheType_UndeclaredIsNull()
    {
        using var dir = new TempDir();
        var rows = new List<TaskRow> { new(dir["a.wav"], "train", ["makam--hicaz"]), new(dir["b.wav"], "test", ["makam--rast"]) };
        new TaskManifest(rows, []) { Type = TaskType.Retrieval }.Write(dir["r.csv"]);
        Assert.Equal("path,split,labels,track,culture,task\na.wav,train,makam--hicaz,,,retrieval\nb.wav,test,makam--rast,,,retrieval\n", File.ReadAllText(dir["r.csv"]));
        Assert.Equal(TaskType.Retrieval, TaskManifest.Read(dir["r.csv"]).Type);
        File.WriteAllText(dir["s.csv"], "path,split,labels,task\na.wav,train,x,Single-Label\nb.wav,test,y,singlelabel\n");
        Assert.Equal(TaskType.SingleLabel, TaskManifest.Read(dir["s.csv"]).Type);      // spelled with a hyphen or without, any case
        new TaskManifest(rows, []).Write(dir["u.csv"]);
        Assert.Null(TaskManifest.Read(dir["u.csv"]).Type);
    }

    [Theory]
    [InlineData("a.wav,train,x,retrieval\nb.wav,test,y,multilabel\n", "m.csv:3", "earlier rows declare retrieval")]
    [InlineData("a.wav,train,x,ranking\n", "m.csv:2", "'ranking' is not multilabel, singlelabel or retrieval")]
    public void TaskColumn_MixedOrUnknown_NamesFileLineAndValue(string body, string where, string what)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["m.csv"], "path,split,labels,task\n" + body);
        var e = Assert.Throws<InvalidDataException>(() => TaskManifest.Read(dir["m.csv"]));
        Assert.Contains(where, e.Message);
        Assert.Contains(what, e.Message);
    }

    [Fact]
    public void Read_MissingColumn_NamesIt()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["m.csv"], "path,labels\na.wav,x\n");
        var e = Assert.Throws<InvalidDataException>(() => TaskManifest.Read(dir["m.csv"]));
        Assert.Contains("split", e.Message);
        Assert.Contains("m.csv", e.Message);
    }

    [Fact]
    public void Read_BadSplit_NamesFileAndLine()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["m.csv"], "path,split,labels\na.wav,train,x\nb.wav,training,y\n");
        var e = Assert.Throws<InvalidDataException>(() => TaskManifest.Read(dir["m.csv"]));
        Assert.Contains("m.csv:3", e.Message);
        Assert.Contains("training", e.Message);
    }

    [Fact]
    public void Read_SplitAliasesAnyCase_ValidAndLinesKept()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["m.csv"], "path,split,labels\na.wav,Validation,x\n\nb.wav,VAL,y;y; z\nsub/c.wav,Test,\n");
        var m = TaskManifest.Read(dir["m.csv"]);
        Assert.Equal(["valid", "valid", "test"], m.Rows.Select(r => r.Split));
        Assert.Equal(["y", "z"], m.Rows[1].Labels);                         // trimmed, each once
        Assert.Equal([2, 4, 5], m.Rows.Select(r => r.Line));
        Assert.Equal($"{dir["m.csv"]}:4", m.Where(m.Rows[1]));
        Assert.Equal(dir["sub/c.wav"], m.FullPath(m.Rows[2]));              // relative to the manifest's folder
    }

    [Fact]
    public void Read_ShortRow_NamesFileAndLine()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["m.csv"], "path,split,labels,culture\na.wav,train,x,greek\nb.wav,test,y\n");
        var e = Assert.Throws<InvalidDataException>(() => TaskManifest.Read(dir["m.csv"]));
        Assert.Equal($"{dir["m.csv"]}:3: 3 fields, the header has 4.", e.Message);
    }

    [Fact]
    public void Read_EmptyPath_NamesFileAndLine()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["m.csv"], "path,split,labels\na.wav,train,x\n ,test,y\n");
        var e = Assert.Throws<InvalidDataException>(() => TaskManifest.Read(dir["m.csv"]));
        Assert.Equal($"{dir["m.csv"]}:3: no path in this row.", e.Message);
    }

    [Fact]
    public void TopTags_TagFrequentOnlyInTest_NotInVocabulary()
    {
        TaskRow R(string p, string s, params string[] l) => new(p, s, l);
        var rows = new[]
        {
            R("1", "train", "a", "b"), R("2", "train", "a", "c"), R("3", "train", "b"), R("4", "train", "c"),
            R("5", "test", "z"), R("6", "test", "z", "a"), R("7", "test", "z"), R("8", "valid", "z", "d"),
        };
        var m = TagVocabulary.TopTags(rows, 2);
        Assert.Equal(["a", "b"], m.Vocabulary);                   // a 2, b 2, c 2: tie broken by name; z never in train
        Assert.Equal(["a"], m.Rows.Single(r => r.Path == "6").Labels);
        Assert.Empty(m.Rows.Single(r => r.Path == "5").Labels);    // kept, with no tag
        Assert.Equal(8, m.Rows.Count);
        Assert.Equal(["1", "2", "3", "4", "8", "5", "6", "7"], m.Rows.Select(r => r.Path));   // train, valid, test
    }

    [Fact]
    public void SeededSplit_SameSeed_SameSplitAndCcmlCounts()
    {
        var ids = Enumerable.Range(0, 5297).Select(i => $"id{i}").ToList();
        var a = TagVocabulary.SeededSplit(ids, 0.7, 0.1, 0.2, 42);
        var b = TagVocabulary.SeededSplit(Enumerable.Reverse(ids), 0.7, 0.1, 0.2, 42);   // input order does not matter
        Assert.Equal(a.OrderBy(kv => kv.Key), b.OrderBy(kv => kv.Key));
        Assert.Equal(3709, a.Values.Count(v => v == "train"));
        Assert.Equal(529, a.Values.Count(v => v == "valid"));
        Assert.Equal(1059, a.Values.Count(v => v == "test"));
        var c = TagVocabulary.SeededSplit(ids, 0.7, 0.1, 0.2, 7);
        Assert.NotEqual(a.OrderBy(kv => kv.Key), c.OrderBy(kv => kv.Key));
        foreach (var (n, tr, va, te) in new[] { (1204, 844, 120, 240), (2612, 1829, 261, 522), (24980, 17486, 2498, 4996) })
        {
            var s = TagVocabulary.SeededSplit(Enumerable.Range(0, n).Select(i => i.ToString()), 0.7, 0.1, 0.2, 42);
            Assert.Equal((tr, va, te), (s.Values.Count(v => v == "train"), s.Values.Count(v => v == "valid"), s.Values.Count(v => v == "test")));
        }
    }

    [Fact]
    public void Npy_UnicodeArray_ReadsStrings()
    {
        using var dir = new TempDir();
        DatasetFiles.WriteNpy(dir["x.npy"], ["2\tf/a-b-0-29.mp3", "ñé"]);
        Assert.Equal(["2\tf/a-b-0-29.mp3", "ñé"], Npy.ReadStrings(dir["x.npy"]));
    }
}

/// <summary>Writes the small real-format files the dataset tests read.</summary>
static class DatasetFiles
{
    /// <summary>A numpy 1-D '&lt;U' array, as np.save writes it (format 1.0, header padded to 64 bytes).</summary>
    public static void WriteNpy(string path, string[] items)
    {
        var width = Math.Max(1, items.Max(s => s.EnumerateRunes().Count()));
        var header = $"{{'descr': '<U{width}', 'fortran_order': False, 'shape': ({items.Length},), }}";
        var total = 10 + header.Length + 1;
        header = header.PadRight(header.Length + (64 - total % 64) % 64) + "\n";
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var f = File.Create(path);
        f.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        f.Write(BitConverter.GetBytes((ushort)header.Length));
        f.Write(System.Text.Encoding.ASCII.GetBytes(header));
        foreach (var s in items)
        {
            var runes = s.EnumerateRunes().ToList();
            for (var i = 0; i < width; i++) f.Write(BitConverter.GetBytes(i < runes.Count ? runes[i].Value : 0));
        }
    }

    public static void Write(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }
}
