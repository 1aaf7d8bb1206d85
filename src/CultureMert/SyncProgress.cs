namespace CultureMert;

/// <summary>
/// An <see cref="IProgress{T}"/> that reports at once on the worker's thread: <see cref="Progress{T}"/> posts to the
/// thread pool, so log lines could arrive late or out of order.
/// </summary>
public sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
