using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Teachers;

/// <summary>Settings of MERT's CQT reconstruction target (MERT <c>mert_model.py</c> <c>model_cqt_pred</c>): 24 kHz, hop
/// 320 (75 Hz, <c>sr // label_rate</c>), fmin 32.7 Hz, 336 bins at 48 per octave (7 octaves, top ≈ 4125.6 Hz).</summary>
public sealed record CqtOptions(int SampleRate = 24000, int HopLength = 320, double FMin = 32.7, int Bins = 336, int BinsPerOctave = 48);

/// <summary>
/// Port of nnAudio's <c>CQT1992v2</c> (<c>features/cqt.py</c>, kernels from <c>utils.create_cqt_kernels</c>) as MERT
/// constructs it: <c>filter_scale</c> 1, <c>norm</c> 1, Hann window, <c>center=True</c>, <c>pad_mode='constant'</c>,
/// <c>output_format='Magnitude'</c>, <c>normalization_type='librosa'</c> (spec/mert.md §5).
/// nnAudio places each complex kernel (length l_k ≤ 50460) in a zero row of width 65536 and runs a strided conv1d over
/// the signal padded by 32768 zeros, i.e. 336 × 65536 taps per hop. We compute the same sums over each kernel's support
/// only: in every kernel row the tap n = 0 sits at index 32768, so frame t of bin k is
/// <c>Σ_{n=⌊−l/2⌋}^{⌊l/2⌋−1} x[320·t + n] · K_k[n]</c> (x = 0 outside the signal). With the signal cut into rows of
/// <c>hop</c> samples, that sum is <c>Σ_q X[t + a_k + q] · W_k[q]</c> (row q of the kernel, shifted into hop-aligned rows),
/// so one GEMM <c>W (kernel rows, hop) × X (hop, signal rows)</c> per group of kernel pieces, followed by a sum along each
/// piece's diagonal, gives every frame: the multiply-adds of the conv restricted to the support (Σ l_k ≈ 3.5 M complex
/// taps per frame instead of 336 × 65536 = 22 M), at GEMM speed, and no approximation
/// (no decimation, no spectral-kernel thresholding). Frames are processed in blocks, so memory stays bounded.
/// Kernels are built in float64 and stored in float32 as nnAudio's complex64 kernels; sums run in float32 like its conv1d.
/// </summary>
public sealed class MertCqt : IDisposable
{
    /// <summary>Upper bound on the widest kernel (nnAudio's fftLen), so that a tiny fmin fails clearly, not by OOM.</summary>
    const int MaxKernelWidth = 1 << 22;
    /// <summary>Kernel rows (pieces × {re, im} × hop-rows) per GEMM: keeps the per-block product near 17 MB at 1024 frames.</summary>
    const int RowsPerGroup = 4096;
    /// <summary>Hop-rows per kernel piece (see the constructor): the GEMMs' wasted rows per block are about twice this.</summary>
    const int PieceRows = 32;

    public CqtOptions Options { get; }

    /// <summary>Frames per processing block. Working memory beyond the padded input and the output: one GEMM product of
    /// ≤ 4096 × (block + ~64) floats (≈ 17 MB at 1024) and bins × 2 × block accumulators (2.8 MB).</summary>
    public int FramesPerBlock { get; }

    /// <summary>Centre frequency of every bin, Hz: fmin · 2^(k / bins_per_octave) (nnAudio <c>freqs</c>).</summary>
    public IReadOnlyList<double> Frequencies => frequencies;

    /// <summary>Kernel length l_k of every bin: ceil(Q · sr / f_k) (nnAudio <c>lenghts</c>).</summary>
    public IReadOnlyList<int> Lengths => lengths;

    /// <summary>nnAudio's kernel width (2^ceil(log2 max l_k)); the signal is zero-padded by half of it on both sides.</summary>
    public int KernelWidth { get; }

    readonly double[] frequencies;
    readonly int[] lengths;
    readonly int[] rowOffset;      // a_k: first hop-row of bin k relative to the frame's row (⌊⌊−l/2⌋ / hop⌋, ≤ 0)
    readonly int[] rowCount;       // Q_k: hop-rows the kernel of bin k spans
    readonly Group[] groups;
    readonly float[] sqrtLengths;  // the 'librosa' scaling, float32 sqrt of the float32 lengths, applied to the output as nnAudio does
    readonly int firstRow;         // min a_k: the left zero padding, in hop-rows
    readonly int lastRowReach;     // max (a_k + Q_k − 1): the right zero padding, in hop-rows

    /// <param name="Pieces">kernel pieces, distinct bins</param>
    /// <param name="Weights">(Σ 2·Height, hop) float32: per piece, rows (re/im, q) = taps (q0 + q)·hop … + hop − 1 of bin k</param>
    /// <param name="RowLo">first signal row (relative to firstRow) the group reads for frame 0</param>
    /// <param name="RowHi">last signal row it reads for frame 0</param>
    sealed record Group(Piece[] Pieces, Tensor Weights, int RowLo, int RowHi);

    /// <summary>Hop-rows q0 … q0 + Height − 1 of bin <paramref name="Bin"/>'s kernel.</summary>
    /// <param name="WeightRow">first of its 2·Height rows in the group's weights</param>
    /// <param name="Column">signal row of its row q0 for frame 0, relative to the group's RowLo</param>
    readonly record struct Piece(int Bin, int Height, int WeightRow, int Column);

    public MertCqt(CqtOptions? options = null, int framesPerBlock = 1024)
    {
        var o = Options = options ?? new CqtOptions();
        Validate(o);
        if (framesPerBlock < 1) throw new ArgumentOutOfRangeException(nameof(framesPerBlock), $"MertCqt: framesPerBlock must be ≥ 1 (got {framesPerBlock}).");
        FramesPerBlock = framesPerBlock;
        var (bins, hop, sr) = (o.Bins, o.HopLength, (double)o.SampleRate);

        // nnAudio CQT1992v2.__init__ / create_cqt_kernels, same expressions in float64
        var q = 1.0 / (Math.Pow(2, 1.0 / o.BinsPerOctave) - 1);                // Q = filter_scale / (2^(1/bpo) − 1)
        frequencies = new double[bins];
        lengths = new int[bins];
        for (var k = 0; k < bins; k++)
        {
            frequencies[k] = o.FMin * Math.Pow(2.0, k / (double)o.BinsPerOctave);
            lengths[k] = (int)Math.Ceiling(q * sr / frequencies[k]);
        }
        KernelWidth = 1 << (int)Math.Ceiling(Math.Log2(lengths.Max()));       // fftLen = 2^ceil(log2(max_len))

        rowOffset = new int[bins];
        rowCount = new int[bins];
        var kernels = new float[bins][];                                       // per bin: (2, Q_k·hop), re then im
        for (var k = 0; k < bins; k++)
        {
            var l = lengths[k];
            var n0 = -(l + 1) / 2;                                             // numpy r_[-l//2 : l//2] starts at ⌊−l/2⌋
            rowOffset[k] = FloorDiv(n0, hop);
            var shift = n0 - rowOffset[k] * hop;                               // 0 ≤ shift < hop: tap n0 in its hop-row
            rowCount[k] = (shift + l + hop - 1) / hop;
            kernels[k] = Kernel(l, frequencies[k], sr, n0, shift, rowCount[k] * hop);
        }
        firstRow = rowOffset.Min();
        lastRowReach = Enumerable.Range(0, bins).Max(k => rowOffset[k] + rowCount[k] - 1);

        // Kernels are cut into pieces of at most PieceRows hop-rows, and pieces with nearby signal rows share one GEMM of
        // at most RowsPerGroup kernel rows. A GEMM computes every kernel row against every signal row its group reads, but
        // a piece uses only `count` of them, so the product wastes (group's row spread) / count: with whole kernels of the
        // lowest octave (158 rows) that was ~40 % of a 5-s crop's work; pieces of 32 rows grouped by start row keep it small.
        var pieces = new List<(int Bin, int Q0, int Height)>();
        for (var q0 = 0; q0 < rowCount.Max(); q0 += PieceRows)
            for (var k = 0; k < bins; k++)
                if (q0 < rowCount[k]) pieces.Add((k, q0, Math.Min(PieceRows, rowCount[k] - q0)));
        int StartRow((int Bin, int Q0, int Height) p) => rowOffset[p.Bin] - firstRow + p.Q0;
        var list = new List<Group>();
        for (var i = 0; i < pieces.Count;)
        {
            // a bin appears at most once per group, so the group's pieces can be summed in parallel into per-bin accumulators
            var (end, rows, lo, hi, seen) = (i, 0, int.MaxValue, int.MinValue, new HashSet<int>());
            while (end < pieces.Count)
            {
                var p = pieces[end];
                var (plo, phi) = (Math.Min(lo, StartRow(p)), Math.Max(hi, StartRow(p) + p.Height - 1));
                if (end > i && (rows + 2 * p.Height > RowsPerGroup || phi - plo > 2 * PieceRows || seen.Contains(p.Bin))) break;
                (rows, lo, hi) = (rows + 2 * p.Height, plo, phi);
                seen.Add(p.Bin);
                end++;
            }
            var w = new float[rows * hop];
            var members = new Piece[end - i];
            for (int j = i, r = 0; j < end; j++)
            {
                var (k, q0, h) = pieces[j];
                members[j - i] = new Piece(k, h, r, StartRow(pieces[j]) - lo);
                for (var c = 0; c < 2; c++, r += h)                            // re rows q0 … q0 + h − 1, then im rows
                    Array.Copy(kernels[k], (c * rowCount[k] + q0) * hop, w, r * hop, h * hop);
            }
            list.Add(new Group(members, tensor(w, [rows, hop]), lo, hi));
            i = end;
        }
        groups = list.ToArray();
        // nnAudio: self.lenghts is a float32 tensor; torch.sqrt of it, multiplied onto the float32 conv output
        sqrtLengths = lengths.Select(l => MathF.Sqrt(l)).ToArray();
    }

    static void Validate(CqtOptions o)
    {
        if (o.SampleRate <= 0) throw new ArgumentException($"CqtOptions.SampleRate must be positive (got {o.SampleRate}); MERT uses 24000.", nameof(o.SampleRate));
        if (o.HopLength <= 0) throw new ArgumentException($"CqtOptions.HopLength must be positive (got {o.HopLength}); MERT uses 320.", nameof(o.HopLength));
        if (!(o.FMin > 0) || double.IsInfinity(o.FMin)) throw new ArgumentException($"CqtOptions.FMin must be a positive frequency in Hz (got {o.FMin}); MERT uses 32.7.", nameof(o.FMin));
        if (o.Bins <= 0) throw new ArgumentException($"CqtOptions.Bins must be positive (got {o.Bins}); MERT uses 336.", nameof(o.Bins));
        if (o.BinsPerOctave <= 0) throw new ArgumentException($"CqtOptions.BinsPerOctave must be positive (got {o.BinsPerOctave}); MERT uses 48.", nameof(o.BinsPerOctave));
        // nnAudio (topbin_check): "The top bin {}Hz has exceeded the Nyquist frequency, please reduce the n_bins"
        var top = o.FMin * Math.Pow(2.0, (o.Bins - 1) / (double)o.BinsPerOctave);
        if (top > o.SampleRate / 2.0) throw new ArgumentException(
            $"CqtOptions: the top bin ({top:F1} Hz = FMin·2^((Bins−1)/BinsPerOctave)) exceeds the Nyquist frequency {o.SampleRate / 2.0} Hz; reduce Bins or FMin.", nameof(o.Bins));
        var longest = Math.Ceiling(1.0 / (Math.Pow(2, 1.0 / o.BinsPerOctave) - 1) * o.SampleRate / o.FMin);
        if (longest > MaxKernelWidth) throw new ArgumentException(
            $"CqtOptions: the lowest bin's kernel would be {longest:F0} samples long (limit {MaxKernelWidth}); raise FMin or lower BinsPerOctave.", nameof(o.FMin));
    }

    /// <summary>One kernel of nnAudio's <c>create_cqt_kernels</c>, conjugated as CQT1992v2's forward uses it
    /// (real = conv(Re K), imag = −conv(Im K)), laid out from tap n0 at index <paramref name="shift"/>.</summary>
    /// <returns>(2, width) row-major: re row, then im row</returns>
    static float[] Kernel(int l, double freq, double sr, int n0, int shift, int width)
    {
        // scipy get_window('hann', l, fftbins=True) is the periodic Hann: 0.5 − 0.5·cos(2πi/l), i = 0..l−1. |exp| = 1, so
        // the L1 norm of sig = w·exp(·)/l is Σ w / l (np.linalg.norm(sig, 1) sums complex magnitudes).
        var w = new double[l];
        var l1 = 0.0;
        for (var i = 0; i < l; i++) { w[i] = 0.5 - 0.5 * Math.Cos(2 * Math.PI * i / l); l1 += w[i] / l; }
        var kernel = new float[2 * width];
        for (var i = 0; i < l; i++)
        {
            var phase = (n0 + i) * 2 * Math.PI * freq / sr;                     // numpy: n · 1j · 2 · π · freq / fs
            var a = w[i] / l / l1;
            kernel[shift + i] = (float)(a * Math.Cos(phase));                  // complex64 cast of the real part
            kernel[width + shift + i] = -(float)(a * Math.Sin(phase));         // −Im: nnAudio negates the imaginary conv
        }
        return kernel;
    }

    /// <summary>Frames nnAudio returns for <paramref name="samples"/> samples: floor(L / hop) + 1 (centred, padded by fftLen/2).</summary>
    public int FrameCount(long samples)
    {
        if (samples < 0) throw new ArgumentOutOfRangeException(nameof(samples), $"MertCqt.FrameCount: negative sample count {samples}.");
        return checked((int)(samples / Options.HopLength + 1));
    }

    /// <summary>CQT magnitude of a mono waveform, as nnAudio <c>CQT1992v2(...)(x)[0]</c> with <c>output_format='Magnitude'</c>
    /// (no log, no normalisation).</summary>
    /// <param name="waveform">(samples) float at <see cref="CqtOptions.SampleRate"/>, on any device; other float dtypes are converted to float32</param>
    /// <returns>(bins, frames) float32 on the CPU, frames = <see cref="FrameCount"/>; frame t is centred on sample hop·t</returns>
    /// <remarks>Always computed on the CPU: the diagonal sums read each GEMM product from .NET (<see cref="DiagonalSums"/>), so a
    /// GPU would have to send every product back, which costs more than the GEMM it saves.</remarks>
    public Tensor Transform(Tensor waveform)
    {
        if (waveform.dim() != 1) throw new ArgumentException(
            $"MertCqt.Transform: expected a mono waveform (samples), got shape [{string.Join(", ", waveform.shape)}]; mix down or select a channel first.", nameof(waveform));
        if (!waveform.is_floating_point()) throw new ArgumentException($"MertCqt.Transform: expected a float waveform, got {waveform.dtype}.", nameof(waveform));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var (hop, bins) = (Options.HopLength, Options.Bins);
        var samples = waveform.shape[0];
        var frames = FrameCount(samples);

        // The signal in hop-rows, zero-padded so that every kernel row of every frame exists: row r holds samples
        // hop·(r + firstRow) …; frame t of bin k reads rows t + a_k − firstRow … + Q_k − 1.
        long rows = Math.Max(frames - 1 + lastRowReach - firstRow + 1, (samples - firstRow * (long)hop + hop - 1) / hop);
        var padded = zeros(rows * hop, dtype: ScalarType.Float32);
        var left = -firstRow * (long)hop;
        padded.narrow(0, left, samples).copy_(waveform.detach().to(ScalarType.Float32).cpu());
        var x = padded.view(rows, hop);                                        // (rows, hop)

        var result = empty(bins, frames, dtype: ScalarType.Float32);            // (bins, frames)
        var sums = new float[bins * 2 * Math.Min(FramesPerBlock, frames)];     // per bin: re sums, then im sums, of the block
        for (var t0 = 0; t0 < frames; t0 += FramesPerBlock)
        {
            var count = Math.Min(FramesPerBlock, frames - t0);
            Array.Clear(sums);
            foreach (var g in groups)
            {
                using var product = g.Weights.mm(x.narrow(0, t0 + g.RowLo, count + g.RowHi - g.RowLo).t()); // (kernel rows, span)
                DiagonalSums(g, product, sums, count);
            }
            Magnitudes(sums, result, t0, count, frames);
        }
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>Adds the group's contributions to frames t0 … t0 + count − 1 of its bins:
    /// sums[k, c, t] += Σ_q product[piece row (c, q), Column + t + q], a diagonal of the product (one row down, one column
    /// right per kernel row q). A torch <c>as_strided(...).sum()</c> of the same diagonal is exact too, but its strided
    /// reduction took as long as the GEMM; contiguous vector adds over native memory take a few percent of it.</summary>
    /// <param name="product">(Σ 2·Height, span) float32, contiguous</param>
    /// <param name="sums">(bins, 2, count) float32 accumulators</param>
    static unsafe void DiagonalSums(Group g, Tensor product, float[] sums, int count)
    {
        var span = product.shape[1];
        fixed (float* p = MemoryMarshal.Cast<byte, float>(product.bytes))
        {
            var pp = (nint)p;
            // Workers touch raw memory only (no Tensor, no TorchSharp call); `product` is held by the caller until this returns.
            Parallel.ForEach(g.Pieces, piece =>                                // distinct bins: no two pieces share an accumulator
            {
                for (var c = 0; c < 2; c++)
                {
                    var acc = sums.AsSpan((piece.Bin * 2 + c) * count, count);
                    for (var q = 0; q < piece.Height; q++)
                    {
                        var row = (float*)pp + (piece.WeightRow + c * piece.Height + q) * span + piece.Column + q;
                        TensorPrimitives.Add(acc, new ReadOnlySpan<float>(row, count), acc);
                    }
                }
            });
        }
    }

    /// <summary>nnAudio's 'librosa' scaling and magnitude, in float32: re·sqrt(l), im·sqrt(l), then sqrt(re² + im²).</summary>
    /// <param name="sums">(bins, 2, count)</param> <param name="result">(bins, frames) float32, contiguous</param>
    unsafe void Magnitudes(float[] sums, Tensor result, int t0, int count, int frames)
    {
        fixed (float* r = MemoryMarshal.Cast<byte, float>(result.bytes))
        {
            var rp = (nint)r;
            Parallel.For(0, Options.Bins, k =>
            {
                var scale = sqrtLengths[k];
                var dst = new Span<float>((float*)rp + (long)k * frames + t0, count);
                var re = sums.AsSpan(k * 2 * count, count);
                var im = sums.AsSpan((k * 2 + 1) * count, count);
                for (var t = 0; t < count; t++)
                {
                    float a = re[t] * scale, b = im[t] * scale;
                    dst[t] = MathF.Sqrt(a * a + b * b);
                }
            });
        }
    }

    static int FloorDiv(int a, int b) => (int)Math.Floor(a / (double)b);

    public void Dispose()
    {
        foreach (var g in groups) g.Weights.Dispose();
    }
}
