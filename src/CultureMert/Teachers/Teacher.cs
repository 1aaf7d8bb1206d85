namespace CultureMert.Teachers;

/// <summary>Opens a token teacher from its command-line spelling.</summary>
public static class Teacher
{
    /// <param name="spec"><c>encodec:DIR</c> (a Hugging Face facebook/encodec_24khz folder) or <c>kmeans:FILE</c> (from <c>teacher fit-kmeans</c>)</param>
    /// <param name="bandwidthKbps">EnCodec bandwidth: 1.5, 3, 6 (MERT: 8 codebooks), 12 or 24</param>
    /// <param name="device">where the teacher encodes (null: the CPU)</param>
    public static ITokenTeacher Open(string spec, double bandwidthKbps = 6.0, TorchSharp.torch.Device? device = null)
    {
        var colon = spec.IndexOf(':');
        var (kind, path) = colon > 0 ? (spec[..colon], spec[(colon + 1)..]) : ("", spec);
        return kind switch
        {
            "encodec" => EncodecTeacher.Load(path, bandwidthKbps, device),
            "kmeans" => KMeansTeacher.Load(path, device),
            _ => throw new ArgumentException($"--teacher \"{spec}\": expected encodec:DIR or kmeans:FILE."),
        };
    }
}
