using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using CultureMert.Audio;

namespace CultureMert.Corpus;

/// <summary>How <see cref="FluidSynth.Render(byte[], string, FluidSynthOptions?)"/> renders; defaults suit the corpus (24 kHz, MERT's rate).</summary>
public sealed record FluidSynthOptions
{
    public int SampleRate { get; init; } = 24000;                               // fluidsynth -r
    /// <summary>fluidsynth -g (its own default 0.2 leaves a solo melody near −20 dBFS).</summary>
    public double Gain { get; init; } = 0.5;
    public bool Reverb { get; init; } = true;                                   // synth.reverb.active
    /// <summary>synth.reverb.room-size, 0–1: 0.2 (FluidSynth's default) is a small room.</summary>
    public double ReverbRoomSize { get; init; } = 0.2;
    /// <summary>synth.chorus.active. Off by default: chorus adds detuned copies that blur the comma-sized makam intervals.</summary>
    public bool Chorus { get; init; }
    public string SoundFont { get; init; } = FluidSynth.DefaultSoundFont;
    /// <summary>Render only the first seconds of the score (null: all of it); SymbTr pieces last minutes, clips need seconds.</summary>
    public double? MaxSeconds { get; init; }
    /// <summary>The fluidsynth program, on PATH by default.</summary>
    public string Executable { get; init; } = "fluidsynth";

    public FluidSynthOptions Validate()
    {
        // FluidSynth's own limits for synth.sample-rate, synth.gain and synth.reverb.room-size.
        if (SampleRate is < 8000 or > 96000) throw new ArgumentException($"FluidSynth sample rate must be 8000–96000 Hz (got {SampleRate}).");
        if (Gain is < 0 or > 10 || double.IsNaN(Gain)) throw new ArgumentException($"FluidSynth gain must be 0–10 (got {Gain}).");
        if (ReverbRoomSize is < 0 or > 1 || double.IsNaN(ReverbRoomSize)) throw new ArgumentException($"FluidSynth reverb room size must be 0–1 (got {ReverbRoomSize}).");
        if (MaxSeconds is { } s && !(s > 0)) throw new ArgumentException($"MaxSeconds must be positive (got {s}).");
        return this;
    }
}

/// <summary>
/// Renders MIDI to mono audio with the <c>fluidsynth</c> command line and a General MIDI SoundFont. We call the program
/// rather than the library because no maintained .NET binding of libfluidsynth is available from this project's package
/// feed, and a P/Invoke layer of our own would be one more thing to keep in step with FluidSynth's C API; the CLI renders
/// two orders of magnitude faster than real time, so a process per piece costs little.
/// </summary>
public static class FluidSynth
{
    /// <summary>Debian's fluid-soundfont-gm.</summary>
    public const string DefaultSoundFont = Setup.SystemPackages.SoundFontFile;

    const string InstallHint = "install it with `apt-get install fluidsynth fluid-soundfont-gm`, or run `culturemert setup render`";

    /// <summary>A corpus piece, named <c>culture/id</c> in errors.</summary>
    public static float[] Render(MusicPiece piece, FluidSynthOptions? options = null) => Render(piece.Midi, $"{piece.Culture}/{piece.Id}", options);

    /// <param name="midi">a Standard MIDI File</param>
    /// <param name="name">the piece or file, for error messages</param>
    /// <returns>mono float32 samples at options.SampleRate (the mean of FluidSynth's two channels), at most MaxSeconds long</returns>
    public static float[] Render(byte[] midi, string name, FluidSynthOptions? options = null)
    {
        var o = (options ?? new FluidSynthOptions()).Validate();
        if (o.Executable == "fluidsynth" && o.SoundFont == DefaultSoundFont) Setup.SystemPackages.Require(Setup.SystemPackages.Render);
        if (!File.Exists(o.SoundFont)) throw new FileNotFoundException(
            $"{name}: cannot render: SoundFont {o.SoundFont} not found ({InstallHint}, or pass another .sf2).", o.SoundFont);
        if (o.MaxSeconds is { } max) midi = ScoreMidi.Truncate(midi, max, name);

        var dir = Path.Combine(Path.GetTempPath(), "cm-fluidsynth-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        try
        {
            var (midPath, wavPath) = (Path.Combine(dir, "in.mid"), Path.Combine(dir, "out.wav"));
            File.WriteAllBytes(midPath, midi);
            var (exit, stderr) = Run(o, name, midPath, wavPath);
            if (exit != 0 || !File.Exists(wavPath)) throw new InvalidOperationException(
                $"{name}: fluidsynth exited with code {exit}{(File.Exists(wavPath) ? "" : " and wrote no audio")}: {Tail(stderr)}");
            var audio = AudioFile.ReadMono(wavPath, o.SampleRate);
            if (o.MaxSeconds is { } m && audio.Length > (long)Math.Round(m * o.SampleRate)) audio = audio[..(int)Math.Round(m * o.SampleRate)];
            var peak = audio.Length == 0 ? 0 : audio.Max(MathF.Abs);
            if (peak < 1e-4f) throw new InvalidDataException(
                $"{name}: FluidSynth rendered silence ({audio.Length / (double)o.SampleRate:F1} s, peak {peak:E1}): the MIDI has no audible notes" +
                $"{(o.MaxSeconds is { } s ? $" in its first {s} s" : "")}, or {o.SoundFont} lacks its programs.");
            return audio;
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }   // a leftover temp folder is not worth failing a render
        }
    }

    static (int Exit, string Stderr) Run(FluidSynthOptions o, string name, string midPath, string wavPath)
    {
        var psi = new ProcessStartInfo(o.Executable) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        string F(double x) => x.ToString("R", CultureInfo.InvariantCulture);
        // -n/-i: no MIDI input, no shell; -F: render the file as fast as possible instead of playing it; -O float: no
        // 16-bit quantisation or clipping in the intermediate file.
        foreach (var a in new[] { "-ni", "-q", "-g", F(o.Gain), "-r", o.SampleRate.ToString(CultureInfo.InvariantCulture), "-T", "wav", "-O", "float", "-F", wavPath,
                                  "-o", $"synth.reverb.active={(o.Reverb ? 1 : 0)}", "-o", $"synth.reverb.room-size={F(o.ReverbRoomSize)}",
                                  "-o", $"synth.chorus.active={(o.Chorus ? 1 : 0)}", o.SoundFont, midPath })
            psi.ArgumentList.Add(a);
        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new InvalidOperationException($"{name}: could not start {o.Executable}.");
        }
        catch (Win32Exception e)
        {
            throw new FileNotFoundException($"{name}: cannot render: the fluidsynth program ({o.Executable}) was not found or cannot run ({e.Message}); {InstallHint}.", o.Executable, e);
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();   // read both pipes concurrently: a full pipe would block fluidsynth
            var stderr = process.StandardError.ReadToEndAsync();
            process.WaitForExit();
            return (process.ExitCode, stderr.Result + stdout.Result);
        }
    }

    static string Tail(string text)
    {
        text = text.Trim();
        return text.Length == 0 ? "(no output)" : text.Length <= 600 ? text : "…" + text[^600..];
    }
}
