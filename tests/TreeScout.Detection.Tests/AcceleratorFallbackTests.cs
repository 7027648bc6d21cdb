using Microsoft.Extensions.Logging.Abstractions;
using OpenCvSharp;
using TreeScout.Detection.Models;
using TreeScout.Hosting;
using TreeScout.Tests;

namespace TreeScout.Detection.Tests;

/// <summary>
/// Detection:Accelerator=Cuda on a node without a usable GPU — here, the CPU build of ONNX Runtime, which has no CUDA
/// provider — runs the models on the CPU with a warning instead of refusing to start; the results are the CPU's.
/// </summary>
[Trait("Category", "Unit")]
public sealed class AcceleratorFallbackTests
{
    [Fact]
    public void Cuda_asked_for_without_a_usable_gpu_runs_on_the_cpu_with_the_same_detections()
    {
        using var onCpu = BlossomPipeline.Open(TestModels.Options());
        using var askedCuda = BlossomPipeline.Open(TestModels.Options(o => o.Accelerator = InferenceAccelerator.Cuda));

        Assert.Equal(InferenceAccelerator.Cpu, onCpu.RunsOn);
        Assert.Null(onCpu.AcceleratorProblem);
        Assert.Equal(InferenceAccelerator.Cpu, askedCuda.RunsOn);
        Assert.StartsWith("CUDA device 0 not usable (", askedCuda.AcceleratorProblem);
        Assert.EndsWith("); running on the CPU", askedCuda.AcceleratorProblem);

        var frame = Directory.EnumerateFiles(Path.Combine(RepoPaths.Samples, "detector-heldout", "frames"), "*.jpg").Order(StringComparer.Ordinal).First();
        using var image = Cv2.ImRead(frame);
        var expected = Described(onCpu.Analyze(image).Detections);
        Assert.NotEmpty(expected);
        Assert.Equal(expected, Described(askedCuda.Analyze(image).Detections));
    }

    private static List<string> Described(IEnumerable<Contracts.BlossomDetection> detections) =>
        [.. detections.Select(d => $"{d.X} {d.Y} {d.W} {d.H} {d.Score} {d.Stage} {string.Join(",", d.StageProbabilities)}")];

    [Fact]
    public void The_worker_reports_the_fallback_as_a_warning_and_says_nothing_when_it_runs_where_asked()
    {
        var warnings = new WorkerWarnings();
        using (var models = new DetectionModels(warnings, NullLogger<DetectionModels>.Instance))
        {
            models.Open(TestModels.Options());
            Assert.Null(warnings.Find(DetectionModels.AcceleratorWarning));
        }
        using (var models = new DetectionModels(warnings, NullLogger<DetectionModels>.Instance))
        {
            models.Open(TestModels.Options(o => o.Accelerator = InferenceAccelerator.Cuda));
            Assert.Matches(@"^Detection asked for Cuda: CUDA device 0 not usable \(.+\); running on the CPU; frames per second drop accordingly$",
                warnings.Find(DetectionModels.AcceleratorWarning));
        }
    }
}
