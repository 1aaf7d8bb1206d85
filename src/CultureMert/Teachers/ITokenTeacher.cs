using static TorchSharp.torch;

namespace CultureMert.Teachers;

/// <summary>
/// A pre-training teacher that turns audio into discrete tokens at 75 Hz: EnCodec's residual VQ (MERT-v1) or a k-means
/// codebook over frame features (MERT's first version; needs no downloaded weights).
/// </summary>
public interface ITokenTeacher : IDisposable
{
    /// <summary>Short description for metadata and logs, e.g. <c>encodec_24khz@6kbps</c>.</summary>
    string Name { get; }

    /// <summary>Content hash of the teacher's weights/codebook (16 hex digits): outputs are reused only for the same teacher.</summary>
    string Hash { get; }

    /// <summary>Sample rate the teacher reads (24000 for MERT's teachers).</summary>
    int SampleRate { get; }

    /// <summary>Number of codebooks n_q the codes have.</summary>
    int Codebooks { get; }

    /// <summary>Entries per codebook (1024 for EnCodec).</summary>
    int CodebookSize { get; }

    /// <summary>Tokens of a whole mono waveform.</summary>
    /// <param name="waveform">(samples) float32 at <see cref="SampleRate"/>, on any device (the teacher moves it to its own)</param>
    /// <returns>int64 (n_q, frames) on the teacher's device — the teacher's own frame count; callers align it to MERT's frames</returns>
    Tensor Encode(Tensor waveform);
}
