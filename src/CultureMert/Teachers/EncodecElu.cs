using static TorchSharp.torch;
using static CultureMert.Scalars;

namespace CultureMert.Teachers;

/// <summary>
/// nn.ELU() (alpha 1) with interned Scalars: TorchSharp's ELU module passes alpha, scale and input_scale as temporary
/// Scalars, which the finaliser thread can free while libtorch reads them (see <see cref="Scalars"/>). No parameters,
/// so the checkpoint's names are unchanged.
/// </summary>
public sealed class EncodecElu() : nn.Module<Tensor, Tensor>("ELU")
{
    public override Tensor forward(Tensor x) => x.elu(Of(1.0), Of(1.0), Of(1.0));
}
