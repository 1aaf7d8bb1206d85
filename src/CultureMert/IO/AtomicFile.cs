using System.Text;

namespace CultureMert.IO;

/// <summary>Write-to-temporary-then-rename, so that an interrupted job never leaves a half-written output behind.</summary>
public static class AtomicFile
{
    const string TempPrefix = ".cmtmp.";

    /// <summary>Writes <paramref name="path"/> whole or not at all; a full disk is a <see cref="DiskFullException"/> and leaves no temporary.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        using var pending = Create(path);
        try
        {
            write(pending.Stream);
            pending.Commit();
        }
        catch (IOException e) when (DiskFullException.IsDiskFull(e)) { throw DiskFullException.Wrap(e, path); }
    }

    /// <summary>
    /// Opens a temporary next to <paramref name="path"/>; <see cref="Pending.Commit"/> moves it into place, disposing without
    /// it deletes it. With the final <paramref name="size"/> known, the space is reserved at once, so that a full disk fails
    /// here, before any work is written, with the size needed.
    /// </summary>
    public static Pending Create(string path, long? size = null)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        // A short name, so that a target whose own name is near the file-system limit still gets a temporary.
        var tmp = Path.Combine(dir, $"{TempPrefix}{Environment.ProcessId}@{Host}.{Guid.NewGuid().ToString("N")[..12]}.tmp");
        try
        {
            return new Pending(path, tmp, new FileStream(tmp, new FileStreamOptions
            {
                Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None, BufferSize = 1 << 20, PreallocationSize = size ?? 0,
            }));
        }
        catch (IOException e) when (DiskFullException.IsDiskFull(e))
        {
            if (File.Exists(tmp)) File.Delete(tmp);
            throw DiskFullException.Wrap(e, path, size);
        }
    }

    /// <summary>A file being written under a temporary name.</summary>
    public sealed class Pending(string path, string tmp, FileStream stream) : IDisposable
    {
        bool done;
        public Stream Stream => stream;

        public void Commit()
        {
            try
            {
                stream.Flush(flushToDisk: true);
                stream.Dispose();
            }
            catch (IOException e) when (DiskFullException.IsDiskFull(e)) { throw DiskFullException.Wrap(e, path); }
            File.Move(tmp, path, overwrite: true);
            done = true;
        }

        public void Dispose()
        {
            if (done) return;
            done = true;
            try { stream.Dispose(); }               // flushes what is buffered: fails again on a full disk, and closes anyway
            catch (IOException) { }
            finally { if (File.Exists(tmp)) File.Delete(tmp); }
        }
    }

    public static void WriteText(string path, string text) => Write(path, s => s.Write(Encoding.UTF8.GetBytes(text)));

    /// <summary>
    /// Writes a whole folder: <paramref name="write"/> fills a temporary folder beside <paramref name="path"/>
    /// (<c>.cmtmp.PID@HOST.NAME.dir</c>), which then replaces <paramref name="path"/>, so a reader never sees a half-written one.
    /// </summary>
    /// <returns><paramref name="path"/></returns>
    public static string WriteDirectory(string path, Action<string> write)
    {
        var tmp = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, $"{TempPrefix}{Environment.ProcessId}@{Host}.{Path.GetFileName(path)}.dir");
        if (Directory.Exists(tmp)) Directory.Delete(tmp, true);
        Directory.CreateDirectory(tmp);
        try { write(tmp); }
        catch
        {
            Directory.Delete(tmp, true);            // (a full disk, an error in the writer): nothing half-written is left
            throw;
        }
        if (Directory.Exists(path)) Directory.Delete(path, true);
        Directory.Move(tmp, path);
        return path;
    }

    /// <summary>
    /// A short tag of this machine, in temporaries' names: shards on several nodes (or Kubernetes pods, whose processes
    /// all have small pids) share an output folder, and a pid means something only on the machine that wrote it.
    /// </summary>
    static readonly string Host = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(Environment.MachineName)))[..8];

    /// <summary>
    /// Deletes temporaries (files and folders) that a killed process of this machine left in <paramref name="directory"/>
    /// (recursively); those of processes still running (another shard writing into the same folder) and of other
    /// machines are left alone.
    /// </summary>
    public static int CleanStale(string directory)
    {
        if (!Directory.Exists(directory)) return 0;
        var removed = 0;
        foreach (var tmp in Directory.EnumerateFiles(directory, TempPrefix + "*.tmp", SearchOption.AllDirectories))
            if (Path.GetFileName(tmp).Split('.') is [_, _, var owner, _, "tmp"] && IsStale(owner))    // "", "cmtmp", pid[@host], guid, "tmp"
                try { File.Delete(tmp); removed++; } catch (IOException) { }
        foreach (var tmp in Directory.GetDirectories(directory, TempPrefix + "*", SearchOption.AllDirectories))
            if (Directory.Exists(tmp) && Path.GetFileName(tmp).Split('.') is [_, _, var owner, ..] && IsStale(owner))   // "", "cmtmp", pid[@host], name...
                try { Directory.Delete(tmp, true); removed++; } catch (IOException) { }
        return removed;
    }

    /// <summary>Whether the writer <c>pid[@host]</c> of a temporary is a process of this machine that no longer runs.</summary>
    static bool IsStale(string writer)
    {
        var owner = writer.Split('@');
        return int.TryParse(owner[0], out var pid) && (owner.Length == 1 || owner[1] == Host) && !IsRunning(pid);
    }

    static bool IsRunning(int pid)
    {
        try { using var p = System.Diagnostics.Process.GetProcessById(pid); return !p.HasExited; }
        catch (ArgumentException) { return false; }
    }
}
