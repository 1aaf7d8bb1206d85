using System.Text;
using CultureMert.IO;
using static CultureMert.Tests.Fixtures;

namespace CultureMert.Tests.IO;

/// <summary>RFC 4180 cases, each with the fields written out by hand.</summary>
public class CsvTests
{
    static CsvTable ReadText(TempDir dir, string text) => ReadBytes(dir, Encoding.UTF8.GetBytes(text));

    static CsvTable ReadBytes(TempDir dir, byte[] bytes)
    {
        File.WriteAllBytes(dir["t.csv"], bytes);
        return Csv.Read(dir["t.csv"]);
    }

    static string[][] Fields(CsvTable t) => [.. t.Rows.Select(r => r.Fields)];

    [Fact]
    public void Read_QuotedFieldWithComma_OneField()
    {
        using var dir = new TempDir();
        var t = ReadText(dir, "path,labels\n\"a,b.wav\",x\n");
        Assert.Equal(["path", "labels"], t.Header);
        Assert.Equal([["a,b.wav", "x"]], Fields(t));
    }

    [Fact]
    public void Read_DoubledQuotes_OneQuote()
    {
        using var dir = new TempDir();
        Assert.Equal([["say \"hi\".wav", "x"]], Fields(ReadText(dir, "path,labels\n\"say \"\"hi\"\".wav\",x\n")));
    }

    [Fact]
    public void Read_LineBreaksInsideQuotes_KeptAndLinesCounted()
    {
        using var dir = new TempDir();
        var t = ReadText(dir, "path,labels\n\"a\nb.wav\",x\n\"c\r\nd.wav\",y\ne.wav,z\n");
        Assert.Equal([["a\nb.wav", "x"], ["c\r\nd.wav", "y"], ["e.wav", "z"]], Fields(t));
        Assert.Equal([2, 4, 6], t.Rows.Select(r => r.Line));              // each row's first line, as an editor numbers them
    }

    [Fact]
    public void Read_Utf8Bom_NotPartOfFirstHeader()
    {
        using var dir = new TempDir();
        var t = ReadBytes(dir, [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes("path,labels\nşarkı.wav,hüzzam\n")]);
        Assert.Equal("path", t.Header[0]);
        Assert.Equal(0, t.Column("path"));
        Assert.Equal([["şarkı.wav", "hüzzam"]], Fields(t));
    }

    [Fact]
    public void Read_CrlfLineEnds_NoCarriageReturnInFields()
    {
        using var dir = new TempDir();
        var t = ReadText(dir, "path,labels\r\na.wav,x\r\nb.wav,y\r\n");
        Assert.Equal(["path", "labels"], t.Header);
        Assert.Equal([["a.wav", "x"], ["b.wav", "y"]], Fields(t));
    }

    [Fact]
    public void Read_EmptyFieldsBlankLinesAndNoFinalNewline()
    {
        using var dir = new TempDir();
        var t = ReadText(dir, "path,labels,track\na.wav,,\n\nb.wav,\"\",t\n   \nc.wav,x,y");
        Assert.Equal([["a.wav", "", ""], ["b.wav", "", "t"], ["c.wav", "x", "y"]], Fields(t));
        Assert.Equal([2, 4, 6], t.Rows.Select(r => r.Line));
    }

    [Fact]
    public void Read_EmptyFile_IsEmpty()
    {
        using var dir = new TempDir();
        Assert.True(ReadText(dir, "").IsEmpty);
    }

    [Fact]
    public void Read_UnterminatedQuote_ErrorNamesFileAndLine()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<InvalidDataException>(() => ReadText(dir, "path,labels\na.wav,x\n\"b.wav,y\nc.wav,z\n"));
        Assert.Contains($"{dir["t.csv"]}:3:", e.Message);
        Assert.Contains("quote", e.Message);
    }

    [Fact]
    public void RequireFieldCount_ShortRow_ErrorNamesFileLineAndCounts()
    {
        using var dir = new TempDir();
        var t = ReadText(dir, "path,split,labels\na.wav,train,x\nb.wav,test\n");
        var e = Assert.Throws<InvalidDataException>(() => t.RequireFieldCount());
        Assert.Equal($"{dir["t.csv"]}:3: 2 fields, the header has 3.", e.Message);
    }

    [Fact]
    public void Error_WithColumn_NamesFileLineAndColumn()
    {
        using var dir = new TempDir();
        var t = ReadText(dir, "path, Split \na.wav,training\n");
        Assert.Equal(1, t.Column("split"));                                  // trimmed, any case
        Assert.Equal($"{dir["t.csv"]}:2: column 'Split': bad", t.Error(t.Rows[0], 1, "bad").Message);
        Assert.Equal(["labels"], t.Missing("path", "labels"));
    }

    [Fact]
    public void Row_TypedAccess_InvariantNumbersAndNullWhenNotANumber()
    {
        var r = new CsvRow(2, ["1.5", " 42 ", "", "1,5", "x"]);
        Assert.Equal(1.5, r.Double(0));
        Assert.Equal(42, r.Int(1));
        Assert.Null(r.Double(2));
        Assert.Null(r.Double(3));
        Assert.Null(r.Int(4));
        Assert.Equal("", r.Get(9));                                           // past the end
        Assert.Equal("", r.Get(-1));                                          // absent column
    }

    [Fact]
    public void Read_Tsv_TabSeparatedQuotedAndTrimmed()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["t.tsv"], "\"clip_id\"\t\"mp3_path\"\n\"2\"\t \"f/a\tb.mp3\" \n");
        var t = Csv.Read(dir["t.tsv"], '\t', trim: true);
        Assert.Equal(["clip_id", "mp3_path"], t.Header);
        Assert.Equal([["2", "f/a\tb.mp3"]], Fields(t));
    }

    [Fact]
    public void Write_QuotesOnlyFieldsThatNeedIt_LfLineEnds()
    {
        using var dir = new TempDir();
        Csv.Write(dir["o.csv"], ["path", "note"], [["a,b.wav", "say \"hi\""], ["c.wav", "two\nlines"], ["d.wav", ""], ["e f.wav", "x\ry"]]);
        Assert.Equal("path,note\n\"a,b.wav\",\"say \"\"hi\"\"\"\nc.wav,\"two\nlines\"\nd.wav,\ne f.wav,\"x\ry\"\n", File.ReadAllText(dir["o.csv"]));
        Assert.Equal([0x70], File.ReadAllBytes(dir["o.csv"])[..1]);         // no BOM
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));                 // written through a temporary, now moved
    }

    [Fact]
    public void Write_HeaderOnly_OneLine()
    {
        using var dir = new TempDir();
        Csv.Write(dir["o.csv"], ["a", "b"], []);
        Assert.Equal("a,b\n", File.ReadAllText(dir["o.csv"]));
        Assert.Equal("a,\"b,c\"\n", Csv.Format(["a", "b,c"], []));
    }

    [Fact]
    public void Field_QuotesSeparatorQuoteAndLineBreaks()
    {
        Assert.Equal("plain", Csv.Field("plain"));
        Assert.Equal("", Csv.Field(""));
        Assert.Equal("\"a,b\"", Csv.Field("a,b"));
        Assert.Equal("\"a\"\"b\"", Csv.Field("a\"b"));
        Assert.Equal("\"a\nb\"", Csv.Field("a\nb"));
    }

    [Fact]
    public void WriteThenRead_RoundTripsAwkwardFields()
    {
        using var dir = new TempDir();
        string[][] rows = [["a,b", "\"q\"", "l1\r\nl2", ""], [" lead", "trail ", "ş", ","]];
        Csv.Write(dir["o.csv"], ["w", "x", "y", "z"], rows);
        Assert.Equal(rows, Fields(Csv.Read(dir["o.csv"])));
    }
}
