using System.Text;
using System.Text.RegularExpressions;

namespace CultureMert.Corpus.Datasets;

/// <summary>Reads a 1-D numpy <c>.npy</c> array of strings (<c>&lt;U</c>, <c>|S</c>) or integers as strings — enough for split lists.</summary>
public static partial class Npy
{
    public static List<string> ReadStrings(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 10 || bytes[0] != 0x93 || Encoding.ASCII.GetString(bytes, 1, 5) != "NUMPY")
            throw new InvalidDataException($"{path}: not a .npy file (no \\x93NUMPY magic).");
        var major = bytes[6];
        int headerLen = major == 1 ? BitConverter.ToUInt16(bytes, 8) : BitConverter.ToInt32(bytes, 8);
        var start = major == 1 ? 10 : 12;
        var header = Encoding.Latin1.GetString(bytes, start, headerLen);
        var descr = DescrRe().Match(header);
        var shape = ShapeRe().Match(header);
        if (!descr.Success || !shape.Success) throw new InvalidDataException($"{path}: unreadable .npy header: {header.Trim()}");
        if (header.Contains("'fortran_order': True")) throw new InvalidDataException($"{path}: Fortran-ordered arrays are not supported.");
        var dims = shape.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(int.Parse).ToArray();
        if (dims.Length != 1) throw new InvalidDataException($"{path}: expected a 1-D array, got shape ({shape.Groups[1].Value}).");
        var n = dims[0];
        var d = descr.Groups[1].Value;
        var data = start + headerLen;
        var result = new List<string>(n);
        var kind = d[1];
        var size = int.Parse(d[2..]);
        for (var i = 0; i < n; i++)
        {
            switch (kind)
            {
                case 'U':
                    var chars = new StringBuilder();
                    for (var c = 0; c < size; c++)
                    {
                        var cp = BitConverter.ToInt32(bytes, data + (i * size + c) * 4);
                        if (cp == 0) break;
                        chars.Append(char.ConvertFromUtf32(cp));
                    }
                    result.Add(chars.ToString()); break;
                case 'S':
                    var s = Encoding.UTF8.GetString(bytes, data + i * size, size);
                    result.Add(s.TrimEnd('\0')); break;
                case 'i' when size == 8: result.Add(BitConverter.ToInt64(bytes, data + i * 8).ToString()); break;
                case 'i' when size == 4: result.Add(BitConverter.ToInt32(bytes, data + i * 4).ToString()); break;
                default: throw new InvalidDataException($"{path}: dtype '{d}' is not supported (expected <U, |S, <i4 or <i8).");
            }
        }
        return result;
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([<|=][USi]\d+)'")] private static partial Regex DescrRe();
    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")] private static partial Regex ShapeRe();
}
