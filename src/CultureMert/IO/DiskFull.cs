namespace CultureMert.IO;

/// <summary>
/// A write failed for lack of space. Unlike a bad input it stops a batch (every next file would fail the same way);
/// the message names the folder, the space free and, where known, the space the write needed.
/// </summary>
public sealed class DiskFullException(string folder, string file, long? needed, long free, Exception inner, string? finished = null)
    : IOException(Describe(folder, file, needed, free) + (finished is null ? "" : $" {finished}."), inner)
{
    /// <summary>The same failure, saying what the stopped job did finish.</summary>
    public DiskFullException Finished(string what) => new(folder, file, needed, free, InnerException!, what);

    public string Folder => folder;

    /// <summary>Bytes the failed write needed in all, when the writer knew its size in advance.</summary>
    public long? Needed => needed;

    static string Describe(string folder, string file, long? needed, long free) =>
        $"{folder}: no space left on the device writing {Path.GetFileName(file)} " +
        $"({(free >= 0 ? $"{Bytes(free)} free" : "free space unknown")}{(needed is { } n ? $", {Bytes(n)} needed for this file" : "")}). " +
        "Free some space or use another output folder, then run the same command again: what finished is kept.";

    static string Bytes(long n) => n switch
    {
        < 1 << 10 => $"{n} B",
        < 1 << 20 => $"{n / 1024.0:0.#} KiB",
        < 1 << 30 => $"{n / 1048576.0:0.#} MiB",
        _ => $"{n / 1073741824.0:0.##} GiB",
    };

    /// <summary>Whether <paramref name="e"/> is the operating system saying the disk (or the user's quota) is full.</summary>
    public static bool IsDiskFull(Exception e) =>
        e is DiskFullException || e is IOException { HResult: Enospc or Edquot }
        || e is IOException && e.Message.Contains("because the disk was full", StringComparison.Ordinal);   // .NET's preallocation failure

    const int Enospc = 28, Edquot = 122;   // Linux errno values, which .NET gives as the HResult of an IOException

    /// <summary>Bytes free to this user on the file system holding <paramref name="path"/>, or -1 when it cannot be told.</summary>
    public static long FreeBytes(string path)
    {
        try { return new DriveInfo(Path.GetFullPath(path)).AvailableFreeSpace; }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException) { return -1; }
    }

    /// <summary>Rethrows a disk-full failure of writing <paramref name="file"/> as a <see cref="DiskFullException"/>; other exceptions pass.</summary>
    public static Exception Wrap(Exception e, string file, long? needed = null)
    {
        if (e is DiskFullException || !IsDiskFull(e)) return e;
        var folder = Path.GetDirectoryName(Path.GetFullPath(file))!;
        return new DiskFullException(folder, file, needed, FreeBytes(folder), e);
    }
}
