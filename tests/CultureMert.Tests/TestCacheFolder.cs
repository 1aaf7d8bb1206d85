using System.Runtime.CompilerServices;

namespace CultureMert.Tests;

/// <summary>
/// The tests' measured choices (convolution algorithms, batch sizes) go to a folder of their own under the system's
/// temporary folder, not to the user's cache: a test run neither reads nor changes what the user's runs chose. CLI
/// processes the tests start inherit it. The convolution algorithm is pinned to the shape rule (libtorch, or im2col
/// where libtorch pads channels): several tests compare processes started at the same moment (two MPI ranks against
/// one process, within 1e-5), and processes that each measure may pick different algorithms, which differ by float
/// rounding. ConvAutotunerTests test measuring with tuners of their own.
/// </summary>
static class TestCacheFolder
{
    [ModuleInitializer]
    internal static void Set()
    {
        Environment.SetEnvironmentVariable("CULTUREMERT_CACHE_DIR", Path.Combine(Path.GetTempPath(), $"cm-test-cache-{Environment.ProcessId}"));
        Environment.SetEnvironmentVariable("CULTUREMERT_CONV", "libtorch");
    }
}
