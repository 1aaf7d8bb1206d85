using CultureMert.Batch;
using CultureMert.IO;

namespace CultureMert.Tests.IO;

/// <summary>Folder traversal with symbolic links: each real folder entered once, each real file listed once.</summary>
public class FolderWalkTests
{
    [Fact]
    public void LinkLoopAndTwoLinksToOneFolder_ListEachFileOnce()
    {
        using var dir = new Fixtures.TempDir();
        var music = dir["music"];
        Directory.CreateDirectory(Path.Combine(music, "a"));
        Directory.CreateDirectory(dir["elsewhere"]);
        File.WriteAllBytes(Path.Combine(music, "top.wav"), [1]);
        File.WriteAllBytes(Path.Combine(music, "a", "x.wav"), [2]);
        File.WriteAllBytes(dir["elsewhere/y.wav"], [3]);
        Directory.CreateSymbolicLink(Path.Combine(music, "self"), ".");                      // a loop
        Directory.CreateSymbolicLink(Path.Combine(music, "a", "up"), "..");                  // another
        Directory.CreateSymbolicLink(Path.Combine(music, "b"), dir["elsewhere"]);            // a folder outside, by two links
        Directory.CreateSymbolicLink(Path.Combine(music, "c"), dir["elsewhere"]);
        File.CreateSymbolicLink(Path.Combine(music, "top-again.wav"), Path.Combine(music, "top.wav"));

        var files = FolderWalk.Files(music);
        Assert.Equal([Path.Combine(music, "a", "x.wav"), Path.Combine(music, "b", "y.wav"), Path.Combine(music, "top.wav")], files);

        // The batch plan (embed, tokenize, ...) uses it: three tasks, not one per path through the loops.
        Assert.Equal(3, BatchJob.Plan([music], dir["out"]).Count);
    }

    [Fact]
    public void RealPath_ResolvesEveryLinkOnTheWay()
    {
        using var dir = new Fixtures.TempDir();
        Directory.CreateDirectory(dir["real/inner"]);
        Directory.CreateSymbolicLink(dir["link"], dir["real"]);
        Assert.Equal(FolderWalk.RealPath(dir["real/inner"]), FolderWalk.RealPath(dir["link/inner"]));
        Assert.NotEqual(dir["link/inner"], FolderWalk.RealPath(dir["link/inner"]));
    }
}
