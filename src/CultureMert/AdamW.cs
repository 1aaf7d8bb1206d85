using TorchSharp;
using static TorchSharp.torch;
using static CultureMert.Scalars;

namespace CultureMert;

/// <summary>
/// PyTorch's <c>torch.optim.AdamW</c> (amsgrad off) over named parameters, with its state as named tensors; with weight
/// decay 0 it is <c>torch.optim.Adam</c> (the probes' optimiser).
/// </summary>
/// <remarks>
/// Written out rather than using TorchSharp's AdamW because a pre-training checkpoint must hold the moments by parameter
/// <em>name</em> in a safetensors file (<c>exp_avg.NAME</c>, <c>exp_avg_sq.NAME</c>; inspectable from Python, stable
/// across stages that train different parameter sets) and restore them bit for bit; TorchSharp's optimizer state
/// serialises only to its own binary format keyed by parameter order. The update is PyTorch's:
/// p ← p·(1 − lr·wd); m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g²;
/// p ← p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + eps),
/// in one pass over each contiguous CPU float parameter (<see cref="FusedAdamW"/>), elsewhere op for op.
/// Parameters whose gradient is undefined in a step are skipped (no decay, no state change) and, as in PyTorch, each
/// parameter counts its own updates t for the bias corrections.
/// Only the parameters given are optimised: frozen ones get neither updates nor state.
/// TorchSharp's own optimisers pass their per-step numbers to libtorch as Scalar temporaries, which the finaliser may free
/// during the call (a probe once failed in <c>addcdiv_</c> with a garbage Scalar); here every Scalar lives in a <c>using</c>.
/// </remarks>
public sealed class AdamW : IDisposable
{
    private readonly IReadOnlyList<(string Name, Tensor Param)> parameters;
    private readonly Dictionary<string, (Tensor ExpAvg, Tensor ExpAvgSq)> state = new();
    private readonly Dictionary<string, long> steps = new();

    public double LearningRate { get; set; }
    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Eps { get; }
    public double WeightDecay { get; }

    /// <summary>Calls of <see cref="Take"/> so far (each parameter also keeps its own count t).</summary>
    public long Updates { get; private set; }

    public AdamW(IEnumerable<(string Name, Tensor Param)> parameters, double lr, double beta1 = 0.9, double beta2 = 0.98,
                 double eps = 1e-6, double weightDecay = 0.01)
    {
        this.parameters = parameters.ToList();
        Parameters = [.. this.parameters.Select(p => p.Param)];
        if (this.parameters.Count == 0) throw new ArgumentException("AdamW needs at least one parameter to train.");
        if (!(beta1 is >= 0 and < 1) || !(beta2 is >= 0 and < 1)) throw new ArgumentException($"betas must be in [0, 1), got ({beta1}, {beta2}).");
        if (!(eps > 0) || !(weightDecay >= 0) || !(lr >= 0)) throw new ArgumentException($"need lr ≥ 0, eps > 0, weight_decay ≥ 0 (got {lr}, {eps}, {weightDecay}).");
        (LearningRate, Beta1, Beta2, Eps, WeightDecay) = (lr, beta1, beta2, eps, weightDecay);
    }

    /// <summary>The trained parameters, in the order given.</summary>
    public IReadOnlyList<Tensor> Parameters { get; }

    public void ZeroGrad()
    {
        foreach (var (_, p) in parameters)
            if (p.grad is { } g) { g.Dispose(); p.grad = null; }   // PyTorch's set_to_none=True
    }

    public void Take()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        Updates++;
        foreach (var (name, p) in parameters)
        {
            if (p.grad is not { } g) continue;
            var t = steps[name] = steps.GetValueOrDefault(name) + 1;
            if (!state.TryGetValue(name, out var s))
            {
                s = (zeros_like(p).DetachFromDisposeScope(), zeros_like(p).DetachFromDisposeScope());   // owned by state: Dispose, training thread
                state[name] = s;
            }
            var k = new Coefficients(1 - LearningRate * WeightDecay, 1 - Beta1, Beta2, 1 - Beta2, Math.Sqrt(1 - Math.Pow(Beta2, t)), Eps,
                                     -LearningRate / (1 - Math.Pow(Beta1, t)));
            if (FusedAdamW.Applies(p, g, s.ExpAvg, s.ExpAvgSq)) FusedAdamW.Step(p, g, s.ExpAvg, s.ExpAvgSq, k);
            else StepByOps(p, g, s.ExpAvg, s.ExpAvgSq, k);
        }
    }

    /// <summary>The scalars of one parameter's update (t is the parameter's own step count).</summary>
    /// <param name="Decay">1 − lr·wd</param> <param name="Weight1">1 − β1</param> <param name="Bc2Sqrt">√(1 − β2^t)</param>
    /// <param name="StepSize">−lr / (1 − β1^t)</param>
    internal readonly record struct Coefficients(double Decay, double Weight1, double Beta2, double OneMinusBeta2, double Bc2Sqrt,
                                                 double Eps, double StepSize);

    /// <summary>The update as PyTorch's single-tensor AdamW writes it, op for op: any device, any floating dtype.</summary>
    static void StepByOps(Tensor p, Tensor g, Tensor m, Tensor v, Coefficients k)
    {
        // Per-step values: each Scalar held by a using to the end of the update, never a temporary (see Scalars).
        using var decay = k.Decay.ToScalar();
        using var beta2 = k.Beta2.ToScalar();
        using var oneMinusBeta2 = k.OneMinusBeta2.ToScalar();
        using var bc2 = k.Bc2Sqrt.ToScalar();
        using var eps = k.Eps.ToScalar();
        using var stepSize = k.StepSize.ToScalar();
        p.mul_(decay);
        m.lerp_(g, k.Weight1);                                                // (a 0-dim weight tensor of the step's scope)
        v.mul_(beta2).addcmul_(g, g, oneMinusBeta2);
        using var denom = v.sqrt().div_(bc2).add_(eps, One);
        p.addcdiv_(m, denom, stepSize);
    }

    /// <summary>The state as named tensors: <c>exp_avg.NAME</c>, <c>exp_avg_sq.NAME</c> (views of the live state) and
    /// <c>step.NAME</c> (int64 [1], PyTorch's per-parameter t).</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> StateTensors()
    {
        foreach (var (name, (m, v)) in state.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            yield return new("exp_avg." + name, m);
            yield return new("exp_avg_sq." + name, v);
            yield return new("step." + name, tensor(new[] { steps[name] }));
        }
    }

    /// <summary>Restores a state saved by <see cref="StateTensors"/>; names must be parameters of this optimiser.</summary>
    public void LoadState(IReadOnlyDictionary<string, Tensor> tensors, long updates, string source)
    {
        var known = parameters.ToDictionary(p => p.Name, p => p.Param);
        foreach (var key in tensors.Keys)
        {
            var name = key.StartsWith("exp_avg_sq.") ? key["exp_avg_sq.".Length..] : key.StartsWith("exp_avg.") ? key["exp_avg.".Length..] :
                       key.StartsWith("step.") ? key["step.".Length..] : null;
            if (name is null || !known.ContainsKey(name))
                throw new InvalidDataException($"{source}: optimiser state '{key}' belongs to no trained parameter of this stage.");
        }
        foreach (var s in state.Values) { s.ExpAvg.Dispose(); s.ExpAvgSq.Dispose(); }
        state.Clear();
        steps.Clear();
        foreach (var (name, p) in parameters)
        {
            var hasM = tensors.TryGetValue("exp_avg." + name, out var m);
            var hasV = tensors.TryGetValue("exp_avg_sq." + name, out var v);
            if (hasM != hasV) throw new InvalidDataException($"{source}: '{name}' has only one of exp_avg/exp_avg_sq.");
            if (!hasM) continue;
            if (!m!.shape.SequenceEqual(p.shape) || !v!.shape.SequenceEqual(p.shape))
                throw new InvalidDataException($"{source}: optimiser state of '{name}' has shape [{string.Join(", ", m.shape)}], the parameter [{string.Join(", ", p.shape)}].");
            if (!tensors.TryGetValue("step." + name, out var t) || t.numel() != 1) throw new InvalidDataException($"{source}: no step count (step.{name}) for '{name}'.");
            state[name] = (m.to(p.dtype, p.device).clone().DetachFromDisposeScope(), v.to(p.dtype, p.device).clone().DetachFromDisposeScope());
            steps[name] = t.to_type(ScalarType.Int64).item<long>();
        }
        Updates = updates;
    }

    public void Dispose()
    {
        foreach (var s in state.Values) { s.ExpAvg.Dispose(); s.ExpAvgSq.Dispose(); }
        state.Clear();
        steps.Clear();
    }
}
