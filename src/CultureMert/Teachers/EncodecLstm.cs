using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static CultureMert.Scalars;

namespace CultureMert.Teachers;

/// <summary>
/// Unidirectional multi-layer LSTM over time with a skip connection (HF: EncodecLSTM; encodec <c>SLSTM</c>):
/// out = LSTM(x) + x. Parameters are PyTorch's (gate order i, f, g, o); TorchSharp's <c>nn.LSTM</c> registers them under
/// the same names, so <c>encoder.layers.13.lstm.weight_ih_l0</c> maps one to one.
/// </summary>
public sealed class EncodecLstm : nn.Module<Tensor, Tensor>, IEncodecStreamingLayer
{
    private readonly LSTM lstm;   // encoder.layers.{i}.lstm.{weight_ih_l*, weight_hh_l*, bias_ih_l*, bias_hh_l*}
    private readonly int dim;

    public EncodecLstm(int dim, int numLayers) : base(nameof(EncodecLstm))
    {
        lstm = nn.LSTM(dim, dim, numLayers);
        this.dim = dim;
        RegisterComponents();
    }

    /// <summary>PyTorch's default LSTM initialisation: every parameter ~ U(±1/√hidden).</summary>
    public void InitializeRandom(Generator generator)
    {
        using var _ = no_grad();
        foreach (var p in lstm.parameters()) ComputeDevice.DrawOnHost(p, t => t.uniform_(-1.0 / Math.Sqrt(dim), 1.0 / Math.Sqrt(dim), generator));
    }

    /// <param name="x">(batch, dim, frames)</param> <returns>(batch, dim, frames)</returns>
    public override Tensor forward(Tensor x) => Forward(x, null);

    /// <param name="x">(batch, dim, frames): the whole signal (state null) or its next chunk, which starts from the
    /// (h, c) that the previous chunk ended with (zeros on the first, as in one pass)</param>
    /// <returns>(batch, dim, frames)</returns>
    public Tensor Forward(Tensor x, EncodecStreamState? state)
    {
        using var scope = NewDisposeScope();
        var timeMajor = x.permute(2, 0, 1);                // (frames, batch, dim): nn.LSTM is time-major by default
        (Tensor, Tensor)? initial = state?.Recall(this) is [var h0, var c0] ? (h0, c0) : null;   // (layers, batch, dim) each
        var (y, h, c) = lstm.call(timeMajor, initial);     // y (frames, batch, dim)
        state?.Keep(this, h, c);
        return y.add(timeMajor, One).permute(1, 2, 0).contiguous().MoveToOuterDisposeScope();   // (batch, dim, frames)
    }
}
