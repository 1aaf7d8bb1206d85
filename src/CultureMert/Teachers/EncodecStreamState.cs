using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Teachers;

/// <summary>
/// What the causal EnCodec encoder must remember between consecutive chunks of one signal so that chunked encoding equals
/// the one-pass encoder: each padded convolution's last k_eff − stride input samples (its left context) and the LSTM's
/// (h, c). Keyed by module instance; owns its tensors (outside any dispose scope) and frees them on <see cref="Dispose"/>,
/// on the encoding thread.
/// </summary>
/// <remarks>
/// Chunks other than the last must be multiples of the total stride (hop), so that every layer's frames split at chunk
/// boundaries. Only the first chunk sees the true start (reflect padding on the left); only the last sees the true end
/// (the right-hand <c>extra</c> padding).
/// </remarks>
public sealed class EncodecStreamState : IDisposable
{
    private readonly Dictionary<nn.Module, Tensor[]> memory = new(ReferenceEqualityComparer.Instance);

    /// <summary>True while the chunk being processed is the signal's first (no left context yet: reflect the start).</summary>
    public bool IsFirst { get; private set; } = true;

    /// <summary>True while the chunk being processed is the signal's last (pad the end as the one-pass encoder does).</summary>
    public bool IsLast { get; private set; }

    /// <summary>Marks the start of the next chunk; <paramref name="isLast"/> says whether it ends the signal.</summary>
    public void BeginChunk(bool isLast) => IsLast = isLast;

    /// <summary>Marks the end of a chunk: later chunks use the kept contexts.</summary>
    public void EndChunk() => IsFirst = false;

    /// <summary>What <paramref name="module"/> kept from the previous chunk, or null (first chunk, or it keeps nothing).</summary>
    public Tensor[]? Recall(nn.Module module) => memory.GetValueOrDefault(module);

    /// <summary>
    /// Keeps copies of <paramref name="tensors"/> for <paramref name="module"/>'s next chunk. Copies, because a slice would
    /// pin the whole chunk's activation in memory; into the buffers of the previous chunk when the shapes agree, so that
    /// these long-lived tensors are allocated once instead of between every chunk's activations (heap fragmentation).
    /// </summary>
    public void Keep(nn.Module module, params Tensor[] tensors)
    {
        if (memory.TryGetValue(module, out var kept) && kept.Length == tensors.Length &&
            kept.Zip(tensors).All(p => p.First.shape.SequenceEqual(p.Second.shape)))
        {
            foreach (var (buffer, t) in kept.Zip(tensors)) buffer.copy_(t);
            return;
        }
        if (kept is not null) foreach (var t in kept) t.Dispose();
        memory[module] = tensors.Select(t => t.clone().DetachFromDisposeScope()).ToArray();
    }

    public void Dispose()
    {
        foreach (var ts in memory.Values)
            foreach (var t in ts) t.Dispose();
        memory.Clear();
    }
}

/// <summary>An encoder layer that can run on one chunk of a signal given its <see cref="EncodecStreamState"/>.</summary>
public interface IEncodecStreamingLayer
{
    /// <summary>
    /// The layer on <paramref name="x"/>: the whole signal when <paramref name="state"/> is null, else the next chunk of it
    /// (reading and updating the state).
    /// </summary>
    /// <param name="x">(batch, channels, length)</param>
    Tensor Forward(Tensor x, EncodecStreamState? state);
}
