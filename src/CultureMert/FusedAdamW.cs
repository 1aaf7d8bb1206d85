using System.Numerics;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert;

/// <summary>
/// AdamW's update of one CPU parameter in a single pass over its memory. PyTorch's single-tensor AdamW runs seven
/// kernels per parameter (decay, lerp, mul, addcmul, sqrt into a new tensor, div, add, addcdiv): about 80 bytes of
/// memory traffic per float32 weight and a temporary as large as the parameter. At MERT-95M's size that is most of a
/// second per step on two cores, all of it memory-bound. Written by hand because TorchSharp 0.107 binds neither
/// <c>torch._fused_adamw_</c> nor the <c>_foreach</c> ops. Each element gets the arithmetic of those kernels in their
/// order (ATen's lerp, addcmul and addcdiv formulas), so results equal the op-by-op path to within a rounding of the
/// lerp (ATen's vectorised lerp fuses its multiply-add).
/// </summary>
internal static unsafe class FusedAdamW
{
    const int Block = 1 << 16;    // elements per parallel work item: large enough to amortise scheduling

    /// <summary>CPU, float32 or float64, one dtype, all contiguous: the layout the loop below walks.</summary>
    public static bool Applies(Tensor p, Tensor g, Tensor m, Tensor v) =>
        p.device_type == DeviceType.CPU && p.dtype is ScalarType.Float32 or ScalarType.Float64
        && g.device_type == DeviceType.CPU && g.dtype == p.dtype && m.dtype == p.dtype && v.dtype == p.dtype
        && p.is_contiguous() && g.is_contiguous() && m.is_contiguous() && v.is_contiguous();

    public static void Step(Tensor p, Tensor g, Tensor m, Tensor v, AdamW.Coefficients k)
    {
        if (p.dtype == ScalarType.Float32) Step<float>(p, g, m, v, k);
        else Step<double>(p, g, m, v, k);
    }

    static void Step<T>(Tensor p, Tensor g, Tensor m, Tensor v, AdamW.Coefficients k) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var n = p.numel();
        var (pp, gp, mp, vp) = (Address(p), Address(g), Address(m), Address(v));
        var blocks = (int)((n + Block - 1) / Block);
        void Run(int b)
        {
            var start = (long)b * Block;
            var count = (int)Math.Min(Block, n - start);
            Update(new Span<T>((T*)pp + start, count), new ReadOnlySpan<T>((T*)gp + start, count),
                   new Span<T>((T*)mp + start, count), new Span<T>((T*)vp + start, count), k);
        }
        // Workers write raw memory only; p, g, m and v are owned by the model and AdamW on this thread, which waits here.
        if (blocks == 1) Run(0);
        else Parallel.For(0, blocks, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, torch.get_num_threads()) }, Run);
    }

    /// <summary>Where a contiguous CPU tensor's elements start (<c>Tensor.bytes</c> is a span over its native memory).</summary>
    static nint Address(Tensor t)
    {
        fixed (byte* b = t.bytes) return (nint)b;
    }

    static void Update<T>(Span<T> p, ReadOnlySpan<T> g, Span<T> m, Span<T> v, AdamW.Coefficients k) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // The scalars as the kernels see them: converted once to the tensor's type (ATen's opmath type for float/double).
        var decay = T.CreateTruncating(k.Decay);
        var w1 = T.CreateTruncating(k.Weight1);
        var b2 = T.CreateTruncating(k.Beta2);
        var c2 = T.CreateTruncating(k.OneMinusBeta2);
        var bc2 = T.CreateTruncating(k.Bc2Sqrt);
        var eps = T.CreateTruncating(k.Eps);
        var stepSize = T.CreateTruncating(k.StepSize);
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var (vDecay, vW1, vB2, vC2, vBc2, vEps, vStep) = (new Vector<T>(decay), new Vector<T>(w1), new Vector<T>(b2), new Vector<T>(c2),
                                                              new Vector<T>(bc2), new Vector<T>(eps), new Vector<T>(stepSize));
            var pv = System.Runtime.InteropServices.MemoryMarshal.Cast<T, Vector<T>>(p);
            var gv = System.Runtime.InteropServices.MemoryMarshal.Cast<T, Vector<T>>(g);
            var mv = System.Runtime.InteropServices.MemoryMarshal.Cast<T, Vector<T>>(m);
            var vv = System.Runtime.InteropServices.MemoryMarshal.Cast<T, Vector<T>>(v);
            for (var j = 0; j < pv.Length; j++)
            {
                var grad = gv[j];
                var param = pv[j] * vDecay;                                       // p.mul_(1 − lr·wd)
                var avg = mv[j] + vW1 * (grad - mv[j]);                           // m.lerp_(g, 1 − β1)
                var sq = vv[j] * vB2 + vC2 * grad * grad;                         // v.mul_(β2).addcmul_(g, g, 1 − β2)
                var denom = Vector.SquareRoot(sq) / vBc2 + vEps;                  // v.sqrt() / √(1 − β2^t) + eps
                (pv[j], mv[j], vv[j]) = (param + vStep * avg / denom, avg, sq);   // p.addcdiv_(m, denom, −lr / (1 − β1^t))
            }
            i = pv.Length * Vector<T>.Count;
        }
        for (; i < p.Length; i++)
        {
            var grad = g[i];
            var param = p[i] * decay;
            var avg = m[i] + w1 * (grad - m[i]);
            var sq = v[i] * b2 + c2 * grad * grad;
            var denom = T.Sqrt(sq) / bc2 + eps;
            (p[i], m[i], v[i]) = (param + stepSize * avg / denom, avg, sq);
        }
    }
}
