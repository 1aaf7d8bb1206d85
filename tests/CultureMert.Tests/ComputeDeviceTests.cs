using TorchSharp;
using static TorchSharp.torch;

namespace CultureMert.Tests;

/// <summary>The <c>--device</c> spelling and what this build can run: CUDA is refused with how to get it, never attempted.</summary>
public class ComputeDeviceTests
{
    [Theory]
    [InlineData("cpu")]
    [InlineData("CPU")]
    [InlineData(" Cpu ")]
    public void Parse_CpuInAnyCase_IsTheCpu(string spec) => Assert.Equal(DeviceType.CPU, ComputeDevice.Parse(spec).type);

    [Theory]
    [InlineData("gpu")]
    [InlineData("")]
    [InlineData("cuda:")]
    [InlineData("cuda:-1")]
    [InlineData("cuda:x")]
    [InlineData("cuda0")]
    [InlineData("cpu:0")]
    [InlineData("mps")]
    public void Parse_Junk_IsRefusedNamingTheValueAndTheAcceptedForms(string spec)
    {
        var e = Assert.Throws<ArgumentException>(() => ComputeDevice.Parse(spec));
        Assert.Contains($"device \"{spec}\"", e.Message);
        Assert.Contains("expected cpu, cuda or cuda:N", e.Message);
    }

    /// <summary>
    /// A CPU-only build (this project's default, and every build without a usable GPU) refuses CUDA, saying which libtorch
    /// it has and how to build the CUDA one; where a GPU is usable, the same spellings give its first device.
    /// </summary>
    [Theory]
    [InlineData("cuda")]
    [InlineData("cuda:0")]
    [InlineData("CUDA:0")]
    public void Parse_Cuda_IsRefusedWithHowToBuildTheCudaVariantUnlessAGpuIsUsable(string spec)
    {
        if (cuda.is_available())
        {
            var gpu = ComputeDevice.Parse(spec);
            Assert.Equal((DeviceType.CUDA, 0), (gpu.type, gpu.index));
            return;
        }
        var e = Assert.Throws<ArgumentException>(() => ComputeDevice.Parse(spec));
        Assert.Contains($"device \"{spec}\"", e.Message);
        Assert.Contains($"TorchBackend={ComputeDevice.Backend}", e.Message);
        Assert.Contains("docs/gpu.md", e.Message);
        if (ComputeDevice.Backend == "cpu") Assert.Contains("dotnet build -c Release -p:TorchBackend=cuda", e.Message);
    }

    [Fact]
    public void Parse_CudaIndexPastTheLastGpu_IsRefused()
    {
        var count = cuda.is_available() ? cuda.device_count() : 0;
        var e = Assert.Throws<ArgumentException>(() => ComputeDevice.Parse($"cuda:{count}"));
        Assert.Contains(count == 0 ? "TorchBackend" : $"this machine has {count} CUDA device", e.Message);
    }

    /// <summary>The backend the assembly reports is the TorchSharp package the build actually references (MSBuild wiring).</summary>
    [Fact]
    public void Backend_IsTheTorchSharpPackageOfThisBuild()
    {
        var deps = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "CultureMert.Tests.deps.json"));
        Assert.Contains(ComputeDevice.Backend == "cuda" ? "\"TorchSharp-cuda-linux/" : "\"TorchSharp-cpu/", deps);
    }

    [Fact]
    public void Of_IsTheDeviceOfTheModulesParameters()
    {
        using var linear = nn.Linear(2, 3);
        Assert.Equal(DeviceType.CPU, ComputeDevice.Of(linear).type);
        using var relu = nn.ReLU();
        Assert.Equal(DeviceType.CPU, ComputeDevice.Of(relu).type);                // no parameters: the CPU
    }

    [Fact]
    public void DrawOnHost_OnTheCpu_DrawsStraightIntoTheTarget()
    {
        using var target = zeros(1000);
        using (var g = new Generator(7)) ComputeDevice.DrawOnHost(target, t => t.uniform_(-1, 1, generator: g));
        using var direct = zeros(1000);
        using (var g = new Generator(7)) direct.uniform_(-1, 1, generator: g);
        Assert.True(target.eq(direct).all().item<bool>());
        Assert.True(target.abs().max().item<float>() > 0.9);                     // really drawn, not left at zero
    }
}
