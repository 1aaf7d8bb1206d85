using System.Text.Json.Nodes;
using CultureMert.IO;

namespace CultureMert.Tests.IO;

public class TuningCacheTests
{
    [Fact]
    public void TuningCache_SetThenGet_RoundTripsAcrossInstances()
    {
        using var dir = new Fixtures.TempDir();
        var path = dir["sub/conv.json"];
        new TuningCache(path).Set("cpu A", "k1", new JsonObject { ["algorithm"] = "im2col" });
        new TuningCache(path).Set("cpu A", "k2", new JsonObject { ["algorithm"] = "taps" });   // a second writer keeps the first's entry
        new TuningCache(path).Set("cpu B", "k1", new JsonObject { ["algorithm"] = "libtorch" });
        var cache = new TuningCache(path);
        Assert.Equal("im2col", cache.Get("cpu A", "k1")!["algorithm"]!.GetValue<string>());
        Assert.Equal("taps", cache.Get("cpu A", "k2")!["algorithm"]!.GetValue<string>());
        Assert.Equal("libtorch", cache.Get("cpu B", "k1")!["algorithm"]!.GetValue<string>());
        Assert.Null(cache.Get("cpu B", "k2"));
        Assert.Null(cache.Get("cpu C", "k1"));
        Assert.Empty(Directory.GetFiles(dir["sub"], ".cmtmp.*"));                                // written under a temporary, renamed
    }

    [Theory]
    [InlineData("{ not json")]
    [InlineData("[1, 2]")]
    [InlineData("{\"machines\": 5}")]
    [InlineData("{\"machines\": {\"cpu A\": \"x\"}}")]
    [InlineData("")]
    public void TuningCache_CorruptFile_IsAnEmptyCacheAndIsRewritten(string text)
    {
        using var dir = new Fixtures.TempDir();
        var path = dir["conv.json"];
        File.WriteAllText(path, text);
        var cache = new TuningCache(path);
        Assert.Null(cache.Get("cpu A", "k1"));
        cache.Set("cpu A", "k1", new JsonObject { ["algorithm"] = "im2col" });
        Assert.Equal("im2col", new TuningCache(path).Get("cpu A", "k1")!["algorithm"]!.GetValue<string>());
    }

    [Fact]
    public void TuningCache_UnwritableFolder_IsNotFatal()
    {
        using var dir = new Fixtures.TempDir();
        File.WriteAllText(dir["file"], "");
        var cache = new TuningCache(dir["file/conv.json"]);                                      // a folder that cannot exist
        cache.Set("cpu A", "k1", new JsonObject { ["algorithm"] = "im2col" });
        Assert.Null(cache.Get("cpu A", "k1"));
    }

    [Fact]
    public void DefaultDirectory_FollowsTheVariablesInOrder()
    {
        Assert.Equal("/c", TuningCache.DefaultDirectory(n => n == "CULTUREMERT_CACHE_DIR" ? "/c" : "/x"));
        Assert.Equal(Path.Combine("/x", "culturemert"), TuningCache.DefaultDirectory(n => n == "XDG_CACHE_HOME" ? "/x" : null));
        Assert.EndsWith(Path.Combine(".cache", "culturemert"), TuningCache.DefaultDirectory(_ => null));
    }
}
