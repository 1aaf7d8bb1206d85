using CultureMert.Corpus.Datasets;
using static CultureMert.Tests.Fixtures;

namespace CultureMert.Tests.Datasets;

public class FmaDatasetTests
{
    // tracks.csv as pandas writes FMA's multi-index frame: group row, column row, then 'track_id' row.
    const string Header =
        ",album,set,set,track,track,track,track\n" +
        ",title,split,subset,genre_top,genres,genres_all,title\n" +
        "track_id,,,,,,,\n";

    const string Genres =
        "genre_id,#tracks,parent,title,top_level\n" +
        "12,1,0,Rock,12\n" +
        "25,1,12,Punk,12\n" +
        "15,1,0,Electronic,15\n" +
        "21,1,0,Hip-Hop,21\n";

    static void WriteFma(TempDir dir, string body)
    {
        DatasetFiles.Write(dir["fma/fma_metadata/tracks.csv"], Header + body);
        DatasetFiles.Write(dir["fma/fma_metadata/genres.csv"], Genres);
    }

    [Fact]
    public void Prepare_MediumSubsetOfficialSplit_HierarchicalGenres()
    {
        using var dir = new TempDir();
        WriteFma(dir,
            "2,\"AWOL, live\",training,small,Hip-Hop,[21],[21],Food\n" +
            "3,A,training,medium,Rock,[25],\"[12, 25]\",Electric\n" +
            "5,A,training,large,Rock,[12],[12],Not in medium\n" +
            "10,B,validation,medium,Electronic,[15],[15],Freeway\n" +
            "134,C,test,medium,Rock,[25],\"[12, 25]\",Street\n");
        var m = FmaDataset.Prepare(new DatasetOptions(dir["fma"], Top: 2));
        Assert.Equal(["Hip-Hop", "Punk"], m.Vocabulary);       // train counts: Hip-Hop 1, Punk 1, Rock 1 → ties by name
        m.Write(dir["fma/m.csv"]);
        Assert.Equal([
            "path,split,labels,track,culture",
            "fma_medium/000/000002.mp3,train,Hip-Hop,000002,western",
            "fma_medium/000/000003.mp3,train,Punk,000003,western",
            "fma_medium/000/000010.mp3,valid,,000010,western",
            "fma_medium/000/000134.mp3,test,Punk,000134,western",
        ], File.ReadAllLines(dir["fma/m.csv"]));
    }

    [Fact]
    public void Prepare_SeededSplit_DrawsSevenOneTwo()
    {
        using var dir = new TempDir();
        WriteFma(dir, string.Concat(Enumerable.Range(1, 20).Select(i => $"{i},A,training,medium,Rock,[12],[12],T{i}\n")));
        var m = FmaDataset.Prepare(new DatasetOptions(dir["fma"], SeededSplit: true));
        Assert.Equal((14, 2, 4), (m.Count("train"), m.Count("valid"), m.Count("test")));
    }

    [Fact]
    public void Prepare_MissingColumnOrFile_NamesIt()
    {
        using var dir = new TempDir();
        DatasetFiles.Write(dir["fma/fma_metadata/tracks.csv"],
            ",set,track\n,split,genres_all\ntrack_id,,\n2,training,[21]\n");
        DatasetFiles.Write(dir["fma/fma_metadata/genres.csv"], Genres);
        var e = Assert.Throws<InvalidDataException>(() => FmaDataset.Prepare(new DatasetOptions(dir["fma"])));
        Assert.Contains("set/subset", e.Message);
        File.Delete(dir["fma/fma_metadata/genres.csv"]);
        var f = Assert.Throws<FileNotFoundException>(() => FmaDataset.Prepare(new DatasetOptions(dir["fma"])));
        Assert.Contains("genres.csv", f.Message);
    }
}
