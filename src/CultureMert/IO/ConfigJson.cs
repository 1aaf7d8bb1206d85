using System.Text.Json;
using System.Text.Json.Nodes;

namespace CultureMert.IO;

/// <summary>Reading Hugging Face <c>config.json</c> files: one JSON object, typed values, errors that name the file and key.</summary>
public static class ConfigJson
{
    public static JsonObject Read(string path)
    {
        try { return JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException("not a JSON object"); }
        catch (Exception e) when (e is JsonException or InvalidDataException)
        { throw new InvalidDataException($"{path}: not a valid config.json ({e.Message})."); }
    }

    static string Expected(Type t) => (Nullable.GetUnderlyingType(t) ?? t) switch
    {
        var x when x == typeof(bool) => "true or false",
        var x when x == typeof(string) => "a string",
        var x when x == typeof(int) || x == typeof(long) => "an integer",
        var x when x == typeof(double) || x == typeof(float) => "a number",
        var x when x.IsArray => "a list of " + Expected(x.GetElementType()!) + "s",
        var x => x.Name,
    };

    /// <summary>The value of <paramref name="key"/>, or <paramref name="fallback"/> when absent or null.</summary>
    public static T Get<T>(JsonObject json, string key, T fallback, string source)
    {
        if (!json.TryGetPropertyValue(key, out var node) || node is null) return fallback;
        try { return node.Deserialize<T>() ?? fallback; }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        { throw new InvalidDataException($"{source}: key \"{key}\" has an unexpected value {node.ToJsonString()} (expected {Expected(typeof(T))})."); }
    }
}
