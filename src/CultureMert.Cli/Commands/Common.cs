using TorchSharp;

namespace CultureMert.Cli.Commands;

/// <summary>What every command does before its work, and how it reports failure.</summary>
static class Common
{
    /// <summary>Threads for libtorch's intra-op pool; default: every core.</summary>
    public static void SetThreads(int? threads)
    {
        var n = threads ?? Environment.ProcessorCount;
        if (n < 1) throw new ArgumentException("--threads must be at least 1.");
        torch.set_num_threads(n);
    }

    /// <summary>Runs a command body; expected failures print one clear line and exit 1, never a stack trace.</summary>
    public static int Guard(Func<int> body)
    {
        try { return body(); }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or NotSupportedException or FileNotFoundException
                                      or DirectoryNotFoundException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return e is ArgumentException ? 2 : 1;
        }
        catch (Exception e)
        {
            // Not a bad input we know of: say so, with the details a bug report needs.
            Console.Error.WriteLine($"internal error: {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
            return 70;
        }
    }
}
