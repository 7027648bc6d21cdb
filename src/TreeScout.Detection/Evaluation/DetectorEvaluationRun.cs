using OpenCvSharp;
using TreeScout.Detection.Inference;

namespace TreeScout.Detection.Evaluation;

/// <summary>The detector card's evaluation block: what the card generator writes and the tests recompute.</summary>
public sealed record DetectorCardEvaluation(RealFrameResult RealFrames, CompositeResult HeldOutComposites);

public sealed record RealFrameResult(int Images, int Labelled, int Found, double Recall, double MinIou, string Rule);

public sealed record CompositeResult(string Set, int Frames, int Required, int Found, int Detections, double Recall, double Precision, double MinIou);

/// <summary>Runs the whole pipeline (the worker's own code path) over the evaluation sets.</summary>
public static class DetectorEvaluationRun
{
    /// <summary>Real photos: a labelled blossom is one flower or a small cluster, our boxes are clusters, hence a looser overlap plus the centroid rule.</summary>
    public const double RealFrameIou = 0.3;

    public const double CompositeIou = 0.5;

    public const string RealFrameRule =
        "one-to-one greedy matching by score; a labelled polygon is found by a box with IoU >= 0.3 with the polygon's bounding box, " +
        "or containing the polygon's centroid while at most 4x the polygon box's area; labels are incomplete, so only recall is measured";

    public static IReadOnlyList<ClusterBox> Boxes(BlossomPipeline pipeline, Mat image) => pipeline.DetectBoxes(image);

    public static DetectorCardEvaluation Run(BlossomPipeline pipeline, string viaJson, string compositeTruth, string compositeSetName)
    {
        var real = DetectorEvaluation.ReadViaPolygons(viaJson);
        var r = DetectorEvaluation.Evaluate(real, m => Boxes(pipeline, m), RealFrameIou, centroidRule: true);
        var composites = DetectorEvaluation.ReadCompositeTruth(compositeTruth);
        var c = DetectorEvaluation.Evaluate(composites, m => Boxes(pipeline, m), CompositeIou, centroidRule: false);
        return new DetectorCardEvaluation(
            new RealFrameResult(real.Count, r.Labels, r.Found, Math.Round(r.Recall, 4), RealFrameIou, RealFrameRule),
            new CompositeResult(compositeSetName, composites.Count, c.Labels, c.Found, c.Detections, Math.Round(c.Recall, 4), Math.Round(c.Precision, 4), CompositeIou));
    }
}
