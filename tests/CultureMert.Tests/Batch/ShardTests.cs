using CultureMert.Batch;
using CultureMert.Cli;
using CultureMert.IO;

namespace CultureMert.Tests.Batch;

/// <summary>Shard parsing, detection from a launcher's environment (as a lookup, not the process's), ownership and index merge.</summary>
public class ShardTests
{
    [Theory]
    [InlineData("0/1", 0, 1)]
    [InlineData("2/3", 2, 3)]
    public void Parse_Valid_GivesShard(string text, int i, int n) => Assert.Equal(new Shard(i, n), Shard.Parse(text));

    [Theory]
    [InlineData("3/3")]                                                       // 1-based by mistake
    [InlineData("-1/3")]
    [InlineData("0/0")]
    [InlineData("1of3")]
    [InlineData("a/3")]
    public void Parse_Invalid_ThrowsNamingTheZeroBase(string text)
    {
        var e = Assert.Throws<ArgumentException>(() => Shard.Parse(text));
        Assert.Contains("--shard", e.Message);
        Assert.Contains("from 0", e.Message);
    }

    static Func<string, string?> Env(params (string Name, string Value)[] vars) => name => vars.FirstOrDefault(v => v.Name == name).Value;

    [Fact]
    public void Detect_Launchers_GiveZeroBasedShard()
    {
        Assert.Null(Shard.Detect(Env()));
        Assert.Equal(new Shard(2, 4), Shard.Detect(Env(("OMPI_COMM_WORLD_RANK", "2"), ("OMPI_COMM_WORLD_SIZE", "4")))!.Value.Shard);
        Assert.Equal(new Shard(1, 3), Shard.Detect(Env(("PMI_RANK", "1"), ("PMI_SIZE", "3")))!.Value.Shard);
        // --array=1-3: ids 1, 2, 3 → shards 0, 1, 2; --array=0-20:10 → ids 0, 10, 20.
        Assert.Equal(new Shard(0, 3), Shard.Detect(Env(("SLURM_ARRAY_TASK_ID", "1"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "3")))!.Value.Shard);
        Assert.Equal(new Shard(2, 3), Shard.Detect(Env(("SLURM_ARRAY_TASK_ID", "20"), ("SLURM_ARRAY_TASK_MIN", "0"), ("SLURM_ARRAY_TASK_STEP", "10"), ("SLURM_ARRAY_TASK_COUNT", "3")))!.Value.Shard);
        Assert.Equal(new Shard(3, 5), Shard.Detect(Env(("JOB_COMPLETION_INDEX", "3"), ("CULTUREMERT_SHARD_COUNT", "5")))!.Value.Shard);
        // MPI comes first; an MPI world of one (srun of one task) leaves it to the array.
        Assert.Equal(new Shard(1, 2), Shard.Detect(Env(("PMI_RANK", "1"), ("PMI_SIZE", "2"), ("SLURM_ARRAY_TASK_ID", "0"), ("SLURM_ARRAY_TASK_COUNT", "4")))!.Value.Shard);
        Assert.Equal(new Shard(3, 4), Shard.Detect(Env(("PMI_RANK", "0"), ("PMI_SIZE", "1"), ("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_COUNT", "4")))!.Value.Shard);
    }

    [Theory]
    [InlineData("JOB_COMPLETION_INDEX", "1", "", "", "CULTUREMERT_SHARD_COUNT")]         // Kubernetes without the count
    [InlineData("SLURM_ARRAY_TASK_ID", "7", "SLURM_ARRAY_TASK_COUNT", "3", "evenly spaced")] // --array=1,3,7
    [InlineData("PMI_RANK", "0", "", "", "PMI_SIZE")]
    [InlineData("OMPI_COMM_WORLD_RANK", "x", "", "", "not an integer")]
    [InlineData("JOB_COMPLETION_INDEX", "4", "CULTUREMERT_SHARD_COUNT", "4", "from 0")]
    public void Detect_Inconsistent_ThrowsWithTheFix(string name, string value, string name2, string value2, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => Shard.Detect(Env((name, value), (name2, value2))));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Owns_EveryTaskExactlyOnce_IndependentOfOtherFiles()
    {
        var tasks = Enumerable.Range(0, 200).Select(i => new BatchTask($"/x/{i}.wav", $"/o/{i}.safetensors", $"d{i % 7}/{i}.safetensors")).ToList();
        var shards = Enumerable.Range(0, 3).Select(i => new Shard(i, 3)).ToList();
        Assert.All(tasks, t => Assert.Single(shards, s => s.Owns(t)));
        Assert.All(shards, s => Assert.InRange(s.Select(tasks).Count, 40, 95));  // 200/3 ± a hash's spread
        // A file's shard depends on its relative output only: not on the plan around it, nor on the path separator.
        Assert.Equal(shards.Single(s => s.Owns(tasks[5])), shards.Single(s => s.Owns(tasks[5] with { Path = "/elsewhere.wav", RelativeOutput = @"d5\5.safetensors" })));
        Assert.All(tasks, t => Assert.True(Shard.Whole.Owns(t)));
    }

    static void WriteShardIndex(string dir, int i, int n, params string[] files) =>
        Manifest.WriteIndex(Path.Combine(dir, new Shard(i, n).IndexFile), "chunks",
            files.Select(f => new IndexRow($"/music/{f}.wav", $"{f}.safetensors", 1.5, 1, "ok", "")));

    [Fact]
    public void Merge_AllShards_WritesOneSortedIndexKeepingOtherRows()
    {
        using var dir = new Fixtures.TempDir();
        Manifest.WriteIndex(dir["index.csv"], "chunks", [new IndexRow("/music/a.wav", "a.safetensors", 9, 9, "error", "stale"), new IndexRow("/old/z.wav", "z.safetensors", 2, 1, "ok", "")]);
        WriteShardIndex(dir.Path, 0, 3, "c", "a");
        WriteShardIndex(dir.Path, 1, 3);                                      // a shard that got no files
        WriteShardIndex(dir.Path, 2, 3, "b");
        Assert.Equal(0, CliApp.Run(["index", "merge", "--out", dir.Path]));
        var rows = Manifest.ReadIndex(dir["index.csv"]);
        Assert.Equal(["/music/a.wav", "/music/b.wav", "/music/c.wav", "/old/z.wav"], rows.Select(r => r.Path));
        Assert.Equal("ok", rows[0].Status);                                   // the shard's row replaces the earlier one
    }

    [Theory]
    [InlineData("index.shard-0-of-99999999999.csv", "path,output,duration_s,chunks,status,error\n", "shard 0 of 99999999999")]
    [InlineData("index.shard-3-of-2.csv", "path,output,duration_s,chunks,status,error\n", "shard 3 of 2")]
    [InlineData("index.shard-0-of-1.csv", "", "not an index written by culturemert")]
    public void Merge_ImpossibleOrEmptyShardIndex_NamesTheFile_ExitCode3(string name, string text, string expected)
    {
        using var dir = new Fixtures.TempDir();
        File.WriteAllText(dir[name], text);
        var (code, err) = Merging.MergeFixtures.Run("index", "merge", "--out", dir.Path);
        Assert.True(code == 3, err);
        Assert.Contains(dir[name], err);
        Assert.Contains(expected, err);
    }

    [Fact]
    public void Merge_MissingShard_NamesItsIndexAndShard()
    {
        using var dir = new Fixtures.TempDir();
        WriteShardIndex(dir.Path, 0, 4, "a");
        WriteShardIndex(dir.Path, 2, 4, "b");
        var e = Assert.Throws<InvalidDataException>(() => ShardIndex.Merge(dir.Path));
        Assert.Contains("2 of 4 shards have no index yet: index.shard-1-of-4.csv, index.shard-3-of-4.csv", e.Message);
        Assert.Contains("shard(s) 1, 3 of 4", e.Message);
        Assert.False(File.Exists(dir["index.csv"]));
        Assert.Equal(3, CliApp.Run(["index", "merge", "--out", dir.Path]));
    }

    [Fact]
    public void Merge_OverlappingOrMixedShards_Refused()
    {
        using var dir = new Fixtures.TempDir();
        WriteShardIndex(dir.Path, 0, 2, "a", "b");
        WriteShardIndex(dir.Path, 1, 2, "b");
        var e = Assert.Throws<InvalidDataException>(() => ShardIndex.Merge(dir.Path));
        Assert.Contains("/music/b.wav is listed by both index.shard-0-of-2.csv and index.shard-1-of-2.csv", e.Message);
        WriteShardIndex(dir.Path, 1, 2, "c");
        WriteShardIndex(dir.Path, 0, 3, "d");                                 // a stale shard index of an earlier run with N = 3
        Assert.Contains("different runs (N = 2, N = 3)", Assert.Throws<InvalidDataException>(() => ShardIndex.Merge(dir.Path)).Message);
        Assert.Contains("no shard indexes", Assert.Throws<InvalidDataException>(() => ShardIndex.Merge(dir["empty"])).Message);
        Assert.False(File.Exists(dir["index.csv"]));
    }

    [Fact]
    public void CleanStale_TemporaryOfAnotherMachine_IsLeftAlone()
    {
        // Shards on other nodes write into the same folder; their pids mean nothing here.
        using var dir = new Fixtures.TempDir();
        var foreign = dir[".cmtmp.999999@00000000.0123456789ab.tmp"];
        File.WriteAllText(foreign, "being written on another node");
        using (var pending = AtomicFile.Create(dir["mine.bin"]))
        {
            var own = Directory.EnumerateFiles(dir.Path, ".cmtmp.*").Single(f => f != foreign);
            Assert.Contains($".{Environment.ProcessId}@", own);
            Assert.Equal(0, AtomicFile.CleanStale(dir.Path));                 // ours is running, the other is not ours to judge
        }
        Assert.True(File.Exists(foreign));
    }
}
