using System.Reflection;

namespace CultureMert.Tests;

/// <summary>
/// The library's folders call each other only as docs/architecture.md ("Which folder may call which") says: read from
/// the compiled code (signatures, fields, base types and every type, method and field named in a method's IL), so a
/// fully qualified name or a lambda counts as much as a <c>using</c>.
/// </summary>
public class ArchitectureTests
{
    /// <summary>Folder → the folders it may use. "" is the top-level namespace (Scalars, ComputeDevice), open to all.</summary>
    static readonly Dictionary<string, string[]> Allowed = new()
    {
        ["IO"] = [],
        ["Distributed"] = [],
        ["Setup"] = ["IO"],
        ["Audio"] = ["IO", "Setup"],
        ["Model"] = ["IO"],
        ["Checkpoints"] = ["IO", "Audio", "Model"],
        ["Reports"] = ["IO", "Setup"],
        ["Batch"] = ["IO", "Audio", "Checkpoints"],
        ["Embedding"] = ["IO", "Audio", "Model", "Checkpoints", "Batch"],
        ["Teachers"] = ["IO", "Audio", "Model", "Checkpoints", "Batch", "Reports"],
        ["Corpus"] = ["IO", "Setup", "Audio", "Batch"],
        ["Merging"] = ["IO", "Model", "Checkpoints", "Batch", "Reports"],
        ["Evaluation"] = ["IO", "Checkpoints", "Embedding", "Batch", "Corpus", "Reports"],
        ["Pretraining"] = ["IO", "Audio", "Model", "Checkpoints", "Teachers", "Corpus", "Batch", "Distributed", "Reports"],
        ["Study"] = ["IO", "Audio", "Model", "Checkpoints", "Teachers", "Corpus", "Embedding", "Batch", "Pretraining", "Merging", "Evaluation", "Reports"],
        [""] = ["IO"],
    };

    const BindingFlags Declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    [Fact]
    public void Folders_UseOnlyTheFoldersTheArchitectureAllows()
    {
        var library = typeof(Scalars).Assembly;
        var problems = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var type in library.GetTypes())
        {
            var from = FolderOf(type);
            if (from is null) continue;                                             // compiler-generated at the top, <Module> ...
            Assert.True(Allowed.ContainsKey(from), $"{type.FullName}: folder '{from}' is not in the architecture's table (docs/architecture.md)");
            foreach (var used in Referenced(type).Where(t => t.Assembly == library).Select(FolderOf).OfType<string>().Distinct())
                if (used != from && used != "" && !Allowed[from].Contains(used))
                    problems.Add($"{from} → {used} ({type.FullName})");
        }
        Assert.True(problems.Count == 0, "calls the architecture does not allow (docs/architecture.md):\n  " + string.Join("\n  ", problems));
    }

    [Fact]
    public void Scan_SeesCallsInsideLambdas()
    {
        // A closure is a nested compiler-generated type; its IL must be read like its parent's.
        var found = Referenced(typeof(ArchitectureTests)).ToList();
        Assert.Contains(typeof(CultureMert.IO.AtomicFile), found);
    }

    static void UsesAtomicFileInALambda() => Enumerable.Range(0, 1).Select(i => CultureMert.IO.AtomicFile.CleanStale("/nonexistent" + i)).ToList();

    /// <summary>The library folder of a type (its namespace below CultureMert), "" for the top level, null for none.</summary>
    static string? FolderOf(Type type)
    {
        var ns = type.Namespace;
        if (ns is null) return null;
        if (ns == "CultureMert") return "";
        return ns.StartsWith("CultureMert.") ? ns["CultureMert.".Length..].Split('.')[0] : null;
    }

    /// <summary>Every type <paramref name="type"/> names: base, interfaces, fields, signatures, and its methods' IL (nested types included).</summary>
    static IEnumerable<Type> Referenced(Type type)
    {
        var direct = new List<Type?> { type.BaseType };
        direct.AddRange(type.GetInterfaces());
        direct.AddRange(type.GetFields(Declared).Select(f => f.FieldType));
        direct.AddRange(type.GetProperties(Declared).Select(p => p.PropertyType));
        var methods = type.GetMethods(Declared).Cast<MethodBase>().Concat(type.GetConstructors(Declared)).ToList();
        foreach (var m in methods)
        {
            direct.AddRange(m.GetParameters().Select(p => p.ParameterType));
            if (m is MethodInfo mi) direct.Add(mi.ReturnType);
            foreach (var member in IlScan.Members(m))
                direct.Add(member as Type ?? member.DeclaringType);
        }
        foreach (var t in direct.OfType<Type>().SelectMany(Expand)) yield return t;
        foreach (var nested in type.GetNestedTypes(Declared))
            foreach (var t in Referenced(nested)) yield return t;
    }

    /// <summary>A type with its element and generic argument types (List&lt;Recipe&gt; names Recipe).</summary>
    static IEnumerable<Type> Expand(Type t)
    {
        yield return t;
        if (t.HasElementType) foreach (var e in Expand(t.GetElementType()!)) yield return e;
        if (t.IsGenericType) foreach (var a in t.GetGenericArguments().SelectMany(Expand)) yield return a;
    }
}
