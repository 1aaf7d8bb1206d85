using CultureMert.Batch;

namespace CultureMert.Tests.Batch;

/// <summary>Manifests (a <c>path</c> column) that a user wrote by hand, read as every batch command reads them.</summary>
public class ManifestTests
{
    [Fact]
    public void ReadPaths_QuoteLeftOpen_IsAnErrorNamingTheLine()
    {
        using var dir = new Fixtures.TempDir();
        // Line 2 opens a quote that line 3 closes: valid CSV for one field across two lines, but no path spans lines.
        File.WriteAllText(dir["m.csv"], "path,duration_s\n\"a.wav,10\nb.wav\",5\nc.wav,7\n");
        var e = Assert.Throws<InvalidDataException>(() => Manifest.ReadPaths(dir["m.csv"]));
        Assert.Contains($"{dir["m.csv"]}:2", e.Message);
        Assert.Contains("left open", e.Message);

        // A quote never closed at all runs to the end of the file.
        File.WriteAllText(dir["n.csv"], "path\na.wav\n\"b.wav\nc.wav\n");
        Assert.Contains("unterminated", Assert.Throws<InvalidDataException>(() => Manifest.ReadPaths(dir["n.csv"])).Message);

        // Quoted paths with commas are fine.
        File.WriteAllText(dir["ok.csv"], "path\n\"x, y.wav\"\nz.wav\n");
        Assert.Equal(["x, y.wav", "z.wav"], Manifest.ReadPaths(dir["ok.csv"]));
    }
}
