using CultureMert.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Merging;

/// <summary>
/// A base checkpoint and the models merged with (or compared against) it, open together and checked to hold the same
/// tensors. Merging, stability and task-vector analysis all walk them one tensor name at a time (<see cref="Each"/>), so
/// memory holds one name's tensors of every model, never a whole model.
/// </summary>
public sealed class MergeInputs : IDisposable
{
    public CheckpointTensors Base { get; }
    public IReadOnlyList<CheckpointTensors> Models { get; }

    MergeInputs(CheckpointTensors baseT, IReadOnlyList<CheckpointTensors> models) => (Base, Models) = (baseT, models);

    /// <exception cref="InvalidDataException">a model's tensor names, shapes or dtypes differ from the base's (every mismatch listed)</exception>
    public static MergeInputs Open(string baseDir, IEnumerable<string> modelDirs)
    {
        var opened = new List<CheckpointTensors>();
        try
        {
            opened.Add(new CheckpointTensors(baseDir));
            foreach (var dir in modelDirs) opened.Add(new CheckpointTensors(dir));
            var inputs = new MergeInputs(opened[0], opened[1..]);
            inputs.CheckCompatible();
            return inputs;
        }
        catch
        {
            foreach (var c in opened) c.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The base's tensors in stored order (those <paramref name="only"/> keeps), each read inside a dispose scope that ends
    /// when the next one is asked for: what the caller computes from it dies with it too.
    /// </summary>
    public IEnumerable<(SafeTensorInfo Info, int Index, Tensor Base)> Each(Func<SafeTensorInfo, bool>? only = null)
    {
        for (var i = 0; i < Base.Tensors.Count; i++)
        {
            var info = Base.Tensors[i];
            if (only is not null && !only(info)) continue;
            using var scope = NewDisposeScope();
            yield return (info, i, Base.Read(info.Name));
        }
    }

    /// <summary>The models' task vectors of tensor <paramref name="name"/>: (models, ...) float64 on <paramref name="b"/>'s device.</summary>
    public Tensor Deltas(string name, Tensor b) => TaskVectors.Deltas(b, Models.Count, m => Models[m].Read(name));

    /// <summary>Every model must hold exactly the base's tensors, with the same shapes and dtypes: one error lists every mismatch.</summary>
    void CheckCompatible()
    {
        var problems = new List<string>();
        var reference = Base.Tensors.ToDictionary(t => t.Name);
        foreach (var m in Models)
        {
            var names = new HashSet<string>();
            foreach (var t in m.Tensors)
            {
                names.Add(t.Name);
                if (!reference.TryGetValue(t.Name, out var r)) problems.Add($"{m.WeightsFile}: unexpected tensor {t.Name} {Shape(t.Shape)} (not in the base)");
                else if (!r.Shape.SequenceEqual(t.Shape)) problems.Add($"{m.WeightsFile}: {t.Name} has shape {Shape(t.Shape)}, the base has {Shape(r.Shape)}");
                else if (r.DType != t.DType) problems.Add($"{m.WeightsFile}: {t.Name} has dtype {t.DType}, the base has {r.DType}");
            }
            foreach (var r in Base.Tensors.Where(r => !names.Contains(r.Name)))
                problems.Add($"{m.WeightsFile}: missing tensor {r.Name} {Shape(r.Shape)} (present in the base)");
        }
        if (problems.Count > 0)
            throw new InvalidDataException($"the models do not match the base {Base.WeightsFile} in tensor names, shapes and dtypes " +
                                           $"({problems.Count} problem{(problems.Count > 1 ? "s" : "")}):\n  " + string.Join("\n  ", problems));
    }

    static string Shape(long[] s) => $"[{string.Join(", ", s)}]";

    public void Dispose()
    {
        foreach (var m in Models) m.Dispose();
        Base.Dispose();
    }
}
