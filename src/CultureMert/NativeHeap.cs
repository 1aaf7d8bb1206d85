using System.Runtime.InteropServices;

namespace CultureMert;

/// <summary>
/// Keeping glibc's C heap (where libtorch's CPU tensors live) from holding on to freed tensor memory. glibc raises its
/// mmap threshold up to 32 MB each time a large block is freed, so tensor-sized blocks then come from the heap, and
/// fragmentation lets peak RSS grow with the amount of work although the live tensors stay bounded. Both calls are
/// no-ops where glibc is absent (musl, macOS, Windows).
/// </summary>
public static partial class NativeHeap
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
    /// Keeps tensor buffers of up to 32 MiB in the heap for reuse (M_MMAP_THRESHOLD = −3) and trims the heap only past
    /// 256 MiB free (M_TRIM_THRESHOLD = −1). glibc's default threshold moves with every free, and its trim then hands
    /// pages back that the next forward pass faults in again, zero-filled: embedding with a small model spent 40 % of its
    /// time in the kernel (13.0 s sys of 27.1 s wall for six probing cells, 4.1 M page faults; 1.5 s sys, 19.0 s wall with
    /// this). Buffers above 32 MiB (a 95M model's activations) are still mmaps that go back when freed. Process-wide and
    /// idempotent: the library's compute jobs call it at their start (batch jobs such as embed and tokenize, the
    /// <c>Embedder</c>, evaluation, pre-training, k-means fitting), so a program calling the library gets it as the CLI
    /// does; a merge job lowers the threshold for itself (<see cref="ReturnLargeBuffersToTheSystem"/>) and the next
    /// compute job raises it again.
    /// </summary>
    public static void ReuseTensorBuffers()
    {
        if (!available) return;
        try
        {
            Mallopt(-3, 32 << 20);
            Mallopt(-1, 256 << 20);
        }
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
