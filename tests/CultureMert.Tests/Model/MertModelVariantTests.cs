using CultureMert.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Tests.Model;

/// <summary>
/// Parity with torchaudio's wav2vec2 for the architecture variants the MERT-v1-95M fixtures do not exercise
/// (tests/fixtures/make_variant_goldens.py): pre-LN encoder (do_stable_layer_norm, MERT-v1-330M) and the
/// LayerNorm-on-every-conv feature encoder with conv biases (feat_extract_norm = layer, HuBERT-large style).
/// </summary>
public class MertModelVariantTests
{
    const double Tol = 1e-4;   // fixtures/README: hidden states within 1e-4 absolute

    [Theory]
    [InlineData("mert-tiny-preln")]
    [InlineData("mert-tiny-layernorm")]
    public void HiddenStates_VariantFixture_MatchesTorchaudioGolden(string fixture)
    {
        using var loaded = MertCheckpoint.Load(Fixtures.Dir(fixture));
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var input = loaded.Preprocessor.Apply(Fixtures.Expected(fixture, "waveform").unsqueeze(0));
        var states = loaded.Model.HiddenStates(input);
        var expected = Fixtures.Expected(fixture, "hidden_states");          // (layers + 1, frames, hidden)
        Assert.Equal(expected.size(0), states.Count);
        for (var i = 0; i < states.Count; i++)
        {
            var err = Fixtures.MaxAbsDiff(states[i][0], expected[i]);
            Assert.True(err < Tol, $"{fixture}: hidden state {i} differs by {err:e2}");
        }
    }

    [Theory]
    [InlineData("mert-tiny-preln")]
    [InlineData("mert-tiny-layernorm")]
    public void FeatureEncoder_VariantFixture_MatchesTorchaudioGolden(string fixture)
    {
        using var loaded = MertCheckpoint.Load(Fixtures.Dir(fixture));
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var cnn = loaded.Model.ExtractFeatures(Fixtures.Expected(fixture, "normalized").unsqueeze(0))[0].T;  // (frames, conv_dim)
        Assert.InRange(Fixtures.MaxAbsDiff(cnn, Fixtures.Expected(fixture, "cnn_features")), 0, Tol);
    }

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
