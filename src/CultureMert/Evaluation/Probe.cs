using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using static CultureMert.Scalars;

namespace CultureMert.Evaluation;

// Port of MARBLE v1's ProberForBertUtterCLS (a43992899/MARBLE-Benchmark @ d9300e3, benchmark/models/probers.py): a layer
// selector (one layer, or a learnable softmax-weighted sum initialised from randn) and an MLP Linear → ReLU → Dropout →
// Linear (or a single Linear). We differ knowingly in one place: dropout draws its mask from the probe's own generator
// (not libtorch's global one), so a seed reproduces a run even while other threads use torch's RNG. That generator is a
// CPU one on every device: the probe is built and initialised on the CPU, then moved, and dropout masks are drawn on the
// CPU and moved to the activations' device, so a seed gives the same draws everywhere.

/// <summary>Picks one layer or a softmax-weighted sum over all layers (MARBLE <c>normalized_weight_sum</c>).</summary>
public sealed class LayerSelector : Module<Tensor, Tensor>
{
    private readonly Parameter? layer_weights;           // (layers), softmax-normalised in forward; null for one layer
    private readonly int layer;

    /// <param name="layers">layers in the input</param> <param name="layer">an index into them, or null for the weighted sum</param>
    public LayerSelector(int layers, int? layer, Generator generator) : base(nameof(LayerSelector))
    {
        if (layer is { } l && (l < 0 || l >= layers)) throw new ArgumentException($"layer index {l} out of range: the embeddings have {layers} layers.");
        this.layer = layer ?? -1;
        if (layer is null) layer_weights = new Parameter(randn([layers], generator: generator));   // MARBLE: torch.randn(1, L, 1)
        RegisterComponents();
    }

    public bool Weighted => layer < 0;

    /// <param name="x">(batch, layers, hidden)</param> <returns>(batch, hidden)</returns>
    public override Tensor forward(Tensor x)
    {
        if (layer >= 0) return x.select(1, layer);
        using var scope = NewDisposeScope();
        var w = nn.functional.softmax(layer_weights!, 0).view(1, -1, 1);  // (1, layers, 1)
        return (x * w).sum(1).MoveToOuterDisposeScope();
    }

    /// <summary>The softmax layer weights (null for a single layer).</summary>
    public double[]? Weights()
    {
        if (layer_weights is null) return null;
        using var _ = no_grad();
        using var scope = NewDisposeScope();                                  // owns the softmax temporary too
        return nn.functional.softmax(layer_weights, 0).to(ScalarType.Float64, CPU).data<double>().ToArray();
    }
}

/// <summary>The probe: layer selector, then Linear(H→hidden) → ReLU → Dropout → Linear(hidden→outputs), or Linear(H→outputs) when hidden is 0.</summary>
public sealed class Probe : Module<Tensor, Tensor>
{
    private readonly LayerSelector selector;
    private readonly Linear? hidden_layer;
    private readonly Linear output;
    private readonly double dropout;
    private readonly Generator generator;                // not owned: the trainer's, for the dropout masks

    public Probe(int layers, int? layer, int inputSize, int hidden, int outputs, double dropout, Generator generator) : base(nameof(Probe))
    {
        if (hidden < 0) throw new ArgumentException($"--hidden {hidden}: must be 0 (linear probe) or more.");
        if (dropout is < 0 or >= 1) throw new ArgumentException($"--dropout {dropout}: must be in [0, 1).");
        (this.dropout, this.generator, InputShape) = (dropout, generator, (layers, inputSize));
        selector = new LayerSelector(layers, layer, generator);
        if (hidden > 0) hidden_layer = nn.Linear(inputSize, hidden);
        output = nn.Linear(hidden > 0 ? hidden : inputSize, outputs);
        RegisterComponents();
        using var _ = no_grad();
        // PyTorch's nn.Linear default (kaiming-uniform a=√5): weight and bias ~ U(±1/√in), drawn from our generator.
        foreach (var lin in new[] { hidden_layer, output })
        {
            if (lin is null) continue;
            var bound = 1.0 / Math.Sqrt(lin.weight!.shape[1]);
            lin.weight.uniform_(-bound, bound, generator);
            lin.bias!.uniform_(-bound, bound, generator);
        }
    }

    public LayerSelector Selector => selector;
    public (int Layers, int Hidden) InputShape { get; }

    /// <param name="x">(batch, layers, hidden)</param> <returns>(batch, outputs) logits</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = selector.call(x);                                            // (batch, hidden)
        if (hidden_layer is not null)
        {
            h = nn.functional.relu(hidden_layer.call(h));                    // (batch, hidden units)
            if (training && dropout > 0)
                h = h * rand(h.shape, h.dtype, generator: generator).ge(Of(dropout)).to(h.dtype, h.device) / Of(1 - dropout);
        }
        return output.call(h).MoveToOuterDisposeScope();
    }
}
