using System.Reflection;
using System.Reflection.Emit;

namespace CultureMert.Tests;

/// <summary>Reading compiled methods' IL, for tests that check what the project's code calls or uses.</summary>
static class IlScan
{
    static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => o.Value);

    /// <summary>Each instruction: its opcode and its operand (a metadata token, a local's index, a constant; 0 if none).</summary>
    public static List<(OpCode Op, long Operand)> Decode(byte[] il)
    {
        var result = new List<(OpCode, long)>();
        for (var at = 0; at < il.Length;)
        {
            var op = OpCodesByValue[il[at] == 0xFE ? (short)(0xFE00 | il[at + 1]) : il[at]];
            at += op.Size;
            var (operand, size) = op.OperandType switch
            {
                OperandType.InlineNone => (0L, 0),
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => (il[at], 1),
                OperandType.InlineVar => (BitConverter.ToUInt16(il, at), 2),
                OperandType.InlineI8 or OperandType.InlineR => (BitConverter.ToInt64(il, at), 8),
                OperandType.InlineSwitch => (0L, 4 + 4 * BitConverter.ToInt32(il, at)),
                _ => (BitConverter.ToInt32(il, at), 4),
            };
            result.Add((op, operand));
            at += size;
        }
        return result;
    }

    /// <summary>Every type, method and field <paramref name="method"/>'s IL names (calls, field reads and writes, casts, typeof).</summary>
    public static IEnumerable<MemberInfo> Members(MethodBase method)
    {
        var il = method.GetMethodBody()?.GetILAsByteArray();
        if (il is null) yield break;
        var typeArgs = method.DeclaringType is { IsGenericType: true } t ? t.GetGenericArguments() : null;
        var methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
        foreach (var (op, operand) in Decode(il))
        {
            if (op.OperandType is not (OperandType.InlineMethod or OperandType.InlineField or OperandType.InlineType or OperandType.InlineTok)) continue;
            MemberInfo? member;
            try { member = method.Module.ResolveMember((int)operand, typeArgs, methodArgs); }
            catch (ArgumentException) { continue; }
            if (member is not null) yield return member;
        }
    }
}
