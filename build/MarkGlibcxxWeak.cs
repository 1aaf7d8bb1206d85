#nullable enable
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

/// <summary>
/// Copies an ELF64 shared library and marks one symbol-version requirement weak (VER_FLG_WEAK in its .gnu.version_r),
/// after checking that the version is required by exactly the one expected symbol. See WeakGlibcxx.targets for why.
/// Written by hand: no .NET library edits ELF version records, and binutils cannot flip this flag.
/// </summary>
public class MarkGlibcxxWeak : Task
{
    [Required] public string Source { get; set; } = "";
    [Required] public string Destination { get; set; } = "";
    [Required] public string Version { get; set; } = "";
    [Required] public string Symbol { get; set; } = "";

    const uint ShtDynsym = 11, ShtVerneed = 0x6ffffffe, ShtVersym = 0x6fffffff;
    const ushort VerFlgWeak = 0x2;

    public override bool Execute()
    {
        if (File.Exists(Destination) && File.GetLastWriteTimeUtc(Destination) >= File.GetLastWriteTimeUtc(Source)) return true;
        var elf = File.ReadAllBytes(Source);
        string? error = Patch(elf);
        if (error is not null)
        {
            Log.LogError($"{Source}: {error} The build marks {Version} weak in TorchSharp's native library so that it loads with the " +
                         "system's own libstdc++ (build/WeakGlibcxx.targets); this library no longer fits that reasoning: check what it needs now.");
            return false;
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Destination)!);
        File.WriteAllBytes(Destination, elf);
        Log.LogMessage(MessageImportance.Low, $"{Destination}: {Version} (needed only by {Symbol}) marked weak.");
        return true;
    }

    /// <summary>Sets the flag in place; returns why it cannot, or null.</summary>
    string? Patch(byte[] b)
    {
        if (b.Length < 64 || b[0] != 0x7f || b[1] != (byte)'E' || b[2] != (byte)'L' || b[3] != (byte)'F' || b[4] != 2 || b[5] != 1)
            return "not a little-endian 64-bit ELF file.";
        long shoff = BitConverter.ToInt64(b, 0x28);
        int shentsize = BitConverter.ToUInt16(b, 0x3A), shnum = BitConverter.ToUInt16(b, 0x3C);
        (uint Type, long Offset, long Size, int Link, long EntSize, int Info) Section(int i)
        {
            long o = shoff + (long)i * shentsize;
            return (BitConverter.ToUInt32(b, (int)o + 4), BitConverter.ToInt64(b, (int)o + 24), BitConverter.ToInt64(b, (int)o + 32),
                    (int)BitConverter.ToUInt32(b, (int)o + 40), BitConverter.ToInt64(b, (int)o + 56), (int)BitConverter.ToUInt32(b, (int)o + 44));
        }
        string Str(long table, long at) { int s = (int)(table + at), e = Array.IndexOf(b, (byte)0, s); return Encoding.ASCII.GetString(b, s, e - s); }

        int? verneed = null, dynsym = null, versym = null;
        for (int i = 0; i < shnum; i++)
            switch (Section(i).Type) { case ShtVerneed: verneed = i; break; case ShtDynsym: dynsym = i; break; case ShtVersym: versym = i; break; }
        if (verneed is null || dynsym is null || versym is null) return "no symbol-version sections.";

        // The requirement: a Vernaux entry (hash u32, flags u16, other u16, name u32, next u32) named Version.
        var need = Section(verneed.Value);
        long needStr = Section(need.Link).Offset, entry = need.Offset, aux = -1;
        for (int n = 0; n < need.Info; n++)
        {
            int count = BitConverter.ToUInt16(b, (int)entry + 2);
            long a = entry + BitConverter.ToUInt32(b, (int)entry + 8);
            for (int k = 0; k < count; k++)
            {
                if (Str(needStr, BitConverter.ToUInt32(b, (int)a + 8)) == Version) aux = a;
                a += BitConverter.ToUInt32(b, (int)a + 12);
            }
            entry += BitConverter.ToUInt32(b, (int)entry + 12);
        }
        if (aux < 0) return $"it does not require {Version} any more.";
        int index = BitConverter.ToUInt16(b, (int)aux + 6);

        // Which dynamic symbols are bound to that version index: it must be the marker alone.
        var syms = Section(dynsym.Value);
        long symStr = Section(syms.Link).Offset, vs = Section(versym.Value).Offset;
        var users = new System.Collections.Generic.List<string>();
        for (long i = 0; i < syms.Size / syms.EntSize; i++)
            if ((BitConverter.ToUInt16(b, (int)(vs + 2 * i)) & 0x7fff) == index)
                users.Add(Str(symStr, BitConverter.ToUInt32(b, (int)(syms.Offset + i * syms.EntSize))));
        if (users.Count != 1 || users[0] != Symbol)
            return $"{Version} is required by {string.Join(", ", users)}, not by {Symbol} alone.";

        ushort flags = BitConverter.ToUInt16(b, (int)aux + 4);
        BitConverter.GetBytes((ushort)(flags | VerFlgWeak)).CopyTo(b, (int)aux + 4);
        return null;
    }
}
