using static TorchSharp.torch;

namespace CultureMert.Model;

/// <summary>A model output with a NaN or an infinity is an error for the file it came from, never a result.</summary>
public static class Finite
{
    /// <summary>Returns <paramref name="values"/>; throws <see cref="InvalidDataException"/> naming <paramref name="what"/> when any is not finite.</summary>
    public static Tensor Require(Tensor values, string what)
    {
        using var finite = isfinite(values);
        using var all = finite.all();
        if (!all.item<bool>())
            throw new InvalidDataException($"{what} contain NaN or infinite values; nothing was written for it. This is a numerical fault: " +
                                           "please report it with the CPU model (lscpu) and the model's config.json.");
        return values;
    }
}
