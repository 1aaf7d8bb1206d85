using CultureMert.Embedding;

// Embeds audio held in memory — 10 s of a stereo 44.1 kHz tone — with a MERT model folder (MERT-v1, CultureMERT, …).
if (args.Length != 1) { Console.Error.WriteLine("usage: dotnet run -- MODEL_DIR"); return 2; }
using var mert = MertEmbedder.Load(args[0], new EmbedOptions { ChunkSeconds = 5 });
const int rate = 44100, channels = 2;
var samples = new float[rate * 10 * channels];
for (var i = 0; i < samples.Length; i++)
    samples[i] = 0.3f * MathF.Sin(2 * MathF.PI * 440 * (i / channels) / rate);
var e = mert.Embed(samples, rate, channels);                         // thread-safe; resampled to the model's rate
var last = e.Layers[^1];
Console.WriteLine($"{e.ChunkCount} chunks, layers {string.Join(",", e.Layers)}, {e.Hidden} values each");
Console.WriteLine($"layer {last}, first values: {string.Join(", ", e.Layer(last)[..4].Select(v => v.ToString("0.0000")))}");
return 0;
