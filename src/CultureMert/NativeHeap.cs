using System.Runtime.InteropServices;

namespace CultureMert;

/// <summary>
/// Keeping glibc's C heap (where libtorch's CPU tensors live) from holding on to freed tensor memory. glibc raises its
/// mmap threshold up to 32 MB each time a large block is freed, so tensor-sized blocks then come from the heap, and
/// fragmentation lets peak RSS grow with the amount of work although the live tensors stay bounded. Both calls are
/// no-ops where glibc is absent (musl, macOS, Windows).
/// </summary>
internal static partial class NativeHeap
{
    static bool available = OperatingSystem.IsLinux();

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int Mallopt(int param, int value);

    /// <summary>Hands the heap's free pages back to the OS (<c>malloc_trim</c>): between the chunks of a long signal.</summary>
    public static void Trim()
    {
        if (!available) return;
        try { MallocTrim(0); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { available = false; }
    }

    /// <summary>
    /// Fixes the mmap threshold at 1 MiB (M_MMAP_THRESHOLD = −3), so every tensor buffer is an mmap that goes back to the
    /// system when freed: a TIES merge of four 95M models peaked at 5.3 GB without it, about 1 GB with it. Process-wide;
    /// used by the merge jobs, whose many same-sized buffers fragment the heap most. Costs speed on small allocations.
    /// </summary>
    public static void ReturnLargeBuffersToTheSystem()
    {
        if (!available) return;
        try { Mallopt(-3, 1 << 20); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { available = false; }
    }
}
