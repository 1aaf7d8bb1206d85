using System.Collections.Concurrent;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert;

/// <summary>
/// The one way this project hands a number to a TorchSharp method that takes a <see cref="Scalar"/>: an interned Scalar
/// from <see cref="Of(double)"/> (constants), or one its caller holds with <c>using var s = v.ToScalar()</c> (values that
/// change every step). Never an implicit conversion, never a TorchSharp overload that makes a Scalar inside.
/// </summary>
/// <remarks>
/// Why (the cause of the "Unknown scalar type" / "Expected false to be true ... toLong" crashes of pretrain): TorchSharp
/// 0.107 passes <c>scalar.Handle</c> to libtorch and never keeps the managed Scalar alive (no GC.KeepAlive), and Scalar's
/// finaliser deletes the native value. A temporary Scalar — <c>x.lt(n)</c>, <c>x * 0.5</c>, or the alpha = 1 that
/// TorchSharp's own <c>a + b</c>, <c>add(Tensor)</c> and <c>add_(Scalar)</c> create — is garbage once its pointer is read.
/// A collection started by another thread (a progress bar, a decoder, GC.Collect) meanwhile queues it, and the finaliser
/// thread frees it while libtorch still reads it: a garbage tag (those messages) or, worse, a wrong value.
/// Interned Scalars are rooted here for the process's lifetime, so no thread can free them; reading one from several
/// threads at once is safe (libtorch only reads it). ScalarLifetimeTests rejects any Scalar temporary in the assemblies.
/// </remarks>
public static class Scalars
{
    static readonly ConcurrentDictionary<(ScalarType Type, long Bits), Scalar> Interned = new();

    /// <summary>1 (an integer Scalar, as TorchSharp's implicit alpha): <c>a.add(b, One)</c> is <c>a + b</c>.</summary>
    public static Scalar One { get; } = Of(1L);

    /// <summary>An interned double Scalar (a constant: every distinct value stays for the process).</summary>
    public static Scalar Of(double value) => Interned.GetOrAdd((ScalarType.Float64, BitConverter.DoubleToInt64Bits(value)), _ => value.ToScalar());

    /// <summary>An interned integer Scalar (what an implicit int or long conversion gives).</summary>
    public static Scalar Of(long value) => Interned.GetOrAdd((ScalarType.Int64, value), _ => value.ToScalar());

    /// <summary>An interned boolean Scalar.</summary>
    public static Scalar Of(bool value) => Interned.GetOrAdd((ScalarType.Bool, value ? 1 : 0), _ => value.ToScalar());
}
