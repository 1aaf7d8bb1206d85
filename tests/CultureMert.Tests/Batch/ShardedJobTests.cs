using System.Diagnostics;
using CultureMert.Audio;
using CultureMert.Batch;
using CultureMert.Cli;

namespace CultureMert.Tests.Batch;

/// <summary>
/// The sharded batch commands against an unsharded run of the same inputs: three shards' outputs, merged, are the
/// single process's, byte for byte; and the deploy examples that launch them are at least well-formed.
/// </summary>
public class ShardedJobTests
{
    /// <summary>Seven 1 s clips in two folders plus one broken file; the names spread them over all three shards.</summary>
    internal static string WriteMusic(Fixtures.TempDir dir)
    {
        var music = dir["music"];
        Directory.CreateDirectory(Path.Combine(music, "sub"));
        string[] names = ["a.wav", "b.wav", "c.wav", "d.wav", "sub/e.wav", "sub/f.wav", "sub/g.wav"];
        for (var k = 0; k < names.Length; k++)
            AudioFile.WriteWav(Path.Combine(music, names[k]), Enumerable.Range(0, 24000).Select(i => (float)(0.3 * Math.Sin(i * (0.02 + 0.01 * k)))).ToArray(), 24000);
        File.WriteAllBytes(Path.Combine(music, "broken.wav"), "RIFF\x10\0\0\0WAVEjunk"u8.ToArray());
        return music;
    }

    internal static Dictionary<string, byte[]> Outputs(string dir) =>
        Directory.EnumerateFiles(dir, "*.safetensors", SearchOption.AllDirectories).ToDictionary(f => Path.GetRelativePath(dir, f), File.ReadAllBytes);

    static void AssertShardsEqualSingleRun(string[] command, string music, Fixtures.TempDir dir)
    {
        Assert.Equal(1, CliApp.Run([.. command, "--out", dir["single"], "--shard", "0/1", music]));   // broken.wav fails, the rest runs
        for (var i = 0; i < 3; i++)
        {
            CliApp.Run([.. command, "--out", dir["sharded"], "--shard", $"{i}/3", music]);
            Assert.NotEmpty(Manifest.ReadIndex(dir[$"sharded/index.shard-{i}-of-3.csv"]));       // every shard got files
        }
        Assert.False(File.Exists(dir["sharded/index.csv"]));
        Assert.Equal(0, CliApp.Run(["index", "merge", "--out", dir["sharded"]]));

        var (single, sharded) = (Outputs(dir["single"]), Outputs(dir["sharded"]));
        Assert.Equal(7, single.Count);
        Assert.Equal(single.Keys.Order(), sharded.Keys.Order());
        Assert.All(single, kv => Assert.True(kv.Value.AsSpan().SequenceEqual(sharded[kv.Key]), $"{kv.Key} differs"));
        Assert.Equal(Manifest.ReadIndex(dir["single/index.csv"]).OrderBy(r => r.Path, StringComparer.Ordinal),
                     Manifest.ReadIndex(dir["sharded/index.csv"]));

        // A shard run again resumes: its finished files are skipped, not rewritten.
        var a = dir["sharded/a.safetensors"];
        var stamp = File.GetLastWriteTimeUtc(a);
        var owner = Enumerable.Range(0, 3).Single(i => Manifest.ReadIndex(dir[$"sharded/index.shard-{i}-of-3.csv"]).Any(r => r.Output == "a.safetensors"));
        CliApp.Run([.. command, "--out", dir["sharded"], "--shard", $"{owner}/3", music]);
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(a));
        Assert.Equal("skipped", Manifest.ReadIndex(dir[$"sharded/index.shard-{owner}-of-3.csv"]).Single(r => r.Output == "a.safetensors").Status);
    }

    [Fact]
    public void Embed_ThreeShards_UnionEqualsSingleRunBitForBit()
    {
        using var dir = new Fixtures.TempDir();
        var music = WriteMusic(dir);
        AssertShardsEqualSingleRun(["embed", "--model", Fixtures.Dir("mert-tiny"), "--layers", "0,2", "--threads", "2"], music, dir);
    }

    [Fact]
    public void Tokenize_ThreeShards_UnionEqualsSingleRunBitForBit()
    {
        using var dir = new Fixtures.TempDir();
        var music = WriteMusic(dir);
        AssertShardsEqualSingleRun(["tokenize", "--teacher", "encodec:" + Fixtures.Dir("encodec-tiny"), "--cqt", "--threads", "2"], music, dir);
    }

    [Fact]
    public void Embed_ShardWithNoFiles_WritesAnEmptyIndex()
    {
        using var dir = new Fixtures.TempDir();
        File.Copy(Path.Combine(Fixtures.Dir("mert-tiny"), "input.wav"), dir["a.wav"]);
        var mine = Enumerable.Range(0, 2).Single(i => new Shard(i, 2).Select(BatchJob.Plan([dir["a.wav"]], dir["o"])).Count == 0);
        Assert.Equal(0, CliApp.Run(["embed", "--model", Fixtures.Dir("mert-tiny"), "--out", dir["o"], "--shard", $"{mine}/2", dir["a.wav"]]));
        Assert.Empty(Manifest.ReadIndex(dir[$"o/index.shard-{mine}-of-2.csv"]));
        Assert.True(File.Exists(dir[$"o/index.shard-{mine}-of-2.csv"]));
    }

    /// <summary>The Kubernetes manifest against the Kubernetes API's own types, offline: strict YAML (an unknown or
    /// misplaced field is an error), the fields the API requires, and the settings the sharding relies on.</summary>
    [Fact]
    public void KubernetesManifest_ValidatesAgainstTheApiTypes()
    {
        var text = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "deploy", "k8s", "embed-indexed-job.yaml"));
        var job = Assert.IsType<k8s.Models.V1Job>(Assert.Single(k8s.KubernetesYaml.LoadAllFromString(text, null, strict: true)));
        Assert.False(string.IsNullOrEmpty(job.Metadata?.Name));
        Assert.Equal("Indexed", job.Spec.CompletionMode);
        Assert.Equal("Never", job.Spec.Template.Spec.RestartPolicy);                   // podFailurePolicy requires it
        var container = Assert.Single(job.Spec.Template.Spec.Containers);
        Assert.All(new[] { container.Name, container.Image }, v => Assert.False(string.IsNullOrEmpty(v)));   // required by the API
        Assert.All(container.VolumeMounts, m => Assert.Contains(job.Spec.Template.Spec.Volumes, v => v.Name == m.Name));
        Assert.Equal(job.Spec.Completions.ToString(), container.Env.Single(e => e.Name == "CULTUREMERT_SHARD_COUNT").Value);
        var rule = Assert.Single(job.Spec.PodFailurePolicy.Rules);
        Assert.Equal(("FailJob", "embed", "In"), (rule.Action, rule.OnExitCodes.ContainerName, rule.OnExitCodes.OperatorProperty));
        Assert.Equal([2], rule.OnExitCodes.Values);

        // The check can fail: a misspelt field is refused.
        Assert.ThrowsAny<Exception>(() => k8s.KubernetesYaml.LoadAllFromString(text.Replace("completionMode:", "completionMod:"), null, strict: true));
    }

    [Fact]
    public void SlurmScript_PassesBashSyntaxCheck()
    {
        var script = Path.Combine(AppContext.BaseDirectory, "deploy", "slurm", "embed-array.sbatch");
        using var bash = Process.Start(new ProcessStartInfo("bash", ["-n", script]) { RedirectStandardError = true })!;
        var err = bash.StandardError.ReadToEnd();
        bash.WaitForExit();
        Assert.True(bash.ExitCode == 0, err);
        var text = File.ReadAllText(script);
        Assert.Contains("#SBATCH --array=0-7", text);
        Assert.Contains("index merge --out", text);
    }

    [Fact]
    public void KubernetesJob_IsIndexedAndTellsPodsItsCompletions()
    {
        // Not a YAML parser: the few keys the shards rely on, read as "key: value" lines of this hand-written file.
        var lines = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "deploy", "k8s", "embed-indexed-job.yaml"))
            .Select(l => l.Split('#')[0].TrimEnd()).Where(l => l.Trim().Length > 0).ToList();
        Assert.DoesNotContain(lines, l => l.Contains('\t'));                  // YAML forbids tab indentation
        string Value(string key) => lines.Select(l => l.Trim().TrimStart('-', ' ')).Single(l => l.StartsWith(key + ":"))[(key.Length + 1)..].Trim().Trim('"');
        Assert.Equal("batch/v1", Value("apiVersion"));
        Assert.Equal("Job", Value("kind"));
        Assert.Equal("Indexed", Value("completionMode"));
        var completions = Value("completions");
        var countVar = lines.FindIndex(l => l.Contains("name: CULTUREMERT_SHARD_COUNT"));
        Assert.True(countVar >= 0, "the pods need CULTUREMERT_SHARD_COUNT");
        Assert.Equal(completions, lines[countVar + 1].Trim().Replace("value:", "").Trim().Trim('"'));
        Assert.Contains(lines, l => l.Contains("culturemert embed"));
        Assert.DoesNotContain(lines, l => l.Contains("--shard"));              // the pods take their shard from JOB_COMPLETION_INDEX
    }
}
