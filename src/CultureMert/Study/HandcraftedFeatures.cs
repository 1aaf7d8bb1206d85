using CultureMert.Audio;
using CultureMert.Checkpoints;
using CultureMert.Teachers;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Study;

/// <summary>
/// The sanity ladder's hand-crafted rung: per chunk of audio, the mean and standard deviation over frames of 20 MFCCs
/// and 12 chroma bins (64 features, nothing learned), written in <c>culturemert embed</c>'s output format (one
/// <c>chunk_embeddings</c> tensor (chunks, 1, 64) per file, <c>source</c> metadata) so the same probe reads them.
/// </summary>
/// <remarks>MFCCs are the orthonormal DCT-II of the log-mel bands (librosa's <c>mfcc</c> from a log-mel spectrogram,
/// natural log instead of dB, which only scales them), from <see cref="FrameFeatures"/>: the teacher's own front end.</remarks>
internal static class HandcraftedFeatures
{
    public const int Mfccs = 20;
    public const int Dimension = 2 * (Mfccs + FrameFeatureOptions.ChromaBins);

    /// <summary>Writes one output per audio file into <paramref name="outDir"/>; files already there are kept.</summary>
    public static void Embed(IEnumerable<string> audioFiles, string outDir, double chunkSeconds, Device? device = null)
    {
        Directory.CreateDirectory(outDir);
        using var features = new FrameFeatures(device: device);
        using var dct = DctMatrix(features.Options.NMels, Mfccs).to(features.Device);
        var framesPerChunk = Math.Max(1, (int)Math.Round(chunkSeconds * features.Options.SampleRate / features.Options.HopLength));
        foreach (var path in audioFiles)
        {
            var output = Path.Combine(outDir, Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Path.GetFullPath(path))))[..16] + ".safetensors");
            if (File.Exists(output)) continue;
            using var scope = NewDisposeScope();
            var f = features.Compute(tensor(AudioFile.ReadMono(path, features.Options.SampleRate)));        // (frames, n_mels + 12)
            var nMels = features.Options.NMels;
            var perFrame = cat([matmul(f[.., ..nMels], dct), f[.., nMels..]], 1);                             // (frames, 32)
            var chunks = perFrame.split(framesPerChunk, 0)
                                 .Select(c => cat([c.mean([0]), c.shape[0] > 1 ? c.std(0) : zeros_like(c[0])], 0))  // (64)
                                 .ToArray();
            var stacked = stack(chunks).unsqueeze(1).cpu();                                                      // (chunks, 1, 64)
            SafeTensors.Save(output, [KeyValuePair.Create("chunk_embeddings", stacked)],
                             new Dictionary<string, string> { ["source"] = Path.GetFullPath(path), ["layers"] = "0", ["features"] = $"mfcc{Mfccs}+chroma12 mean,std" });
        }
    }

    /// <summary>Orthonormal DCT-II basis as a (n, k) matrix: x (frames, n) @ D = the first k coefficients (scipy's dct(type=2, norm='ortho')).</summary>
    public static Tensor DctMatrix(int n, int k)
    {
        var d = new float[n * k];
        for (var i = 0; i < n; i++)
            for (var j = 0; j < k; j++)
                d[i * k + j] = (float)(Math.Sqrt((j == 0 ? 1.0 : 2.0) / n) * Math.Cos(Math.PI * j * (2 * i + 1) / (2.0 * n)));
        return tensor(d, [n, k]);
    }
}
