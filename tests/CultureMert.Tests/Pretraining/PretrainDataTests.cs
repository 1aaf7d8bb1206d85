using CultureMert.Audio;
using CultureMert.Checkpoints;
using CultureMert.Cli;
using CultureMert.Corpus;
using CultureMert.Model;
using CultureMert.Pretraining;
using CultureMert.Teachers;
using static TorchSharp.torch;

namespace CultureMert.Tests.Pretraining;

public class PretrainDataTests
{
    /// <summary>Two manifest sources of 3 s clips (a: 2 files, b: 1 file) plus a 0.5 s clip in a, and a recipe over them.</summary>
    static Recipe Setup(Fixtures.TempDir dir, string targets, bool padShort = false, double crop = 1.0)
    {
        var piece = DemoAudio.Pieces.Single(p => p.Name == "western-major") with { Seconds = 3, SampleRate = 24000 };
        AudioFile.WriteWav(dir["audio/a1.wav"], DemoAudio.Render(piece, 1), 24000);
        AudioFile.WriteWav(dir["audio/a2.wav"], DemoAudio.Render(piece, 2), 24000);
        AudioFile.WriteWav(dir["audio/b1.wav"], DemoAudio.Render(piece with { TonicHz = 300 }, 3), 24000);
        AudioFile.WriteWav(dir["audio/short.wav"], DemoAudio.Render(piece with { Seconds = 0.5 }, 4), 24000);
        File.WriteAllText(dir["a.csv"], "path\naudio/a1.wav\naudio/a2.wav\naudio/short.wav\n");
        File.WriteAllText(dir["b.csv"], "path\naudio/b1.wav\n");
        File.WriteAllText(dir["r.json"], $$"""
            { "base": "init:tiny", "targets": {{targets}}, "pad_short": {{(padShort ? "true" : "false")}}, "crop_seconds": {{crop.ToString(System.Globalization.CultureInfo.InvariantCulture)}},
              "sources": { "a": { "manifest": "a.csv" }, "b": { "manifest": "b.csv" } },
              "stages": [ { "steps": 1, "peak_lr": 1e-3, "mix": { "a": 0.75, "b": 0.25 } } ] }
            """);
        return Recipe.Load(dir["r.json"]);
    }

    [Fact]
    public void Draw_FromATokenizeCache_SlicesTheFilesCodesAtRoundStartOver320_AndTakesTheCqtOfTheCrop()
    {
        using var dir = new Fixtures.TempDir();
        var recipe = Setup(dir, "{ \"cache\": \"tok\" }");
        Assert.Equal(0, CliApp.Run(["teacher", "fit-kmeans", "--k", "6", "--out", dir["km.safetensors"], dir["audio"]]));
        Assert.Equal(0, CliApp.Run(["tokenize", "--teacher", "kmeans:" + dir["km.safetensors"], "--cqt", "--out", dir["tok"], dir["audio"]]));
        var warnings = new List<string>();
        var files = PretrainData.Scan(recipe, dir["data"], warnings.Add);
        Assert.Single(warnings, w => w.Contains("short.wav") && w.Contains("shorter than one crop"));
        Assert.Equal((2, 1), (files["a"].Count, files["b"].Count));

        var config = MertConfig.Preset("tiny");
        using var data = new PretrainData(config, new PreprocessorConfig(false, 24000), files, recipe.CropSeconds, false, null, 1, 6);
        using var batch = data.Draw(recipe.Stages[0].Mix, 16, new Random(5));
        using var cqtOf = new MertCqt();
        var T = (int)config.FrameCount(24000);
        var checkedContext = 0;
        Assert.Equal(new long[] { 16, 24000 }, batch.Audio.shape);
        Assert.Equal(new long[] { 16, T, 1 }, batch.Codes.shape);
        Assert.Equal(new long[] { 16, T, 336 }, batch.Cqt.shape);
        Assert.True(batch.Valid.all().item<bool>());
        for (var b = 0; b < 16; b++)
        {
            var (file, start) = batch.Crops[b];
            var source = AudioFile.ReadMono(file.Path, 24000);
            Assert.Equal(source.AsSpan(start, 24000).ToArray(), batch.Audio[b].data<float>().ToArray());
            var offset = (int)Math.Round(start / 320.0, MidpointRounding.ToEven);
            var cache = dir[$"tok/{Path.GetFileNameWithoutExtension(file.Path)}.safetensors"];
            var codes = SafeTensors.LoadTensor(cache, "codes");                       // (1, frames)
            Assert.Equal(codes[.., offset..(offset + T)].t().data<long>().ToArray(), batch.Codes[b].data<long>().ToArray());
            // MERT's CQT target is that of the crop as fed (spec/mert.md §5): zeros before the crop, not the file's audio.
            var crop = cqtOf.Transform(tensor(source.AsSpan(start, 24000).ToArray()));   // (336, 76)
            Assert.Equal(0.0, Fixtures.MaxAbsDiff(batch.Cqt[b], crop[.., ..T].t()));
            if (start >= 24000)
            {
                // The same frames computed with 1 s of the file before the crop (frame 75 of that is crop frame 0): the
                // low bins' long kernels reach into that second at the crop's first frame, the high bins' short ones not.
                var withContext = cqtOf.Transform(tensor(source.AsSpan(start - 24000, 48000).ToArray()));   // (336, 151)
                Assert.True(Fixtures.MaxAbsDiff(batch.Cqt[b][0, ..48], withContext[..48, 75]) > 1e-3);
                Assert.True(Fixtures.MaxAbsDiff(batch.Cqt[b][T / 2, 300..], withContext[300.., 75 + T / 2]) < 1e-4);
                checkedContext++;
            }
        }
        Assert.True(checkedContext > 0);
    }

    [Fact]
    public void Draw_ManyCrops_HitsTheMixAndSpreadsOverFilesByLength()
    {
        using var dir = new Fixtures.TempDir();
        var recipe = Setup(dir, "{ \"teacher\": \"kmeans:km.safetensors\" }", crop: 0.5);
        Assert.Equal(0, CliApp.Run(["teacher", "fit-kmeans", "--k", "4", "--out", dir["km.safetensors"], dir["audio"]]));
        using var teacher = KMeansTeacher.Load(dir["km.safetensors"]);
        var files = PretrainData.Scan(recipe, dir["data"], _ => { });
        Assert.Equal(3, files["a"].Count);                                            // 0.5 s clip = one crop: kept
        using var data = new PretrainData(MertConfig.Preset("tiny"), new PreprocessorConfig(false, 24000), files, recipe.CropSeconds, false, teacher, 1, 4);
        using var batch = data.Draw(new Dictionary<string, double> { ["a"] = 0.75, ["b"] = 0.25 }, 800, new Random(9));
        var fromA = batch.Crops.Count(c => c.File.Source == "a");
        Assert.InRange(fromA, 600 - 4 * 12.25, 600 + 4 * 12.25);                     // binomial(800, 0.75): σ ≈ 12.2
        Assert.Equal(fromA * 0.5, batch.Seconds["a"], 9);
        // Within a: files drawn in proportion to length, 3 : 3 : 0.5 s.
        var shortShare = batch.Crops.Count(c => c.File.Path.EndsWith("short.wav")) / (double)fromA;
        Assert.InRange(shortShare, 0.5 / 6.5 - 0.04, 0.5 / 6.5 + 0.04);
        Assert.All(batch.Crops, c => Assert.InRange(c.Start, 0, c.File.Samples - 12000));
    }

    [Fact]
    public void Draw_EncodecTeacherOnTheFly_GivesTheWholeFilesCodesAtTheCrop_AndTheCropsCqt()
    {
        using var dir = new Fixtures.TempDir();
        var encodec = Fixtures.Dir("encodec-tiny");
        var recipe = Setup(dir, $"{{ \"teacher\": \"encodec:{encodec}\" }}");
        using var teacher = Teacher.Open(recipe.Targets.Teacher!);
        Assert.True(teacher.Codebooks > 1);
        var files = PretrainData.Scan(recipe, dir["data"], _ => { });
        var config = MertConfig.Preset("tiny");
        using var data = new PretrainData(config, new PreprocessorConfig(false, 24000), files, recipe.CropSeconds, false, teacher, teacher.Codebooks, teacher.CodebookSize);
        using var batch = data.Draw(recipe.Stages[0].Mix, 6, new Random(3));
        using var cqt = new MertCqt();
        var T = (int)config.FrameCount(24000);
        for (var b = 0; b < 6; b++)
        {
            var (file, start) = batch.Crops[b];
            var wave = tensor(AudioFile.ReadMono(file.Path, 24000));
            var offset = (int)Math.Round(start / 320.0, MidpointRounding.ToEven);
            var codes = teacher.Encode(wave);                                              // (n_q, frames) of the whole file
            Assert.Equal(codes[.., offset..(offset + T)].t().data<long>().ToArray(), batch.Codes[b].data<long>().ToArray());
            Assert.Equal(0.0, Fixtures.MaxAbsDiff(batch.Cqt[b], cqt.Transform(wave[start..(start + 24000)])[.., ..T].t()));
        }
    }

    [Fact]
    public void Draw_ShortFileWithPadShort_ZeroPadsAndMarksThePaddingInvalid()
    {
        using var dir = new Fixtures.TempDir();
        var recipe = Setup(dir, "{ \"teacher\": \"kmeans:km.safetensors\" }", padShort: true);
        Assert.Equal(0, CliApp.Run(["teacher", "fit-kmeans", "--k", "4", "--out", dir["km.safetensors"], dir["audio"]]));
        using var teacher = KMeansTeacher.Load(dir["km.safetensors"]);
        var files = PretrainData.Scan(recipe, dir["data"], _ => { });
        var onlyShort = new Dictionary<string, List<TrainingFile>> { ["a"] = files["a"].Where(f => f.Path.EndsWith("short.wav")).ToList() };
        var config = MertConfig.Preset("tiny");
        using var data = new PretrainData(config, new PreprocessorConfig(false, 24000), onlyShort, 1.0, true, teacher, 1, 4);
        using var batch = data.Draw(new Dictionary<string, double> { ["a"] = 1 }, 2, new Random(1));
        var valid = batch.Valid[0].data<bool>().ToArray();
        Assert.Equal((int)config.FrameCount(12000), valid.Count(v => v));              // frames of the real 0.5 s only
        Assert.True(valid.TakeWhile(v => v).Count() == valid.Count(v => v));           // ... at the start
        Assert.All(batch.Audio[0][12000..].data<float>().ToArray(), v => Assert.Equal(0f, v));
        Assert.Equal(0.5, batch.Seconds["a"] / 2, 9);
    }
}
