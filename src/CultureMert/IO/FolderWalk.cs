using System.Runtime.InteropServices;
using System.Text;

namespace CultureMert.IO;

/// <summary>
/// Every file under a folder, following symbolic links to folders but entering each real folder once: a link loop
/// (<c>music/self -> .</c>) or two links to one folder yield each file once. .NET's recursive enumeration follows links
/// without that check, so a loop lists the same files until the path is too long.
/// </summary>
public static partial class FolderWalk
{
    /// <summary>Files under <paramref name="root"/> (full paths as reached, each real file once), in ordinal order.</summary>
    public static List<string> Files(string root)
    {
        var (seenFolders, seenFiles, found) = (new HashSet<string>(StringComparer.Ordinal), new HashSet<string>(StringComparer.Ordinal), new List<string>());
        var pending = new Stack<string>([Path.GetFullPath(root)]);
        while (pending.Count > 0)
        {
            var folder = pending.Pop();
            if (!seenFolders.Add(RealPath(folder))) continue;
            // A file's own entry before a link to it, so the name kept is the file's.
            foreach (var file in Directory.EnumerateFiles(folder).OrderBy(f => new FileInfo(f).LinkTarget is not null).ThenBy(f => f, StringComparer.Ordinal))
                if (seenFiles.Add(RealPath(file))) found.Add(file);
            foreach (var sub in Directory.EnumerateDirectories(folder).OrderDescending(StringComparer.Ordinal)) pending.Push(sub);
        }
        found.Sort(StringComparer.Ordinal);
        return found;
    }

    /// <summary>The path with every link resolved (POSIX realpath); where libc has none, the path as given.</summary>
    public static string RealPath(string path)
    {
        if (!OperatingSystem.IsWindows())
        {
            var buffer = new byte[4096];                                                          // PATH_MAX on Linux
            try { if (Resolve(path, buffer) != 0) return Encoding.UTF8.GetString(buffer, 0, Array.IndexOf(buffer, (byte)0)); }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
        }
        return Path.GetFullPath(path);
    }

    [LibraryImport("libc", EntryPoint = "realpath", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint Resolve(string path, byte[] resolved);
}
