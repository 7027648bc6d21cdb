using System.Diagnostics;
using OpenCvSharp;
using TreeScout.Contracts;
using TreeScout.Detection.Inference;
using TreeScout.Detection.Models;

namespace TreeScout.Detection;

/// <summary>What the models found in one upright frame.</summary>
public sealed record FrameAnalysis(IReadOnlyList<BlossomDetection> Detections, OrientationEvidence Orientation, double InferenceMs);

/// <summary>
/// Detector + stage classifier + orientation check over one upright frame: the worker's handler, `treescout detect`
/// and the benchmark all go through here. Owns one ONNX session per model; calls are serialised because the tensor
/// buffers are reused (the bus hands a worker one message at a time anyway).
/// </summary>
public sealed class BlossomPipeline : IDisposable
{
    private readonly Lock _gate = new();
    private readonly VerifiedModel _detectorModel;
    private readonly VerifiedModel _stageModel;
    private readonly BlossomDetector _detector;
    private readonly StageClassifier _classifier;
    private readonly OrientationEstimator _orientation = new();

    private BlossomPipeline(VerifiedModel detectorModel, VerifiedModel stageModel, DetectorSettings settings, int stageBatch)
    {
        _detectorModel = detectorModel;
        _stageModel = stageModel;
        _detector = new BlossomDetector(detectorModel, settings);
        _classifier = new StageClassifier(stageModel, stageBatch);
    }

    public ModelIdentity Detector => _detectorModel.Identity;

    public ModelIdentity StageClassifier => _stageModel.Identity;

    /// <summary>The detector's minimum score: detections near it are the uncertain ones (<see cref="ReviewSampler.Uncertainty"/>).</summary>
    public float ScoreThreshold => _detector.Settings.ScoreThreshold;

    /// <summary>Where the detector runs (the stage classifier runs on the same accelerator or the CPU).</summary>
    public InferenceAccelerator RunsOn => _detectorModel.RunsOn;

    /// <summary>Why the accelerator asked for is not used by a model; null when both run where they were asked to.</summary>
    public string? AcceleratorProblem => _detectorModel.AcceleratorProblem ?? _stageModel.AcceleratorProblem;

    /// <summary>Loads and verifies both models against their cards.</summary>
    /// <exception cref="ModelCardException">A card is missing or does not match its model file, or the precision is unknown.</exception>
    public static BlossomPipeline Open(DetectionOptions options)
    {
        var detector = VerifiedModel.Open(ModelLocator.Resolve(options.DetectorCardPath()), options.Inference);
        try
        {
            var stage = VerifiedModel.Open(ModelLocator.Resolve(options.StageCardPath()), options.Inference);
            try
            {
                var card = detector.Card;
                var settings = new DetectorSettings(
                    (float)(options.ScoreThreshold ?? card.Threshold("score", 0.3)),
                    (float)(options.NmsIou ?? card.Threshold("nmsIou", 0.5)),
                    options.MaxDetectionsPerFrame);
                return new BlossomPipeline(detector, stage, settings, options.StageBatch);
            }
            catch
            {
                stage.Dispose();
                throw;
            }
        }
        catch
        {
            detector.Dispose();
            throw;
        }
    }

    /// <summary>The detector's boxes alone, without stages or orientation (what detector evaluation scores).</summary>
    public List<ClusterBox> DetectBoxes(Mat upright)
    {
        lock (_gate)
        {
            return _detector.Detect(upright);
        }
    }

    /// <summary>
    /// Detects, classifies and checks the orientation of one upright frame; with <paramref name="canopyBand"/> the models
    /// see only those rows (a view, no copy) and the boxes are mapped back to the whole frame.
    /// </summary>
    public FrameAnalysis Analyze(Mat upright, ImageRows? canopyBand = null)
    {
        lock (_gate)
        {
            var started = Stopwatch.GetTimestamp();
            using var band = canopyBand is { } rows ? new Mat(upright, new Rect(0, rows.Top, upright.Cols, rows.Height)) : null;
            var region = band ?? upright;
            var boxes = _detector.Detect(region);
            var probabilities = _classifier.Classify(region, boxes);
            var detections = new BlossomDetection[boxes.Count];
            for (var i = 0; i < boxes.Count; i++)
            {
                var b = CanopyBands.ToFrame(boxes[i], canopyBand);
                detections[i] = new BlossomDetection
                {
                    X = b.X,
                    Y = b.Y,
                    W = b.W,
                    H = b.H,
                    Score = b.Score,
                    Stage = BbchStages.Ordered[ArgMax(probabilities[i])],
                    StageProbabilities = probabilities[i],
                };
            }
            // From the detector's scaled copy: thumbnailing the full 1280×720 frame again took ~4 ms of a ~130 ms frame.
            // A band has no sky or soil to tell up from down: then the whole frame is thumbnailed after all.
            var orientation = _orientation.Estimate(band is null ? _detector.Scaled : upright);
            return new FrameAnalysis(detections, orientation, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
    }

    public static int ArgMax(ReadOnlySpan<float> values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best])
            {
                best = i;
            }
        }
        return best;
    }

    public void Dispose()
    {
        _detector.Dispose();
        _classifier.Dispose();
        _orientation.Dispose();
        _detectorModel.Dispose();
        _stageModel.Dispose();
    }
}
