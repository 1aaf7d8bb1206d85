using TorchSharp;
using static TorchSharp.torch;
using static CultureMert.Scalars;

namespace CultureMert.Model;

/// <summary>The activation functions that Hugging Face's <c>ACT2FN</c> maps config names to, for the names MERT/HuBERT use.</summary>
public static class Activations
{
    public static readonly string[] Supported = ["gelu", "relu", "silu", "swish", "gelu_new", "gelu_pytorch_tanh"];

    public static bool IsSupported(string name) => Supported.Contains(name);

    public static Tensor Apply(string name, Tensor x) => name switch
    {
        "gelu" => nn.functional.gelu(x),                               // exact erf GELU (torch nn.GELU())
        "relu" => nn.functional.relu(x),
        "silu" or "swish" => nn.functional.silu(x),
        // tanh approximation: 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))
        "gelu_new" or "gelu_pytorch_tanh" => x.mul(Of(0.5)) * tanh(x.add(x.pow(Of(3)).mul(Of(0.044715)), One).mul(Of(Math.Sqrt(2.0 / Math.PI)))).add(Of(1.0), One),
        _ => throw new NotSupportedException($"activation \"{name}\" is not implemented."),
    };
}
