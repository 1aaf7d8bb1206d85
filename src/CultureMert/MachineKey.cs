using static TorchSharp.torch;

namespace CultureMert;

/// <summary>
/// What a measured choice (a convolution algorithm, a batch size) depends on besides the shape: the CPU model and the
/// instruction sets libtorch picks kernels by, the libtorch version and the number of threads. Two machines with the
/// same key run the same kernels at about the same speed.
/// </summary>
public static class MachineKey
{
    static readonly Lazy<string> Cpu = new(ReadCpu);

    /// <summary>For example <c>AMD EPYC 9R14 [avx2 avx512f avx512_bf16] | libtorch 2.10.0 | 2 threads</c>.</summary>
    public static string Current => $"{Cpu.Value} | libtorch {__version__} | {get_num_threads()} threads";

    static string ReadCpu()
    {
        const string cpuinfo = "/proc/cpuinfo";
        string model = "unknown CPU", flags = "";
        try
        {
            if (File.Exists(cpuinfo))
                foreach (var line in File.ReadLines(cpuinfo))
                {
                    if (line.StartsWith("model name") && model == "unknown CPU") model = line[(line.IndexOf(':') + 1)..].Trim();
                    else if (line.StartsWith("flags") && flags == "") flags = line[(line.IndexOf(':') + 1)..];
                    if (model != "unknown CPU" && flags != "") break;
                }
        }
        catch (IOException) { }
        // The ISAs libtorch and oneDNN dispatch on: the same model name can hide a VM that masks AVX-512.
        var isa = flags.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                       .Where(f => f is "avx2" or "fma" or "avx512f" or "avx512_bf16" or "avx512_vnni" or "amx_tile" or "amx_bf16")
                       .Order();
        return $"{model} [{string.Join(' ', isa)}]";
    }
}
