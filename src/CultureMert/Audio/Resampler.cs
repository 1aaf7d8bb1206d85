namespace CultureMert.Audio;

/// <summary>
/// Streaming port of <c>torchaudio.functional.resample</c> (torchaudio 0.13.1 <c>functional.py</c>,
/// <c>_get_sinc_resample_kernel</c> + <c>_apply_sinc_resample_kernel</c>; defaults <c>sinc_interpolation</c> = Hann window,
/// <c>lowpass_filter_width</c> 6, <c>rolloff</c> 0.99), as a polyphase FIR filter.
/// torchaudio pads the signal with <c>width</c> zeros on the left and <c>width + orig</c> on the right and runs
/// <c>conv1d(kernel (new, 1, 2·width + orig), stride orig)</c>; output frame k, phase i is therefore
/// <c>y[k·new + i] = Σ_m kernel[i, m] · x[k·orig + m − width]</c> (x = 0 outside the signal), truncated to
/// <c>ceil(new · T / orig)</c> samples. We compute exactly that sum, frame by frame, as soon as the samples it reads have
/// arrived, so feeding a signal in any block sizes and then calling <see cref="Flush"/> gives the same floats as one call.
/// The kernel is computed in float32 exactly as torchaudio does for a float32 waveform; the sums are accumulated in double
/// (torchaudio: float32 conv1d), which keeps us within ~3e-7 of torchaudio (tests: Resample_*_MatchesTorchaudio).
/// </summary>
public sealed class Resampler
{
    const int LowpassFilterWidth = 6;
    const double Rolloff = 0.99;

    public int OrigFreq { get; }
    public int NewFreq { get; }

    readonly int orig, @new;          // rates divided by their gcd: 44100→24000 is 147→80
    readonly int width;               // torchaudio's left padding
    readonly double[][] taps;         // per phase i: the kernel entries inside the Hann window
    readonly int[] tapStart;          // per phase i: index m of taps[i][0] in the full kernel row
    readonly int needLo, needHi;      // every frame k reads x[k·orig + needLo .. k·orig + needHi − 1]
    readonly bool passthrough;        // torchaudio returns the waveform unchanged when orig == new

    float[] buf = new float[4096];    // x[bufStart .. bufStart + bufCount − 1]
    long bufStart;
    int bufCount;
    long received, nextFrame, emitted;
    bool flushed;

    public Resampler(int origFreq, int newFreq)
    {
        if (origFreq <= 0 || newFreq <= 0)
            throw new ArgumentOutOfRangeException(nameof(origFreq), $"Sample rates must be positive (got {origFreq} → {newFreq}).");
        (OrigFreq, NewFreq) = (origFreq, newFreq);
        var g = Gcd(origFreq, newFreq);
        (orig, @new) = (origFreq / g, newFreq / g);
        passthrough = orig == @new;
        var baseFreq = Math.Min(orig, @new) * Rolloff;                     // anti-aliasing cut-off, in units of the reduced rates
        width = (int)Math.Ceiling(LowpassFilterWidth * orig / baseFreq);   // same expression order as torchaudio
        var kernelLength = 2 * width + orig;
        var (baseFreq32, scale32) = ((float)baseFreq, (float)(baseFreq / orig));   // python floats meet float32 tensors
        taps = new double[@new][];
        tapStart = new int[@new];
        (needLo, needHi) = (int.MaxValue, int.MinValue);
        for (var i = 0; i < @new; i++)
        {
            // torchaudio: t = (−i/new + (m − width)/orig)·base_freq, clamped to ±lpw, where the Hann window is 0. Entries
            // with |t| > lpw are therefore 0 up to rounding (≤ 1e-20 in float32), so we keep only the window's support:
            // 8× fewer multiply-adds for 44.1 kHz → 24 kHz, and no change above 1e-15.
            var row = new List<double>();
            var first = -1;
            // Only m near the window (|t| ≤ lpw ⇔ m ∈ width + orig·(i/new ± lpw/base_freq)) can be non-zero: scanning just
            // that range (with a margin for float rounding) keeps odd rates such as 96001 Hz (no common divisor with
            // 24000) to ~1e6 steps instead of ~2e9.
            var centre = width + (double)orig * i / @new;
            var half = (double)orig * LowpassFilterWidth / baseFreq;
            var mFrom = (int)Math.Max(0, Math.Floor(centre - half) - 2);
            var mTo = (int)Math.Min(kernelLength - 1, Math.Ceiling(centre + half) + 2);
            for (var m = mFrom; m <= mTo; m++)
            {
                // float32 throughout, in torchaudio's operation order: its kernel is built in the waveform's dtype, and the
                // rounding of t (≈ 1e-5 at |t| ≈ 6 for 147 → 160) moves outputs by up to 1e-5, so doubles would not match
                var t = (-(float)i / @new + (float)(m - width) / orig) * baseFreq32;
                if (MathF.Abs(t) > LowpassFilterWidth) continue;
                var window = MathF.Cos(t * MathF.PI / LowpassFilterWidth / 2);
                window *= window;
                t *= MathF.PI;
                var k = t == 0 ? 1f : MathF.Sin(t) / t;
                if (first < 0) first = m;
                row.Add(k * (window * scale32));
            }
            taps[i] = row.ToArray();
            tapStart[i] = Math.Max(first, 0);
            needLo = Math.Min(needLo, tapStart[i] - width);
            needHi = Math.Max(needHi, tapStart[i] + row.Count - width);
        }
        bufStart = Math.Min(0, needLo);                                    // the left zero padding, materialised
        bufCount = (int)-bufStart;
        if (bufCount > buf.Length) buf = new float[bufCount * 2];
    }

    /// <summary>Appends the output samples that <paramref name="input"/> (the next part of the signal) completes.</summary>
    public void Process(ReadOnlySpan<float> input, List<float> output)
    {
        if (flushed) throw new InvalidOperationException("Resampler: Process after Flush; create a new Resampler per signal.");
        received += input.Length;
        if (passthrough)
        {
            foreach (var x in input) output.Add(x);
            emitted += input.Length;
            return;
        }
        Append(input);
        // frame k is final once it reads no sample beyond the end, and all its phases lie before ceil(new·T/orig) for
        // any final length T ≥ received, i.e. (k + 1)·orig ≤ received
        var reach = Math.Max(needHi, orig);
        while (nextFrame * orig + reach <= received) EmitFrame(output, long.MaxValue);
        Compact();
    }

    /// <summary>End of the signal: appends the remaining samples, so that the total is ceil(new · T / orig).</summary>
    public void Flush(List<float> output)
    {
        if (flushed) return;
        flushed = true;
        if (passthrough) return;
        var target = (@new * received + orig - 1) / orig;                  // torchaudio: int(math.ceil(new_freq * length / orig_freq))
        if (target == 0) return;
        var lastFrame = (target - 1) / @new;
        var end = lastFrame * orig + needHi;                               // the right zero padding the last frame reads
        var zeros = end - (bufStart + bufCount);
        if (zeros > 0) Append(new float[zeros]);
        while (emitted < target) EmitFrame(output, target);
    }

    /// <summary>Resamples a whole signal in one go: the same samples as any streamed feeding.</summary>
    public static float[] ResampleAll(ReadOnlySpan<float> input, int origFreq, int newFreq)
    {
        var r = new Resampler(origFreq, newFreq);
        var output = new List<float>((int)Math.Min(int.MaxValue, (long)input.Length * newFreq / origFreq + 16));
        r.Process(input, output);
        r.Flush(output);
        return output.ToArray();
    }

    void EmitFrame(List<float> output, long target)
    {
        var origin = nextFrame * orig - width - bufStart;                  // buffer index of x[k·orig − width], i.e. m = 0
        for (var i = 0; i < @new && emitted < target; i++)
        {
            var row = taps[i];
            var x = buf.AsSpan((int)(origin + tapStart[i]), row.Length);
            var sum = 0.0;
            for (var m = 0; m < row.Length; m++) sum += row[m] * x[m];
            output.Add((float)sum);
            emitted++;
        }
        nextFrame++;
    }

    void Append(ReadOnlySpan<float> input)
    {
        if (bufCount + input.Length > buf.Length)
            Array.Resize(ref buf, Math.Max(buf.Length * 2, bufCount + input.Length));
        input.CopyTo(buf.AsSpan(bufCount));
        bufCount += input.Length;
    }

    void Compact()
    {
        // drop what no future frame reads, so memory stays flat however long the stream
        var keepFrom = nextFrame * orig + needLo;
        var drop = (int)Math.Min(bufCount, keepFrom - bufStart);
        if (drop <= 0) return;
        buf.AsSpan(drop, bufCount - drop).CopyTo(buf);
        bufCount -= drop;
        bufStart += drop;
    }

    static int Gcd(int a, int b)
    {
        while (b != 0) (a, b) = (b, a % b);
        return a;
    }
}
