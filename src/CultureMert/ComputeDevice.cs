using System.Globalization;
using System.Reflection;
using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert;

/// <summary>
/// Where tensors are computed: the <c>--device</c> spelling (<c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>) and the few rules
/// every device-agnostic path follows. Models are built and initialised on the CPU (seeded draws come from CPU
/// generators, so a seed means the same numbers everywhere) and then moved; data is read back to .NET only from CPU tensors.
/// </summary>
public static class ComputeDevice
{
    /// <summary>The libtorch this assembly was built against: <c>cpu</c> or <c>cuda</c> (the <c>TorchBackend</c> MSBuild property).</summary>
    public static string Backend { get; } =
        typeof(ComputeDevice).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "TorchBackend")?.Value ?? "cpu";

    /// <summary>
    /// Parses <c>cpu</c>, <c>cuda</c> (= <c>cuda:0</c>) or <c>cuda:N</c>, case-insensitive, and checks that the device exists
    /// here, so that a bad <c>--device</c> fails before any work instead of at the first tensor moved.
    /// </summary>
    /// <exception cref="ArgumentException">an unknown spelling, CUDA without a CUDA backend or GPU, or an index past the last GPU</exception>
    public static Device Parse(string spec)
    {
        var s = spec.Trim().ToLowerInvariant();
        if (s == "cpu") return CPU;
        int index;
        if (s == "cuda") index = 0;
        else if (!(s.StartsWith("cuda:") && int.TryParse(s["cuda:".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out index)))
            throw new ArgumentException($"device \"{spec}\": expected cpu, cuda or cuda:N (N = 0, 1, ...).");
        if (!cuda.is_available())
            throw new ArgumentException(Backend == "cuda"
                ? $"device \"{spec}\": this build uses CUDA libtorch (TorchBackend=cuda) but finds no usable GPU: check the NVIDIA driver (nvidia-smi); see docs/gpu.md."
                : $"device \"{spec}\": this build has no CUDA backend (TorchBackend=cpu, the CPU-only libtorch). Build the CUDA variant with " +
                  "`dotnet build -c Release -p:TorchBackend=cuda` (or CULTUREMERT_TORCH_BACKEND=cuda ./culturemert ...) on a machine with an NVIDIA GPU; see docs/gpu.md.");
        var count = cuda.device_count();
        if (index >= count)
            throw new ArgumentException($"device \"{spec}\": this machine has {count} CUDA device{(count == 1 ? "" : "s")} (cuda:0{(count > 1 ? $" to cuda:{count - 1}" : "")}).");
        return new Device(DeviceType.CUDA, index);
    }

    /// <summary>The device a module's parameters are on (the CPU for a module without parameters).</summary>
    public static Device Of(nn.Module module) => module.parameters().FirstOrDefault()?.device ?? CPU;

    /// <summary>
    /// Fills <paramref name="target"/> in place with <paramref name="draw"/> run on a CPU tensor, so that draws from a
    /// seeded CPU <see cref="Generator"/> give the same numbers on every device. A CPU target is drawn into directly.
    /// </summary>
    public static void DrawOnHost(Tensor target, Action<Tensor> draw)
    {
        if (target.device_type == DeviceType.CPU) { draw(target); return; }
        using var host = empty(target.shape, target.dtype);
        draw(host);
        target.copy_(host);
    }

    /// <summary>
    /// Whether this CPU multiplies bfloat16 natively (AVX-512 BF16 or AMX, from /proc/cpuinfo); elsewhere libtorch
    /// converts bf16 to float for every product and <c>--precision bf16</c> gains nothing. Null where it cannot tell.
    /// </summary>
    public static bool? CpuHasNativeBf16()
    {
        const string cpuinfo = "/proc/cpuinfo";
        if (!File.Exists(cpuinfo)) return null;
        var flags = File.ReadLines(cpuinfo).FirstOrDefault(l => l.StartsWith("flags"));
        return flags is null ? null : flags.Split(' ').Any(f => f is "avx512_bf16" or "amx_bf16");
    }
}
