using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenCvSharp;
using TreeScout.Contracts;
using TreeScout.Detection.Inference;
using TreeScout.Hosting;
using TreeScout.Messaging;

namespace TreeScout.Detection;

/// <summary>
/// FrameCaptured → FrameDetections: decode, undo the mount rotation, detect + classify, publish (confirmed) before
/// returning so the ack follows. A frame the <see cref="ReviewSampler"/> keeps is published for review first, upright,
/// with its detections (<see cref="ReviewFrameSampled"/>). Idempotent: the ids are derived from the frame's id.
/// </summary>
public sealed class FrameDetectionHandler(
    DetectionModels models,
    IOptions<DetectionOptions> options,
    OrientationMonitor orientation,
    ReviewSampler sampler,
    WorkerCounters counters,
    ILogger<FrameDetectionHandler> logger) : IMessageHandler<FrameCaptured>
{
    public const string FramesDetected = "frames_detected";
    public const string ClustersDetected = "clusters_detected";
    public const string FramesUndecodable = "frames_undecodable";
    public const string FramesDecimated = "frames_decimated";
    public const string FramesSampledForReview = "frames_sampled_for_review";

    public async Task HandleAsync(FrameCaptured frame, MessageContext context, CancellationToken cancellationToken)
    {
        var pipeline = models.Open(options.Value);
        if (frame.Decimated)
        {
            await PublishDecimatedAsync(frame, pipeline, context, cancellationToken);
            return;
        }
        FrameDetections result;
        ReviewFrameSampled? sample = null;
        using (var decoded = FrameImage.Decode(frame.Jpeg))
        {
            if (decoded is null)
            {
                counters.Add(FramesUndecodable);
                throw new MalformedMessageException(
                    $"frame {frame.Sequence} of run {frame.RunId} (camera {frame.CameraId}): not a decodable JPEG ({frame.Jpeg.Length} bytes{Signature(frame.Jpeg)})");
            }
            if (frame.MountRotationDeg is not (0 or 90 or 180 or 270))
            {
                throw new MalformedMessageException(
                    $"frame {frame.Sequence} of run {frame.RunId} (camera {frame.CameraId}): mount rotation {frame.MountRotationDeg} is not 0, 90, 180 or 270");
            }
            var upright = FrameImage.Upright(decoded, frame.MountRotationDeg);
            try
            {
                if (frame.CanopyBand is { } band && CanopyBands.Problem(band, upright.Rows) is { } problem)
                {
                    throw new MalformedMessageException($"frame {frame.Sequence} of run {frame.RunId} (camera {frame.CameraId}): {problem}");
                }
                var analysis = pipeline.Analyze(upright, frame.CanopyBand);
                orientation.Observe(frame.CameraId, frame.MountRotationDeg, analysis.Orientation);
                result = Detections(frame, pipeline, upright.Cols, upright.Rows, analysis.Detections, new OrientationCheck
                {
                    AppliedRotationDeg = frame.MountRotationDeg,
                    SuspectedRotationDeg = analysis.Orientation.SuspectedRotationDeg,
                    Confidence = analysis.Orientation.Confidence,
                }) with { InferenceMs = Math.Round(analysis.InferenceMs, 2) };
                sample = ReviewSample(frame, result, upright, pipeline.ScoreThreshold);
            }
            finally
            {
                if (!ReferenceEquals(upright, decoded))
                {
                    upright.Dispose();
                }
            }
        }
        if (sample is not null)
        {
            // Ahead of the detections: the sample then reaches the map writer's queue before the run's RunFused.
            await context.Publisher.PublishAsync(sample, cancellationToken);
            sampler.Kept(sample.RunId, sample.CameraId, sample.Sequence, sample.Uncertainty);
            counters.Add(FramesSampledForReview);
        }
        result = result with { KeptForReview = sample is not null };
        await context.Publisher.PublishAsync(result, cancellationToken);
        counters.Add(FramesDetected);
        counters.Add(ClustersDetected, result.Detections.Count);
        logger.LogDebug("Frame {Sequence} of {Camera}: {Clusters} clusters in {Ms:F1} ms", frame.Sequence, frame.CameraId, result.Detections.Count, result.InferenceMs);
    }

    /// <summary>The frame for review when the sampler keeps it, else null; the image is the upright one the boxes refer to.</summary>
    private ReviewFrameSampled? ReviewSample(FrameCaptured frame, FrameDetections detections, Mat upright, float scoreThreshold)
    {
        var uncertainty = Math.Round(ReviewSampler.Uncertainty(detections.Detections, scoreThreshold), 4);
        if (sampler.Choose(frame.RunId, frame.CameraId, frame.Sequence, uncertainty) is not { } reason)
        {
            return null;
        }
        // An upright camera's JPEG is kept byte for byte: no second compression, no encoding time.
        var jpeg = frame.MountRotationDeg == 0 && frame.Jpeg is [0xFF, 0xD8, ..]
            ? frame.Jpeg
            : upright.ImEncode(".jpg", new ImageEncodingParam(ImwriteFlags.JpegQuality, options.Value.ReviewJpegQuality));
        return new ReviewFrameSampled
        {
            MessageId = MessageIds.Derive(frame.MessageId, "review-sample"),
            RunId = frame.RunId,
            FrameMessageId = frame.MessageId,
            Sequence = frame.Sequence,
            CameraId = frame.CameraId,
            CapturedAtUtc = frame.CapturedAtUtc,
            Width = detections.Width,
            Height = detections.Height,
            Jpeg = jpeg,
            Detector = detections.Detector,
            StageClassifier = detections.StageClassifier,
            Detections = detections.Detections,
            Reason = reason,
            Uncertainty = uncertainty,
            WindowFrames = sampler.WindowFrames,
        };
    }

    /// <summary>
    /// A frame capture's plan skipped: passed on without decoding or inference, marked decimated so fusion counts it
    /// without taking it for a frame with no clusters.
    /// </summary>
    private async Task PublishDecimatedAsync(FrameCaptured frame, BlossomPipeline pipeline, MessageContext context, CancellationToken cancellationToken)
    {
        var quarterTurn = frame.MountRotationDeg is 90 or 270;
        var detections = Detections(frame, pipeline, quarterTurn ? frame.Height : frame.Width, quarterTurn ? frame.Width : frame.Height, [],
            new OrientationCheck { AppliedRotationDeg = frame.MountRotationDeg });
        await context.Publisher.PublishAsync(detections with { Decimated = true }, cancellationToken);
        counters.Add(FramesDecimated);
    }

    /// <summary>The frame's detections message: its id derived from the frame's, so a redelivered frame yields the same one.</summary>
    private static FrameDetections Detections(FrameCaptured frame, BlossomPipeline pipeline, int width, int height, IReadOnlyList<BlossomDetection> detections, OrientationCheck orientation) => new()
    {
        MessageId = MessageIds.Derive(frame.MessageId, "detections"),
        RunId = frame.RunId,
        FrameMessageId = frame.MessageId,
        Sequence = frame.Sequence,
        CameraId = frame.CameraId,
        CapturedAtUtc = frame.CapturedAtUtc,
        MonotonicNs = frame.MonotonicNs,
        Width = width,
        Height = height,
        Detector = pipeline.Detector,
        StageClassifier = pipeline.StageClassifier,
        Detections = detections,
        Orientation = orientation,
    };

    /// <summary>
    /// The first bytes, so a reader of the dead-letter reason can tell a PNG, an empty body or garbage from a cut JPEG,
    /// and the declared size when that is what made it refused.
    /// </summary>
    private static string Signature(byte[] bytes) =>
        (bytes.Length == 0 ? "" : $", starts with {Convert.ToHexString(bytes.AsSpan(0, Math.Min(4, bytes.Length)))}")
        + (JpegSize.TryRead(bytes, out var w, out var h) && (long)w * h > FrameImage.MaxPixels ? $", declares {w}x{h} pixels, more than {FrameImage.MaxPixels} are never decoded" : "");
}
