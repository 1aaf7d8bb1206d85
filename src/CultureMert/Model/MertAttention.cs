using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CultureMert.Model;

/// <summary>
/// Multi-head self-attention (HF: HubertAttention). Uses the fused <c>scaled_dot_product_attention</c>, whose default
/// scale 1/√head_dim equals HF's query scaling. MERT's <c>attention_relax</c> subtracts each row's maximum before the
/// softmax, which the softmax is invariant to, so it needs no code here.
/// </summary>
public sealed class MertAttention : nn.Module<Tensor, Tensor>
{
    private readonly Linear q_proj, k_proj, v_proj, out_proj;   // encoder.layers.{i}.attention.{q,k,v,out}_proj.*
    private readonly int heads;
    private readonly double dropout;

    public MertAttention(MertConfig c) : base(nameof(MertAttention))
    {
        q_proj = nn.Linear(c.HiddenSize, c.HiddenSize);
        k_proj = nn.Linear(c.HiddenSize, c.HiddenSize);
        v_proj = nn.Linear(c.HiddenSize, c.HiddenSize);
        out_proj = nn.Linear(c.HiddenSize, c.HiddenSize);
        (heads, dropout) = (c.NumAttentionHeads, c.AttentionDropout);
        RegisterComponents();
    }

    /// <param name="x">(batch, frames, hidden)</param> <returns>(batch, frames, hidden)</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var (B, T, C) = (x.size(0), x.size(1), x.size(2));
        Tensor Heads(Linear proj) => MixedPrecision.Linear(proj, x).view(B, T, heads, C / heads).transpose(1, 2); // (batch, heads, frames, head_dim)
        var y = MixedPrecision.Attention(Heads(q_proj), Heads(k_proj), Heads(v_proj), training ? dropout : 0.0); // (batch, heads, frames, head_dim)
        return MixedPrecision.Linear(out_proj, y.transpose(1, 2).reshape(B, T, C)).MoveToOuterDisposeScope();
    }
}

/// <summary>Position-wise feed-forward block (HF: HubertFeedForward).</summary>
public sealed class MertFeedForward : nn.Module<Tensor, Tensor>
{
    private readonly Dropout intermediate_dropout, output_dropout;
    private readonly Linear intermediate_dense, output_dense;   // encoder.layers.{i}.feed_forward.{intermediate,output}_dense.*
    private readonly string activation;

    public MertFeedForward(MertConfig c) : base(nameof(MertFeedForward))
    {
        intermediate_dropout = nn.Dropout(c.ActivationDropout);
        intermediate_dense = nn.Linear(c.HiddenSize, c.IntermediateSize);
        output_dense = nn.Linear(c.IntermediateSize, c.HiddenSize);
        output_dropout = nn.Dropout(c.HiddenDropout);
        activation = c.HiddenAct;
        RegisterComponents();
    }

    /// <param name="x">(batch, frames, hidden)</param> <returns>(batch, frames, hidden)</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        x = intermediate_dropout.call(Activations.Apply(activation, MixedPrecision.Linear(intermediate_dense, x)));  // (batch, frames, intermediate)
        return output_dropout.call(MixedPrecision.Linear(output_dense, x)).MoveToOuterDisposeScope();
    }
}
