using System.Globalization;
using CultureMert.Audio;
using CultureMert.Batch;
using CultureMert.Checkpoints;
using CultureMert.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Teachers;

/// <summary>
/// <c>culturemert tokenize</c> as a batch job: each audio file becomes <c>&lt;out&gt;/&lt;relative path&gt;.safetensors</c>
/// holding the teacher's <c>codes</c> int64 (n_q, T) aligned to MERT's frames and, when asked, the <c>cqt</c> target
/// float32 (336, T'). This is the target cache that pre-training reads.
/// </summary>
/// <remarks>
/// Frame grids: MERT's CNN gives T = floor((L − 400)/320) + 1 frames, frame t reading samples [320t, 320t + 400).
/// EnCodec gives ceil(L/320) frames and k-means floor(L/320) + 1; MERT trains frame t against label t (label rate 75 Hz,
/// a crop starting at sample s uses labels from round(s/320)), so codes are cut to their first T frames. The CQT keeps
/// its own floor(L/320) + 1 frames, frame t centred on sample 320t; pre-training uses its first T.
/// </remarks>
public sealed class TokenizeJob : IFileJob
{
    /// <summary>The MERT-v1 frame grid the codes are aligned to.</summary>
    static readonly MertConfig Grid = new();

    readonly ITokenTeacher teacher;
    readonly MertCqt? cqt;
    readonly string outDir;
    readonly bool overwrite;

    public TokenizeJob(ITokenTeacher teacher, MertCqt? cqt, string outDir, bool overwrite)
    {
        if (cqt is not null && cqt.Options.SampleRate != teacher.SampleRate)
            throw new ArgumentException($"the CQT reads {cqt.Options.SampleRate} Hz but the teacher {teacher.SampleRate} Hz.");
        (this.teacher, this.cqt, this.outDir, this.overwrite) = (teacher, cqt, outDir, overwrite);
    }

    /// <param name="tasks">the plan, or a shard's part of it (<see cref="Shard.Select"/>), which writes that shard's index</param>
    public List<IndexRow> Run(IReadOnlyList<BatchTask> tasks, IProgress<JobProgress>? progress = null, CancellationToken cancel = default, Shard? shard = null) =>
        BatchJob.Run(this, tasks, outDir, overwrite, progress, cancel, shard);

    public string CountColumn => "frames";

    public IReadOnlyDictionary<string, string> Provenance
    {
        get
        {
            var p = new Dictionary<string, string>
            {
                ["teacher"] = teacher.Name,
                ["teacher_sha256"] = teacher.Hash,
                ["codebooks"] = teacher.Codebooks.ToString(CultureInfo.InvariantCulture),
                ["codebook_size"] = teacher.CodebookSize.ToString(CultureInfo.InvariantCulture),
                ["frame_grid"] = $"mert-v1 (floor((L-{Grid.ReceptiveField})/{Grid.TotalStride})+1 frames)",
                ["cqt"] = cqt is null ? "none" : CqtDescription(cqt.Options),
            };
            return p;
        }
    }

    static string CqtDescription(CqtOptions o) =>
        FormattableString.Invariant($"sr{o.SampleRate} hop{o.HopLength} fmin{o.FMin} bins{o.Bins} bpo{o.BinsPerOctave}");

    public (double DurationSeconds, int Count) Process(BatchTask task, CancellationToken cancel, Action<double> progress)
    {
        // The teachers see the whole file in one pass, as MERT computed its labels (EnCodec's LSTM carries state across it).
        var audio = AudioFile.ReadMono(task.Path, teacher.SampleRate);
        cancel.ThrowIfCancellationRequested();
        var frames = (int)Grid.FrameCount(audio.Length);
        if (frames == 0)
            throw new InvalidDataException($"{task.Path}: too short: {audio.Length} samples at {teacher.SampleRate} Hz; MERT needs at least {Grid.ReceptiveField} for one frame.");
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var wave = tensor(audio);                                            // (samples)
        var codes = teacher.Encode(wave);                                    // (n_q, teacher frames)
        if (codes.size(1) < frames)
            throw new InvalidDataException($"{task.Path}: the teacher gave {codes.size(1)} frames for {audio.Length} samples, fewer than MERT's {frames}.");
        var tensors = new List<KeyValuePair<string, Tensor>> { new("codes", codes[.., ..frames].to(ScalarType.Int64)) };   // (n_q, T)
        progress(cqt is null ? 1 : 0.5);
        if (cqt is not null) tensors.Add(new("cqt", cqt.Transform(wave)));                                              // (bins, T')
        var duration = (double)audio.Length / teacher.SampleRate;
        SafeTensors.Save(task.Output, tensors, BatchJob.Metadata(this, task, duration, frames));
        return (duration, frames);
    }
}
