using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static CultureMert.Scalars;

namespace CultureMert.Teachers;

/// <summary>
/// One codebook of the residual VQ (HF: EncodecEuclideanCodebook; encodec <c>EuclideanCodebook</c>). Only <c>embed</c> is
/// kept: the k-means training buffers (<c>embed_avg</c>, <c>cluster_size</c>, <c>inited</c>) do not affect encoding.
/// </summary>
public sealed class EncodecEuclideanCodebook : nn.Module<Tensor, Tensor>
{
    private readonly Tensor embed;   // quantizer.layers.{q}.codebook.embed (codebook_size, codebook_dim)

    public EncodecEuclideanCodebook(EncodecConfig c) : base(nameof(EncodecEuclideanCodebook))
    {
        embed = zeros(c.CodebookSize, c.CodebookDim);
        register_buffer(nameof(embed), embed);
    }

    public Tensor Embed => embed;

    /// <summary>
    /// Nearest entry by Euclidean distance, computed as encodec does, argmax of −(‖x‖² − 2 x·E + ‖E‖²), so that near-ties
    /// fall the same way.
    /// </summary>
    /// <param name="x">(rows, dim)</param> <returns>int64 (rows)</returns>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var dist = x.pow(Of(2)).sum(1, keepdim: true).sub(x.matmul(embed.t()).mul(Of(2))).add(embed.pow(Of(2)).sum(1, keepdim: true).t(), One).neg(); // (rows, bins)
        return dist.argmax(-1).MoveToOuterDisposeScope();
    }
}

/// <summary>One stage of the residual VQ (HF: EncodecVectorQuantization); no projection since codebook_dim = hidden_size.</summary>
public sealed class EncodecVectorQuantization : nn.Module<Tensor, Tensor>
{
    private readonly EncodecEuclideanCodebook codebook;   // quantizer.layers.{q}.codebook.*

    public EncodecVectorQuantization(EncodecConfig c) : base(nameof(EncodecVectorQuantization))
    {
        codebook = new EncodecEuclideanCodebook(c);
        RegisterComponents();
    }

    public Tensor Embed => codebook.Embed;

    /// <param name="x">(rows, dim)</param> <returns>int64 (rows)</returns>
    public override Tensor forward(Tensor x) => codebook.call(x);
}

/// <summary>
/// Residual vector quantiser (HF: EncodecResidualVectorQuantizer; encodec <c>ResidualVectorQuantization.encode</c>): each
/// stage codes what the previous stages left, residual −= E_q[index]. Holds only the codebooks used at the bandwidth.
/// </summary>
public sealed class EncodecResidualVectorQuantizer : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<EncodecVectorQuantization> layers;   // quantizer.layers.{q}.*

    public EncodecResidualVectorQuantizer(EncodecConfig c, int numQuantizers) : base(nameof(EncodecResidualVectorQuantizer))
    {
        layers = nn.ModuleList(Enumerable.Range(0, numQuantizers).Select(_ => new EncodecVectorQuantization(c)).ToArray());
        RegisterComponents();
    }

    public int NumQuantizers => layers.Count;

    public IEnumerable<Tensor> Codebooks => layers.Select(l => l.Embed);

    /// <param name="embeddings">(batch, dim, frames)</param> <returns>int64 (batch, n_q, frames)</returns>
    public override Tensor forward(Tensor embeddings)
    {
        using var scope = NewDisposeScope();
        var (B, D, T) = (embeddings.shape[0], embeddings.shape[1], embeddings.shape[2]);
        var residual = embeddings.transpose(1, 2).reshape(B * T, D);   // (batch·frames, dim)
        var codes = new List<Tensor>();
        foreach (var layer in layers)
        {
            var index = layer.call(residual);                          // (batch·frames)
            residual = residual - layer.Embed.index_select(0, index);
            codes.Add(index);
        }
        return stack(codes, 0).reshape(-1, B, T).transpose(0, 1).contiguous().MoveToOuterDisposeScope();   // (batch, n_q, frames)
    }
}
