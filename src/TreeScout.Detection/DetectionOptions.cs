using System.ComponentModel.DataAnnotations;
using TreeScout.Detection.Models;

namespace TreeScout.Detection;

/// <summary>Detection worker settings (section "Detection"; env TREESCOUT__Detection__...).</summary>
public sealed class DetectionOptions
{
    public const string Section = "Detection";

    /// <summary>
    /// Detector card; null (default) = the shipped detector at <see cref="Precision"/>. A relative path is looked up under
    /// the working directory, then next to the executable. A card given here is used as it is, whatever its precision.
    /// </summary>
    public string? DetectorCard { get; set; }

    /// <summary>Stage classifier card; null (default) = the shipped classifier at <see cref="Precision"/>.</summary>
    public string? StageCard { get; set; }

    /// <summary>
    /// Which shipped models run when no card is given: int8 (QDQ, ~3x faster on the CPU, within 1 point of fp32 on
    /// the held-out sets; docs/adr/0067) or fp32.
    /// </summary>
    public string Precision { get; set; } = ModelPrecision.Int8;

    /// <exception cref="ModelCardException"><see cref="Precision"/> is neither fp32 nor int8.</exception>
    public string DetectorCardPath() => CardPath(DetectorCard, "blossom-detector");

    /// <exception cref="ModelCardException"><see cref="Precision"/> is neither fp32 nor int8.</exception>
    public string StageCardPath() => CardPath(StageCard, "bbch-stage");

    // Precision is checked even when both cards are given, so that a misspelt value never passes unnoticed.
    private string CardPath(string? card, string shipped)
    {
        var byPrecision = ModelPrecision.ShippedCard(shipped, Precision);
        return card ?? byPrecision;
    }

    /// <summary>ONNX Runtime intra-op threads per session (the tractor's node has few cores shared by all workers).</summary>
    [Range(1, 64)]
    public int IntraOpThreads { get; set; } = 2;

    /// <summary>
    /// Where the models run: Cpu, or Cuda on an NVIDIA GPU (needs the image built with the GPU flavour of ONNX Runtime,
    /// see docs/detection.md). Without a usable GPU the worker runs on the CPU and says so in a warning.
    /// </summary>
    public InferenceAccelerator Accelerator { get; set; } = InferenceAccelerator.Cpu;

    /// <summary>The CUDA device the models run on when <see cref="Accelerator"/> is Cuda.</summary>
    [Range(0, 15)]
    public int GpuDeviceId { get; set; }

    public InferenceSettings Inference => new(IntraOpThreads, Accelerator, GpuDeviceId);

    /// <summary>Minimum detector score; null = the card's thresholds.score.</summary>
    [Range(0.0, 1.0)]
    public double? ScoreThreshold { get; set; }

    /// <summary>Boxes overlapping a better one by more than this IoU are dropped; null = the card's thresholds.nmsIou.</summary>
    [Range(0.05, 0.95)]
    public double? NmsIou { get; set; }

    [Range(1, 2000)]
    public int MaxDetectionsPerFrame { get; set; } = 300;

    /// <summary>Cluster crops per stage-classifier run.</summary>
    [Range(1, 256)]
    public int StageBatch { get; set; } = 32;

    /// <summary>Frames of one camera the orientation evidence is averaged over before a warning is raised or cleared.</summary>
    [Range(1, 10_000)]
    public int OrientationWindow { get; set; } = 20;

    /// <summary>Averaged confidence above which a camera is reported as mounted differently from its configuration.</summary>
    [Range(0.0, 1.0)]
    public double OrientationWarnConfidence { get; set; } = 0.5;

    /// <summary>
    /// Keep every Nth analysed frame of a camera for review (sequence divisible by N); 0: none. At 4 frames/s, 50 is one
    /// frame every 12.5 s (docs/labelling.md).
    /// </summary>
    [Range(0, 1_000_000)]
    public int ReviewEveryNth { get; set; } = 50;

    /// <summary>Frames per window of which the most uncertain one is kept for review; 0: none.</summary>
    [Range(0, 1_000_000)]
    public int ReviewWindowFrames { get; set; } = 50;

    /// <summary>Least uncertainty (0..1, docs/labelling.md) for a window's most uncertain frame to be kept.</summary>
    [Range(0.0, 1.0)]
    public double ReviewUncertaintyFloor { get; set; } = 0.8;

    /// <summary>JPEG quality of a kept frame that had to be rotated upright (an upright camera's frame is kept as captured).</summary>
    [Range(50, 100)]
    public int ReviewJpegQuality { get; set; } = 90;
}
