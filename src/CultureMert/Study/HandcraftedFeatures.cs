using System.Globalization;
using CultureMert.Audio;
using CultureMert.Batch;
using CultureMert.Checkpoints;
using CultureMert.Teachers;
using static TorchSharp.torch;

namespace CultureMert.Study;

/// <summary>
/// The sanity ladder's hand-crafted rung: per chunk of audio, the mean and standard deviation over frames of 20 MFCCs
/// and 12 chroma bins (64 features, nothing learned), written in <c>culturemert embed</c>'s output format (one
/// <c>chunk_embeddings</c> tensor (chunks, 1, 64) per file, <c>source</c> metadata) so the same probe reads them. A
/// <see cref="BatchJob"/>, like embed: outputs named, resumed and indexed the same way, one bad file reported, not fatal.
/// </summary>
/// <remarks>MFCCs are the orthonormal DCT-II of the log-mel bands (librosa's <c>mfcc</c> from a log-mel spectrogram,
/// natural log instead of dB, which only scales them), from <see cref="FrameFeatures"/>: the teacher's own front end.</remarks>
internal sealed class HandcraftedFeatures : IFileJob, IDisposable
{
    public const int Mfccs = 20;
    public const int Dimension = 2 * (Mfccs + FrameFeatureOptions.ChromaBins);

    readonly FrameFeatures features;
    readonly Tensor dct;                                   // (n_mels, 20)
    readonly double chunkSeconds;
    readonly int framesPerChunk;

    HandcraftedFeatures(double chunkSeconds, Device? device)
    {
        features = new FrameFeatures(device: device);
        dct = DctMatrix(features.Options.NMels, Mfccs).to(features.Device);
        this.chunkSeconds = chunkSeconds;
        framesPerChunk = Math.Max(1, (int)Math.Round(chunkSeconds * features.Options.SampleRate / features.Options.HopLength));
    }

    /// <summary>Features of every audio file of <paramref name="inputs"/> (files, folders or manifests) into <paramref name="outDir"/>;
    /// matching outputs of an earlier run are kept. Throws naming the files that failed, after doing all the others.</summary>
    public static void Embed(IEnumerable<string> inputs, string outDir, double chunkSeconds, Device? device = null)
    {
        using var job = new HandcraftedFeatures(chunkSeconds, device);
        var rows = BatchJob.Run(job, BatchJob.Plan(inputs, outDir), outDir, overwrite: false);
        var bad = rows.Where(r => r.Status == "error").ToList();
        if (bad.Count > 0)
            throw new InvalidDataException($"{bad.Count} file(s) failed: {string.Join("; ", bad.Take(3).Select(r => r.Error))}");
    }

    public string CountColumn => "chunks";

    public IReadOnlyDictionary<string, string> Provenance => new Dictionary<string, string>
    {
        ["features"] = $"mfcc{Mfccs}+chroma{FrameFeatureOptions.ChromaBins} mean,std",
        ["layers"] = "0",
        ["chunk_seconds"] = chunkSeconds.ToString("R", CultureInfo.InvariantCulture),
    };

    public (double DurationSeconds, int Count) Process(BatchTask task, CancellationToken cancel, Action<double> progress)
    {
        using var scope = NewDisposeScope();
        var audio = AudioFile.ReadMono(task.Path, features.Options.SampleRate);
        var f = features.Compute(tensor(audio));                                                            // (frames, n_mels + 12)
        var nMels = features.Options.NMels;
        var perFrame = cat([matmul(f[.., ..nMels], dct), f[.., nMels..]], 1);                                 // (frames, 32)
        var chunks = perFrame.split(framesPerChunk, 0)
                             .Select(c => cat([c.mean([0]), c.shape[0] > 1 ? c.std(0) : zeros_like(c[0])], 0))      // (64)
                             .ToArray();
        var stacked = stack(chunks).unsqueeze(1).cpu();                                                          // (chunks, 1, 64)
        var duration = (double)audio.Length / features.Options.SampleRate;
        SafeTensors.Save(task.Output, [KeyValuePair.Create("chunk_embeddings", stacked)], BatchJob.Metadata(this, task, duration, chunks.Length));
        return (duration, chunks.Length);
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

    public void Dispose()
    {
        dct.Dispose();
        features.Dispose();
    }
}
