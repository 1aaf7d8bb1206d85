using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CultureMert.Model;

/// <summary>
/// The number format a model computes in. <see cref="Float32"/> is exact to the reference (parity ≤ 1e-4).
/// <see cref="BFloat16"/> (8-bit mantissa) is about 2× faster on CPUs with AVX-512 BF16 or AMX: <c>embed</c> converts every
/// layer to it (hidden states 1–2 % relative L2 off fp32, bench/RESULTS.md "Precision"); <c>pretrain</c> trains in mixed
/// precision (<see cref="MixedPrecision"/>). Outputs are float32 either way.
/// </summary>
public enum Precision { Float32, BFloat16 }

/// <summary>
/// How a <see cref="Precision"/> is spelled in <c>--precision</c>, recipes, output metadata and reports (fp32, bf16). Text
/// becomes a precision once, by <see cref="Parse"/>, where it enters (the CLI, a recipe).
/// </summary>
public static class Precisions
{
    public static string Name(this Precision precision) => precision == Precision.BFloat16 ? "bf16" : "fp32";

    /// <summary>Parses <c>fp32</c> (or <c>float32</c>) and <c>bf16</c> (or <c>bfloat16</c>), in any case.</summary>
    /// <exception cref="ArgumentException">any other text; the message lists the valid names</exception>
    public static Precision Parse(string name) => name.ToLowerInvariant() switch
    {
        "fp32" or "float32" => Precision.Float32,
        "bf16" or "bfloat16" => Precision.BFloat16,
        _ => throw new ArgumentException($"--precision {name}: expected fp32 or bf16."),
    };
}

/// <summary>
/// bf16 mixed precision for training, as PyTorch's CPU autocast (<c>torch.autocast("cpu", torch.bfloat16)</c>) does it for
/// the operations of this model: each matrix product (linear layers, convolutions, attention) multiplies bf16 copies of
/// its inputs and weights, accumulating in fp32; everything else (norms, softmax statistics, reductions, the heads and the
/// loss) runs in fp32, and the parameters, their gradients and the optimiser state stay fp32 (the master weights): a cast
/// is differentiable, so each bf16 copy's gradient flows back into its fp32 parameter.
/// </summary>
/// <remarks>
/// One difference from autocast, on the side of accuracy: each product's result comes back as fp32 at once, so the
/// elementwise work between products (GELU, residual adds, dropout) runs in fp32 where autocast would leave it in bf16.
/// The switch is per thread, like autocast's, so a data-preparation or teacher thread never computes in bf16 by accident.
/// </remarks>
public static class MixedPrecision
{
    [ThreadStatic] private static bool bf16;

    /// <summary>Whether this thread's matrix products run in bf16 now.</summary>
    public static bool Active => bf16;

    /// <summary>Matrix products on this thread run in bf16 until the returned scope is disposed (nests; restores the previous state).</summary>
    public static IDisposable Enter(Precision precision) => new Scope(precision == Precision.BFloat16);

    /// <param name="x">(..., in)</param> <returns>(..., out), fp32 under bf16</returns>
    public static Tensor Linear(Linear layer, Tensor x)
    {
        if (!bf16) return layer.call(x);
        using var scope = NewDisposeScope();
        return nn.functional.linear(Half(x), Half(layer.weight!), layer.bias is null ? null : Half(layer.bias))
                 .to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary><see cref="Convolutions.Conv1d"/>, in bf16 when active.</summary>
    /// <param name="x">(batch, in, samples)</param> <returns>(batch, out, frames), fp32 under bf16</returns>
    public static Tensor Conv1d(Tensor x, Tensor weight, Tensor? bias, long stride = 1, long padding = 0, long groups = 1)
    {
        if (!bf16) return Convolutions.Conv1d(x, weight, bias, stride, padding, groups: groups);
        using var scope = NewDisposeScope();
        return Convolutions.Conv1d(Half(x), Half(weight), bias is null ? null : Half(bias), stride, padding, groups: groups)
                 .to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>Fused scaled-dot-product attention; under bf16 its kernel keeps the softmax statistics in fp32.</summary>
    /// <param name="q">(batch, heads, frames, head_dim)</param> <returns>(batch, heads, frames, head_dim), fp32 under bf16</returns>
    public static Tensor Attention(Tensor q, Tensor k, Tensor v, double dropout)
    {
        if (!bf16) return nn.functional.scaled_dot_product_attention(q, k, v, p: dropout);
        using var scope = NewDisposeScope();
        return nn.functional.scaled_dot_product_attention(Half(q), Half(k), Half(v), p: dropout)
                 .to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Why bf16 training would run slower than fp32 on <paramref name="device"/>, or null where it should not. On a CPU
    /// without native bf16 products (AVX-512 BF16 or AMX, <paramref name="cpuHasNativeBf16"/>) libtorch converts every bf16
    /// operand to float and back: on an AMD EPYC with AVX2 and no AVX-512 a bf16 step took 6–15× as long
    /// as fp32 (bench/RESULTS.md, "bf16 mixed-precision training").
    /// </summary>
    public static string? SlowerThanFp32(Device device, bool? cpuHasNativeBf16) =>
        device.type != DeviceType.CPU || cpuHasNativeBf16 == true ? null
        : cpuHasNativeBf16 == false
            ? "this CPU has no native bfloat16 (no avx512_bf16 or amx_bf16 in /proc/cpuinfo), so libtorch emulates bf16 products and a bf16 step is slower than fp32 (measured 6-15x slower on an AMD EPYC with AVX2 and no AVX-512; bench/RESULTS.md)."
            : "cannot tell whether this CPU multiplies bfloat16 natively (no /proc/cpuinfo); without AVX-512 BF16 or AMX a bf16 step is slower than fp32.";

    private static Tensor Half(Tensor t) => t.to_type(ScalarType.BFloat16);

    private sealed class Scope : IDisposable
    {
        private readonly bool previous = bf16;
        public Scope(bool enabled) => bf16 = enabled;
        public void Dispose() => bf16 = previous;
    }
}
