namespace CultureMert.Corpus;

/// <summary>
/// A few seconds of synthesised music for the demo and smoke tests, seeded and reproducible: a plucked melody over a
/// drone in a given scale (cents above the tonic, so makam and raga intervals are exact), with a light percussive pulse.
/// </summary>
public static class DemoAudio
{
    public sealed record Piece(string Name, double TonicHz, double[] ScaleCents, double BeatsPerMinute, int SampleRate, double Seconds);

    /// <summary>Three short pieces at three sample rates (so the demo also exercises resampling).</summary>
    public static readonly Piece[] Pieces =
    [
        new("makam-hicaz", 146.83, [0, 90, 384, 498, 702, 792, 996, 1200], 96, 44100, 6.0),    // Hicaz: augmented second 90→384
        new("raga-yaman", 130.81, [0, 204, 386, 590, 702, 884, 1088, 1200], 72, 48000, 7.5),    // Yaman: tivra Ma (590 cents)
        new("western-major", 196.00, [0, 200, 400, 500, 700, 900, 1100, 1200], 120, 24000, 4.0),
    ];

    /// <returns>mono samples in [-1, 1] at piece.SampleRate</returns>
    public static float[] Render(Piece piece, int seed)
    {
        var rng = new Random(seed);
        var sr = piece.SampleRate;
        var n = (int)(piece.Seconds * sr);
        var y = new double[n];
        // Drone on tonic and fifth, as a tanpura or a sustained organ would play.
        foreach (var (cents, amp) in new[] { (0.0, 0.12), (702.0, 0.08) })
        {
            var f = piece.TonicHz / 2 * Math.Pow(2, cents / 1200);
            for (var i = 0; i < n; i++)
                for (var h = 1; h <= 4; h++)
                    y[i] += amp / h * Math.Sin(2 * Math.PI * f * h * i / sr);
        }
        // Melody: a random walk over the scale, one note per beat, plucked (exponential decay).
        var beat = (int)(sr * 60 / piece.BeatsPerMinute);
        var degree = 0;
        for (var start = 0; start < n; start += beat)
        {
            degree = Math.Clamp(degree + rng.Next(-2, 3), 0, piece.ScaleCents.Length - 1);
            var f = piece.TonicHz * Math.Pow(2, piece.ScaleCents[degree] / 1200);
            for (var i = 0; i < beat && start + i < n; i++)
            {
                var env = Math.Exp(-3.0 * i / beat);
                for (var h = 1; h <= 5; h++)
                    y[start + i] += 0.25 * env / (h * h) * Math.Sin(2 * Math.PI * f * h * i / sr);
            }
            // A short noise burst on every beat: the percussion.
            for (var i = 0; i < sr / 50 && start + i < n; i++)
                y[start + i] += 0.1 * (rng.NextDouble() * 2 - 1) * Math.Exp(-200.0 * i / sr);
        }
        var peak = y.Max(Math.Abs);
        return y.Select(v => (float)(0.8 * v / peak)).ToArray();
    }
}
