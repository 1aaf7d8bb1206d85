using CultureMert.Audio;
using CultureMert.Batch;
using CultureMert.Checkpoints;
using CultureMert.Cli;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Tests.Teachers;

/// <summary>`tokenize` end to end through the CLI, against the EnCodec (original facebookresearch code) and nnAudio goldens.</summary>
public class TokenizeJobTests
{
    [Fact]
    public void Cli_TokenizeEncodecWithCqt_CodesAlignedToMertFramesAndCqtMatchesNnAudio()
    {
        using var dir = new Fixtures.TempDir();
        File.Copy(Path.Combine(Fixtures.Dir("encodec-tiny"), "input.wav"), dir["a.wav"]);
        // The CQT golden's waveform as a float32 WAV (exact), so both goldens are checked in one run.
        AudioFile.WriteWav(dir["b.wav"], SafeTensors.LoadTensor(Path.Combine(Fixtures.Dir("cqt"), "cqt-2s.safetensors"), "waveform").data<float>().ToArray(), 24000);
        var rc = CliApp.Run(["tokenize", "--teacher", "encodec:" + Fixtures.Dir("encodec-tiny"), "--cqt", "--out", dir["o"], dir["a.wav"], dir["b.wav"]]);
        Assert.Equal(0, rc);

        // a.wav: 1.5 s = 36000 samples → MERT frames floor((36000 − 400)/320) + 1 = 112; EnCodec gives ceil(36000/320) = 113.
        var codes = SafeTensors.LoadTensor(dir["o/a.safetensors"], "codes");
        Assert.Equal(ScalarType.Int64, codes.dtype);
        Assert.Equal(new long[] { 8, 112 }, codes.shape);
        var expected = SafeTensors.LoadTensor(Path.Combine(Fixtures.Dir("encodec-tiny"), "expected.safetensors"), "codes")[.., ..112];
        var agree = codes.eq(expected).to(ScalarType.Float64).mean().item<double>();
        Assert.True(agree >= 0.995, $"codes agree in {agree:P2} of positions");
        var meta = SafeTensors.ReadHeader(dir["o/a.safetensors"]).Metadata;
        Assert.Equal("8", meta["codebooks"]);
        Assert.Equal("1024", meta["codebook_size"]);
        Assert.Equal("112", meta["frames"]);

        // b.wav: 2 s → CQT (336, floor(48000/320) + 1 = 151) within 1e-3 of the maximum of nnAudio's.
        var cqt = SafeTensors.LoadTensor(dir["o/b.safetensors"], "cqt");
        var golden = SafeTensors.LoadTensor(Path.Combine(Fixtures.Dir("cqt"), "cqt-2s.safetensors"), "cqt");
        Assert.Equal(golden.shape, cqt.shape);
        Assert.True(Fixtures.MaxAbsDiff(cqt, golden) / golden.abs().max().item<float>() < 1e-3);

        var index = Manifest.ReadIndex(dir["o/index.csv"]);
        Assert.Equal(112, index.Single(r => r.Path.EndsWith("a.wav")).Chunks);
        Assert.StartsWith("path,output,duration_s,frames,status,error", File.ReadAllText(dir["o/index.csv"]));

        // A rerun with the same teacher skips; with another bandwidth (other provenance) it refuses to reuse.
        Assert.Equal(0, CliApp.Run(["tokenize", "--teacher", "encodec:" + Fixtures.Dir("encodec-tiny"), "--cqt", "--out", dir["o"], dir["a.wav"]]));
        Assert.Equal("skipped", Manifest.ReadIndex(dir["o/index.csv"]).Single(r => r.Path.EndsWith("a.wav")).Status);
        Assert.Equal(1, CliApp.Run(["tokenize", "--teacher", "encodec:" + Fixtures.Dir("encodec-tiny"), "--bandwidth", "3", "--cqt", "--out", dir["o"], dir["a.wav"]]));
    }

    [Fact]
    public void Cli_Tokenize_BadTeacherSpec_ExitCode2()
    {
        using var dir = new Fixtures.TempDir();
        Assert.Equal(2, CliApp.Run(["tokenize", "--teacher", "mystery:x", "--out", dir["o"], Path.Combine(Fixtures.Dir("mert-tiny"), "input.wav")]));
    }
}
