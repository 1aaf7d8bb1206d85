using CultureMert.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Tests.Model;

/// <summary>
/// Block-by-block parity with torchaudio's independent wav2vec2 implementation (tests/fixtures/mert-tiny*): the
/// MERT-v1-95M family (safetensors and pytorch_model.bin with the newer pos-conv names and do_normalize), the pre-LN
/// encoder of MERT-v1-330M (do_stable_layer_norm) and the LayerNorm-on-every-conv CNN with conv biases
/// (feat_extract_norm = layer, HuBERT-large style; tests/fixtures/make_variant_goldens.py).
/// </summary>
public class MertModelParityTests
{
    const double Tol = 1e-4;   // fixtures/README: hidden states within 1e-4 absolute

    [Theory]
    [InlineData("mert-tiny")]
    [InlineData("mert-tiny-bin")]
    [InlineData("mert-tiny-preln")]
    [InlineData("mert-tiny-layernorm")]
    public void FeatureEncoder_TinyFixture_MatchesGolden(string fixture)
    {
        using var loaded = MertCheckpoint.Load(Fixtures.Dir(fixture));
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var input = Fixtures.Expected(fixture, "normalized").unsqueeze(0);
        var cnn = loaded.Model.ExtractFeatures(input)[0].T;   // the golden stores torchaudio's (frames, conv_dim) layout
        Assert.InRange(Fixtures.MaxAbsDiff(cnn, Fixtures.Expected(fixture, "cnn_features")), 0, Tol);
    }

    [Theory]
    [InlineData("mert-tiny")]
    [InlineData("mert-tiny-bin")]
    public void Normalization_PreprocessorConfig_MatchesGolden(string fixture)
    {
        using var loaded = MertCheckpoint.Load(Fixtures.Dir(fixture));
        using var scope = NewDisposeScope();
        var x = loaded.Preprocessor.Apply(Fixtures.Expected(fixture, "waveform").unsqueeze(0))[0];
        Assert.InRange(Fixtures.MaxAbsDiff(x, Fixtures.Expected(fixture, "normalized")), 0, 1e-5);
    }

    [Theory]
    [InlineData("mert-tiny")]
    [InlineData("mert-tiny-bin")]
    [InlineData("mert-tiny-preln")]
    [InlineData("mert-tiny-layernorm")]
    public void HiddenStates_EveryLayer_MatchesGolden(string fixture)
    {
        using var loaded = MertCheckpoint.Load(Fixtures.Dir(fixture));
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var input = loaded.Preprocessor.Apply(Fixtures.Expected(fixture, "waveform").unsqueeze(0));
        var states = loaded.Model.HiddenStates(input);
        var expected = Fixtures.Expected(fixture, "hidden_states");          // (layers + 1, frames, hidden)
        Assert.Equal(expected.size(0), states.Count);
        for (var i = 0; i < states.Count; i++)
            Assert.True(Fixtures.MaxAbsDiff(states[i][0], expected[i]) < Tol, $"{fixture}: hidden state {i} differs by {Fixtures.MaxAbsDiff(states[i][0], expected[i]):e2}");
    }
}
