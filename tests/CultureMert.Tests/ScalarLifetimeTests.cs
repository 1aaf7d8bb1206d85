using System.Reflection;
using System.Reflection.Emit;
using CultureMert.Cli;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Tests;

/// <summary>
/// No Scalar temporary in the project's compiled code (see <see cref="Scalars"/>: the finaliser thread can free one while
/// libtorch reads it). Read from the IL: an implicit number → Scalar conversion, a call to a TorchSharp method that makes
/// such a temporary inside (operator +, add(Tensor), square(), a module's forward ...), or a ToScalar not held by a using.
/// </summary>
public class ScalarLifetimeTests
{
    const BindingFlags Declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
    static readonly Dictionary<(MethodBase, int), bool> Memo = new();

    [Fact]
    public void ProjectAssemblies_PassNoTemporaryScalarToTorchSharp()
    {
        var offences = new[] { typeof(Scalars).Assembly, typeof(CliApp).Assembly }
            .SelectMany(a => a.GetTypes()).Where(t => t != typeof(Scalars) && t.DeclaringType != typeof(Scalars))
            .SelectMany(t => t.GetMethods(Declared).Cast<MethodBase>().Concat(t.GetConstructors(Declared)))
            .SelectMany(m => Offences(m).Select(o => $"{m.DeclaringType}.{m.Name}: {o}")).Distinct().ToList();
        Assert.True(offences.Count == 0, $"{offences.Count} Scalar temporaries (use Scalars.Of or a using'd ToScalar):\n  " + string.Join("\n  ", offences));
    }

    [Fact]
    public void Scan_FindsEachKindOfTemporary_AndAcceptsHeldScalars()
    {
        static Tensor Implicit(Tensor x) => x.lt(3);
        static Tensor HiddenAlpha(Tensor a, Tensor b) => a + b;
        static Tensor Unheld(Tensor x, double v) => x.mul(v.ToScalar());
        static nn.Module<Tensor, Tensor> Module() => nn.ELU();
        static Tensor Held(Tensor x, double v)
        {
            using var s = v.ToScalar();
            return x.mul(s).add(x, Scalars.One).clamp_min(Scalars.Of(1e-8));
        }
        Assert.Contains(Offences(((Func<Tensor, Tensor>)Implicit).Method), o => o.Contains("implicit Int32"));
        Assert.Contains(Offences(((Func<Tensor, Tensor, Tensor>)HiddenAlpha).Method), o => o.Contains("op_Addition"));
        Assert.Contains(Offences(((Func<Tensor, double, Tensor>)Unheld).Method), o => o.Contains("ToScalar"));
        Assert.Contains(Offences(((Func<nn.Module<Tensor, Tensor>>)Module).Method), o => o.Contains("ELU.forward"));
        Assert.Empty(Offences(((Func<Tensor, double, Tensor>)Held).Method));
    }

    /// <summary>What in <paramref name="method"/>'s IL makes a Scalar temporary.</summary>
    static IEnumerable<string> Offences(MethodBase method)
    {
        var calls = Calls(method).ToList();
        foreach (var (callee, index) in calls.Select((c, i) => (c.Callee, i)))
        {
            if (callee is MethodInfo { Name: "op_Implicit" } m && m.ReturnType == typeof(Scalar)) yield return $"implicit {m.GetParameters()[0].ParameterType.Name} → Scalar";
            else if (callee.DeclaringType == typeof(ScalarExtensionMethods) && !Held(calls, index)) yield return "ToScalar without using";
            else if (callee.Module == typeof(Scalar).Module && MakesTemporary(callee, 3)) yield return $"{callee.DeclaringType!.Name}.{callee} makes a Scalar inside";
            if (ModuleMade(callee) is { } module && module.GetMethods(Declared).Any(f => f.Name == "forward" && MakesTemporary(f, 3)))
                yield return $"{module.Name}.forward makes a Scalar inside";   // called through Module.call: virtual, unseen above
        }
    }

    /// <summary>The TorchSharp module type a call creates (nn.ELU(), new Linear(...)), if any.</summary>
    static Type? ModuleMade(MethodBase callee)
    {
        var type = callee is ConstructorInfo ? callee.DeclaringType : (callee as MethodInfo)?.ReturnType;
        return type is not null && type.Module == typeof(Scalar).Module && typeof(nn.Module).IsAssignableFrom(type) ? type : null;
    }

    /// <summary>A using'd ToScalar: its result goes to a local that a later IDisposable.Dispose call reads.</summary>
    static bool Held(List<(MethodBase Callee, int? StoredLocal, int? LoadedLocal)> calls, int index) =>
        calls[index].StoredLocal is { } local && calls.Skip(index + 1).Any(c => c.Callee.Name == nameof(IDisposable.Dispose) && c.LoadedLocal == local);

    /// <summary>Whether a TorchSharp method converts a number to a Scalar itself, or calls one that does (a few levels deep).</summary>
    static bool MakesTemporary(MethodBase method, int depth)
    {
        if (depth == 0) return false;
        lock (Memo)
            if (Memo.TryGetValue((method, depth), out var known)) return known;
        var result = Calls(method).Any(c => c.Callee is MethodInfo { Name: "op_Implicit" } m && m.ReturnType == typeof(Scalar)
                                            || c.Callee.DeclaringType == typeof(ScalarExtensionMethods)
                                            || c.Callee.Module == typeof(Scalar).Module && c.Callee != method && MakesTemporary(c.Callee, depth - 1));
        lock (Memo) Memo[(method, depth)] = result;
        return result;
    }

    /// <summary>Each call in the IL, with the local its result is stored to next and the local loaded just before it.</summary>
    static IEnumerable<(MethodBase Callee, int? StoredLocal, int? LoadedLocal)> Calls(MethodBase method)
    {
        var il = method.GetMethodBody()?.GetILAsByteArray();
        if (il is null) yield break;
        var ins = IlScan.Decode(il);
        var typeArgs = method.DeclaringType is { IsGenericType: true } t ? t.GetGenericArguments() : null;
        var methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
        for (var i = 0; i < ins.Count; i++)
        {
            if (ins[i].Op.OperandType != OperandType.InlineMethod || ins[i].Op == OpCodes.Ldftn || ins[i].Op == OpCodes.Ldvirtftn) continue;
            MethodBase? callee;
            try { callee = method.Module.ResolveMethod((int)ins[i].Operand, typeArgs, methodArgs); }
            catch (ArgumentException) { continue; }
            if (callee is null) continue;
            yield return (callee, i + 1 < ins.Count ? Local(ins[i + 1], "stloc") : null, i > 0 ? Local(ins[i - 1], "ldloc") : null);
        }
    }

    static int? Local((OpCode Op, long Operand) ins, string kind) => ins.Op.Name switch
    {
        { } n when n == kind || n == kind + ".s" => (int)ins.Operand,
        { } n when n.StartsWith(kind + ".") && char.IsDigit(n[^1]) => n[^1] - '0',
        _ => null,
    };
}
