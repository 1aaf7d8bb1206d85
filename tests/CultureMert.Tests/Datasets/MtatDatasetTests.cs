using CultureMert.Corpus.Datasets;
using static CultureMert.Tests.Fixtures;

namespace CultureMert.Tests.Datasets;

public class MtatDatasetTests
{
    // annotations_final.csv as shipped: tab-separated, every field double-quoted, clip_id first, mp3_path last.
    static void WriteAnnotations(string path, string[] tags, params (int Clip, string Mp3, string[] On)[] clips)
    {
        var lines = new List<string> { string.Join('\t', new[] { "clip_id" }.Concat(tags).Append("mp3_path").Select(q)) };
        foreach (var (clip, mp3, on) in clips)
            lines.Add(string.Join('\t', new[] { clip.ToString() }.Concat(tags.Select(t => on.Contains(t) ? "1" : "0")).Append(mp3).Select(q)));
        DatasetFiles.Write(path, string.Join("\n", lines) + "\n");
        static string q(string s) => $"\"{s}\"";
    }

    static readonly (int, string, string[])[] Clips =
    [
        (2, "f/american_bach_soloists-j_s__bach_solo_cantatas-01-bwv54__i_aria-30-59.mp3", ["classical", "violin"]),
        (6, "f/american_bach_soloists-j_s__bach_solo_cantatas-01-bwv54__i_aria-88-117.mp3", ["classical"]),
        (10, "0/jacob_heringman-josquin_des_prez_lute_settings-01-a_chanson-0-29.mp3", ["guitar", "hurdy gurdy"]),
        (11, "b/some_artist-some_album-02-song-30-59.mp3", ["hurdy gurdy"]),
        (12, "c/other-album-03-tune-0-29.mp3", ["rock", "guitar"]),
    ];

    [Fact]
    public void Prepare_StandardTop50_FolderConventionSplit()
    {
        using var dir = new TempDir();
        WriteAnnotations(dir["mtat/annotations_final.csv"], [.. MtatDataset.Top50, "hurdy gurdy"], Clips);
        var m = MtatDataset.Prepare(new DatasetOptions(dir["mtat"]));
        Assert.Equal(MtatDataset.Top50, m.Vocabulary);
        m.Write(dir["mtat/manifest.csv"]);
        var lines = File.ReadAllLines(dir["mtat/manifest.csv"]);
        Assert.Equal([
            "path,split,labels,track,culture",
            "0/jacob_heringman-josquin_des_prez_lute_settings-01-a_chanson-0-29.mp3,train,guitar,0/jacob_heringman-josquin_des_prez_lute_settings-01-a_chanson,western",
            "b/some_artist-some_album-02-song-30-59.mp3,train,,b/some_artist-some_album-02-song,western",
            "c/other-album-03-tune-0-29.mp3,valid,guitar;rock,c/other-album-03-tune,western",
            "f/american_bach_soloists-j_s__bach_solo_cantatas-01-bwv54__i_aria-30-59.mp3,test,classical;violin,f/american_bach_soloists-j_s__bach_solo_cantatas-01-bwv54__i_aria,western",
            "f/american_bach_soloists-j_s__bach_solo_cantatas-01-bwv54__i_aria-88-117.mp3,test,classical,f/american_bach_soloists-j_s__bach_solo_cantatas-01-bwv54__i_aria,western",
        ], lines);
    }

    [Fact]
    public void Prepare_SplitDirNpy_UsesItAndDropsUnlisted()
    {
        using var dir = new TempDir();
        WriteAnnotations(dir["annotations_final.csv"], [.. MtatDataset.Top50], Clips);
        DatasetFiles.WriteNpy(dir["split/train.npy"], [$"2\t{Clips[0].Item2}", $"10\t{Clips[2].Item2}"]);
        DatasetFiles.WriteNpy(dir["split/valid.npy"], [$"6\t{Clips[1].Item2}"]);
        DatasetFiles.WriteNpy(dir["split/test.npy"], [$"12\t{Clips[4].Item2}"]);
        var m = MtatDataset.Prepare(new DatasetOptions(dir.Path, SplitDir: dir["split"]));
        Assert.Equal([(10, "train"), (2, "train"), (6, "valid"), (12, "test")],
                     m.Rows.Select(r => (Clips.Single(c => r.Path.EndsWith(c.Item2)).Item1, r.Split)));
    }

    [Fact]
    public void Prepare_TopN_ChosenOnTrainColumns()
    {
        using var dir = new TempDir();
        WriteAnnotations(dir["annotations_final.csv"], ["guitar", "hurdy gurdy", "classical", "violin", "rock"], Clips);
        var m = MtatDataset.Prepare(new DatasetOptions(dir.Path, Top: 2));
        Assert.Equal(["hurdy gurdy", "guitar"], m.Vocabulary);      // train = folders 0 and b (hurdy gurdy 2, guitar 1); classical only in test
    }

    [Fact]
    public void Prepare_MissingColumns_NameThem()
    {
        using var dir = new TempDir();
        WriteAnnotations(dir["annotations_final.csv"], ["guitar", "rock"], Clips);
        var e = Assert.Throws<InvalidDataException>(() => MtatDataset.Prepare(new DatasetOptions(dir.Path)));
        Assert.Contains("classical", e.Message);
        File.WriteAllText(dir["annotations_final.csv"], "\"clip_id\"\t\"guitar\"\n\"2\"\t\"1\"\n");
        e = Assert.Throws<InvalidDataException>(() => MtatDataset.Prepare(new DatasetOptions(dir.Path, Top: 1)));
        Assert.Contains("mp3_path", e.Message);
        File.Delete(dir["annotations_final.csv"]);
        var f = Assert.Throws<FileNotFoundException>(() => MtatDataset.Prepare(new DatasetOptions(dir.Path)));
        Assert.Contains("annotations_final.csv", f.Message);
    }
}
