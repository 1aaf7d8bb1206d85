using System.Globalization;

namespace CultureMert.IO;

/// <summary>
/// An advisory lock on an output folder for the length of a run, so that a second run into the same folder is refused at
/// once instead of both rewriting its index and one losing rows. The lock is <c>flock</c> on a hidden file (what .NET's
/// <see cref="FileShare.None"/> takes on Unix), so it ends with the process however it ends, kill -9 included; a
/// sidecar file names the holder for the refusal message. Shards of one job lock their own name and run side by side.
/// Taking a whole folder also removes the temporaries that killed runs left in it (<see cref="AtomicFile.CleanStale"/>).
/// </summary>
public sealed class FolderLock : IDisposable
{
    readonly FileStream stream;

    FolderLock(FileStream stream) => this.stream = stream;

    /// <param name="folder">the output folder (created if missing)</param>
    /// <param name="part">what of the folder this run writes when several runs may share it (a shard's index name); null: all of it</param>
    public static FolderLock Acquire(string folder, string? part = null)
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, part is null ? ".culturemert.lock" : $".culturemert.{part}.lock");
        FileStream stream;
        try { stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
        catch (IOException e) when (e is not DirectoryNotFoundException and not PathTooLongException && !DiskFullException.IsDiskFull(e) && File.Exists(path))
        {
            var owner = File.Exists(path + ".owner") ? File.ReadAllText(path + ".owner").Trim() : "a process that did not say which";
            var what = part is null ? "into this folder" : $"{part} in this folder";
            throw new IOException($"{folder}: another run is writing {what} ({owner}); wait for it to end, or use another output folder.", e);
        }
        try
        {
            AtomicFile.WriteText(path + ".owner", FormattableString.Invariant(
                $"process {Environment.ProcessId} on {Environment.MachineName}, since {DateTime.UtcNow:yyyy-MM-dd HH:mm:ss} UTC: {Environment.CommandLine}\n"));
        }
        catch
        {
            stream.Dispose();
            throw;
        }
        if (part is null) AtomicFile.CleanStale(folder);     // the folder is this run's now: temporaries of killed runs go
        return new FolderLock(stream);
    }

    public void Dispose() => stream.Dispose();
}
