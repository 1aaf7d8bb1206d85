using System.Runtime.CompilerServices;

namespace CultureMert.Tests;

/// <summary>
/// The tests' measured choices (convolution algorithms, batch sizes) go to a folder of their own under the system's
/// temporary folder, not to the user's cache: a test run neither reads nor changes what the user's runs chose. CLI
/// processes the tests start inherit it.
/// </summary>
static class TestCacheFolder
{
    [ModuleInitializer]
    internal static void Set() =>
        Environment.SetEnvironmentVariable("CULTUREMERT_CACHE_DIR", Path.Combine(Path.GetTempPath(), $"cm-test-cache-{Environment.ProcessId}"));
}
