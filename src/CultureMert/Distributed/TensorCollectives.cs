using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Distributed;

/// <summary>
/// Collectives over lists of float32 tensors, bucketed as PyTorch DDP's reducer does: tensors are packed into one
/// contiguous buffer of up to <see cref="BucketFloats"/> floats, the buffer goes through one MPI call, and the results
/// are copied back — a few large messages instead of one per tensor (the tiny model has ~100 tensors, 95M has ~210).
/// The bucket is host memory, which is what MPI reads and writes: packing is the one copy each way for CPU tensors and
/// doubles as the device → host and host → device transfer for tensors on a GPU.
/// </summary>
public static class TensorCollectives
{
    /// <summary>32 MiB of float32 per bucket (DDP's default is 25 MB).</summary>
    public const long BucketFloats = 8L << 20;

    /// <summary>
    /// Sums every rank's gradients of <paramref name="parameters"/> into each rank's. A parameter without a gradient on a
    /// rank (LayerDrop skipped its layer in all of that rank's micro-batches) counts as zeros there; afterwards it has a
    /// gradient exactly when some rank had one, so AdamW skips it exactly when a single process would.
    /// </summary>
    public static void AllReduceGradients(ICommunicator comm, IReadOnlyList<Tensor> parameters, long bucketFloats = BucketFloats)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var has = parameters.Select(p => p.grad is null ? 0f : 1f).ToArray();
        comm.AllReduceSum(has);                                               // how many ranks have each gradient
        var grads = new List<Tensor>();
        for (var i = 0; i < parameters.Count; i++)
        {
            if (has[i] == 0) continue;
            if (parameters[i].grad is null) parameters[i].grad = zeros_like(parameters[i]);
            grads.Add(parameters[i].grad!);
        }
        Bucketed(grads, bucketFloats, comm.AllReduceSum);
    }

    /// <summary>Overwrites <paramref name="tensors"/> on every rank with rank <paramref name="root"/>'s values.</summary>
    public static void Broadcast(ICommunicator comm, IReadOnlyList<Tensor> tensors, int root, long bucketFloats = BucketFloats)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Bucketed(tensors, bucketFloats, span => comm.Broadcast(span, root));
    }

    private delegate void SpanAction(Span<float> span);

    /// <summary>Packs <paramref name="tensors"/> (on any device) into CPU buckets in order, runs <paramref name="collective"/> on each, unpacks.</summary>
    private static void Bucketed(IReadOnlyList<Tensor> tensors, long bucketFloats, SpanAction collective)
    {
        if (tensors.Count == 0) return;
        foreach (var t in tensors)
            if (t.dtype != ScalarType.Float32) throw new NotSupportedException($"data-parallel training reduces float32 tensors; got a {t.dtype} tensor of shape [{string.Join(", ", t.shape)}].");
        var capacity = Math.Max(bucketFloats, tensors.Max(t => t.numel()));
        capacity = Math.Min(capacity, tensors.Sum(t => t.numel()));
        // (capacity,) on the CPU, owned by the caller's scope; MPI reads and writes its storage during the call, on this thread
        var bucket = empty(capacity, ScalarType.Float32);
        var first = 0;
        while (first < tensors.Count)
        {
            var (end, fill) = (first, 0L);
            while (end < tensors.Count && fill + tensors[end].numel() <= capacity) fill += tensors[end++].numel();
            long offset = 0;
            for (var i = first; i < end; i++)
            {
                var n = tensors[i].numel();
                bucket.narrow(0, offset, n).copy_(tensors[i].reshape(-1));
                offset += n;
            }
            collective(MemoryMarshal.Cast<byte, float>(bucket.bytes)[..checked((int)fill)]);   // the bucket's storage, no copy
            offset = 0;
            for (var i = first; i < end; i++)
            {
                var n = tensors[i].numel();
                tensors[i].copy_(bucket.narrow(0, offset, n).view(tensors[i].shape));
                offset += n;
            }
            first = end;
        }
    }
}
