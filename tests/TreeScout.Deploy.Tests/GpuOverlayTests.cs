using k8s.Models;
using TreeScout.Deploy.Tests.Support;

namespace TreeScout.Deploy.Tests;

/// <summary>
/// The tractor-gpu overlay is the tractor overlay with detection on the node's NVIDIA GPU: the GPU image of the same
/// release, the GPU resource, the NVIDIA runtime class, Detection:Accelerator=Cuda with the fp32 models; nothing else differs.
/// </summary>
[Trait("Category", "Integration")]
public sealed class GpuOverlayTests
{
    [Fact]
    public async Task Detection_runs_the_gpu_image_of_the_same_release_on_the_gpu_and_nothing_else_changes()
    {
        var tractor = await Overlay.RenderAsync(Overlay.Tractor);
        var gpu = await Overlay.RenderAsync(Overlay.TractorGpu);

        var cpuDetection = tractor.Single<V1Deployment>("treescout-detection");
        var detection = gpu.Single<V1Deployment>("treescout-detection");
        var worker = detection.Spec.Template.Spec.Containers.Single();
        var release = cpuDetection.Spec.Template.Spec.Containers.Single().Image.Split(':')[1];
        Assert.Equal($"ghcr.io/treescout/treescout-gpu:{release}", worker.Image);
        Assert.Equal("Cuda", worker.Env.Single(e => e.Name == "TREESCOUT__Detection__Accelerator").Value);
        Assert.Equal("fp32", worker.Env.Single(e => e.Name == "TREESCOUT__Detection__Precision").Value);
        Assert.Equal("1", worker.Resources.Limits["nvidia.com/gpu"].ToString());
        // The CPU and memory limits stay: the policies hold on a GPU node too.
        Assert.Equal(cpuDetection.Spec.Template.Spec.Containers.Single().Resources.Limits["memory"], worker.Resources.Limits["memory"]);
        Assert.Equal("nvidia", detection.Spec.Template.Spec.RuntimeClassName);
        Assert.Equal(1, detection.Spec.Replicas);

        // Every other object renders exactly as on the CPU tractor.
        var others = gpu.Manifests.Where(m => m["metadata"]!["name"]!.ToString() != "treescout-detection").Select(m => m.ToJsonString()).ToList();
        Assert.Equal(tractor.Manifests.Where(m => m["metadata"]!["name"]!.ToString() != "treescout-detection").Select(m => m.ToJsonString()).ToList(), others);
    }
}
