using System.Text.Json;
using System.Text.Json.Nodes;

namespace CultureMert.IO;

/// <summary>
/// Choices measured on this machine (a convolution's algorithm, embed's batch size), kept in one small JSON file under
/// the user's cache folder so that the next process makes the same choice without measuring: a run resumed in a new
/// process computes with the same kernels as before. Layout: <c>{"machines": {MACHINE: {KEY: {...}}}}</c>.
/// </summary>
/// <remarks>
/// A missing, unreadable or corrupt file is an empty cache (corrupt: one warning on stderr); a file that cannot be
/// written is a warning too. Nothing here is ever fatal: the cost of a lost entry is one more measurement.
/// </remarks>
public sealed class TuningCache(string path)
{
    readonly object gate = new();
    int warned;

    public string Path => path;

    /// <summary>
    /// <c>$CULTUREMERT_CACHE_DIR</c>, else <c>$XDG_CACHE_HOME/culturemert</c>, else <c>~/.cache/culturemert</c>.
    /// </summary>
    public static string DefaultDirectory(Func<string, string?> env)
    {
        if (env("CULTUREMERT_CACHE_DIR") is { Length: > 0 } dir) return dir;
        var xdg = env("XDG_CACHE_HOME") is { Length: > 0 } x ? x
            : System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return System.IO.Path.Combine(xdg, "culturemert");
    }

    /// <summary>The entry stored for <paramref name="key"/> on <paramref name="machine"/>, or null.</summary>
    public JsonObject? Get(string machine, string key)
    {
        lock (gate)
            return Load()["machines"] is JsonObject machines && machines[machine] is JsonObject forMachine && forMachine[key] is JsonObject entry
                ? (JsonObject)entry.DeepClone() : null;
    }

    /// <summary>Stores an entry: re-reads the file (another process may have added entries), adds this one, renames into place.</summary>
    public void Set(string machine, string key, JsonObject entry)
    {
        lock (gate)
        {
            var root = Load();
            if (root["machines"] is not JsonObject machines) root["machines"] = machines = new JsonObject();
            if (machines[machine] is not JsonObject forMachine) machines[machine] = forMachine = new JsonObject();
            forMachine[key] = entry.DeepClone();
            try { AtomicFile.WriteText(path, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true })); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            { Warn($"warning: {path}: could not write the tuning cache ({e.Message}); the next process measures again."); }
        }
    }

    JsonObject Load()
    {
        if (!File.Exists(path)) return new JsonObject();
        try
        {
            var root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new JsonException("not a JSON object");
            return root["machines"] is null or JsonObject ? root : throw new JsonException("\"machines\" is not an object");
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            Warn($"warning: {path}: unreadable tuning cache ({e.Message}); ignored (it is rewritten with new measurements).");
            return new JsonObject();
        }
    }

    void Warn(string message)
    {
        if (Interlocked.Exchange(ref warned, 1) == 0) Console.Error.WriteLine(message);
    }
}
