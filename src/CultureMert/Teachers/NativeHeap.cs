using System.Runtime.InteropServices;

namespace CultureMert.Teachers;

/// <summary>
/// glibc's <c>malloc_trim</c>: hands the free pages of the C heap (where libtorch's CPU tensors live) back to the OS.
/// Needed between the chunks of a long signal: glibc raises its mmap threshold up to 32 MB after large blocks are freed,
/// so chunk-sized activations then come from the heap, and fragmentation lets the heap — and peak RSS — grow with the
/// number of chunks although the live tensors stay bounded. A no-op where glibc is absent (musl, macOS, Windows).
/// </summary>
internal static partial class NativeHeap
{
    static bool available = OperatingSystem.IsLinux();

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);

    public static void Trim()
    {
        if (!available) return;
        try { MallocTrim(0); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { available = false; }
    }
}
