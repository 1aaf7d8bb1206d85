using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CultureMert.Pretraining;

/// <summary>
/// MERT's CQT reconstruction head on masked frames (fairseq MERTModel <c>encoder_cqt_model.fc</c>, spec mert.md §4
/// step 8): Linear(hidden → 336) on the final-layer output, <c>nn.MSELoss()</c> against the raw CQT magnitude.
/// </summary>
public sealed class CqtReconstruction : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    private readonly Linear fc;                          // encoder_cqt_model.fc.*: (bins, hidden)

    public CqtReconstruction(int hiddenSize, int bins = 336) : base(nameof(CqtReconstruction))
    {
        fc = nn.Linear(hiddenSize, bins);                 // PyTorch default Linear init, as fairseq
        RegisterComponents();
    }

    /// <param name="x">final-layer output (batch, frames T, hidden)</param>
    /// <param name="mask">bool (batch, T), true = masked</param>
    /// <param name="cqt">target magnitude (batch, frames ≥ T, bins); only the first T frames are used</param>
    /// <returns>scalar MSE, mean over masked frames × bins</returns>
    public override Tensor forward(Tensor x, Tensor mask, Tensor cqt)
    {
        using var scope = NewDisposeScope();
        var T = x.size(1);
        if (cqt.size(1) < T) throw new ArgumentException($"CQT target has {cqt.size(1)} frames, fewer than the {T} model frames.");
        var target = cqt[.., ..(int)T][mask];             // (S, bins)
        var pred = fc.call(x[mask]);                      // (S, bins)
        return nn.functional.mse_loss(pred, target.to_type(pred.dtype)).MoveToOuterDisposeScope();
    }
}
