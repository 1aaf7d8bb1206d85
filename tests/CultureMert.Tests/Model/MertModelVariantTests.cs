using CultureMert.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Tests.Model;

/// <summary>What is particular to the pre-LN encoder (MERT-v1-330M): the final LayerNorm belongs to the last layer's state only.</summary>
public class MertModelVariantTests
{
    const double Tol = 1e-4;   // fixtures/README: hidden states within 1e-4 absolute

    [Fact]
    public void HiddenStates_PreLnLastLayerOnly_EqualsFinalNormalisedState()
    {
        // HiddenStates(lastLayer: L) must still normalise state L, and lastLayer < L must leave states raw.
        using var loaded = MertCheckpoint.Load(Fixtures.Dir("mert-tiny-preln"));
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var input = Fixtures.Expected("mert-tiny-preln", "waveform").unsqueeze(0);
        var expected = Fixtures.Expected("mert-tiny-preln", "hidden_states");
        var L = loaded.Model.NumLayers;
        var partial = loaded.Model.HiddenStates(input, L - 1);
        Assert.Equal(L, partial.Count);
        Assert.True(Fixtures.MaxAbsDiff(partial[^1][0], expected[L - 1]) < Tol);
        Assert.True(Fixtures.MaxAbsDiff(loaded.Model.forward(input)[0], expected[L]) < Tol);
    }
}
