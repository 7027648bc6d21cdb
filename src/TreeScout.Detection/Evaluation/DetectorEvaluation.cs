using System.Text.Json;
using OpenCvSharp;
using TreeScout.Detection.Inference;

namespace TreeScout.Detection.Evaluation;

/// <summary>A labelled object: its box, and whether a detector must find it (false = may find it, not counted either way).</summary>
public sealed record LabelledBox(ClusterBox Box, bool Required, float CentroidX, float CentroidY);

/// <summary>Labels of one image.</summary>
public sealed record LabelledImage(string Path, IReadOnlyList<LabelledBox> Labels);

/// <summary>Matches of one image or a whole set.</summary>
public sealed record MatchCounts(int Labels, int Found, int Detections, int FalsePositives)
{
    public double Recall => Labels == 0 ? double.NaN : Found / (double)Labels;

    public double Precision => Detections == 0 ? double.NaN : (Detections - FalsePositives) / (double)Detections;

    public static MatchCounts operator +(MatchCounts a, MatchCounts b) =>
        new(a.Labels + b.Labels, a.Found + b.Found, a.Detections + b.Detections, a.FalsePositives + b.FalsePositives);
}

/// <summary>
/// The detector's honest numbers, computed the same way by the model-card generator (bench `evaluate`) and the tests:
/// recall on the real orchard photos' blossom polygons, precision/recall on held-out composites.
/// </summary>
public static class DetectorEvaluation
{
    /// <summary>Labels with a visible fraction below this are "may find": not required, and a detection on them is no false positive.</summary>
    public const double MinRequiredVisibleFraction = 0.35;

    /// <summary>
    /// One-to-one greedy matching, best detection first, a required label before a may-find one. A detection finds a label when their IoU is at least
    /// <paramref name="minIou"/>, or — with <paramref name="centroidRule"/> — when it contains the label's centroid and is at
    /// most 4× the label's area (a cluster box around one labelled flower; not a box over half the tree).
    /// </summary>
    public static MatchCounts Match(IReadOnlyList<ClusterBox> detections, IReadOnlyList<LabelledBox> labels, double minIou, bool centroidRule)
    {
        var taken = new bool[labels.Count];
        int found = 0, falsePositives = 0;
        foreach (var d in detections.OrderByDescending(d => d.Score))
        {
            // A required label is preferred to a may-find one (as ignore regions in COCO/KITTI, and the scorer's hidden
            // clusters): a mostly hidden cluster behind a visible one must not take the visible one's detection.
            var best = -1;
            var bestIou = -1.0;
            var bestRequired = false;
            for (var i = 0; i < labels.Count; i++)
            {
                if (taken[i])
                {
                    continue;
                }
                var l = labels[i];
                double iou = d.IntersectionOverUnion(l.Box);
                var hit = iou >= minIou
                    || (centroidRule && l.CentroidX >= d.X && l.CentroidX <= d.Right && l.CentroidY >= d.Y && l.CentroidY <= d.Bottom && d.Area <= 4 * l.Box.Area);
                if (hit && ((l.Required && !bestRequired) || (l.Required == bestRequired && iou > bestIou)))
                {
                    best = i;
                    bestIou = iou;
                    bestRequired = l.Required;
                }
            }
            if (best < 0)
            {
                falsePositives++;
                continue;
            }
            taken[best] = true;
            if (labels[best].Required)
            {
                found++;
            }
        }
        return new MatchCounts(labels.Count(l => l.Required), found, detections.Count, falsePositives);
    }

    /// <summary>Runs <paramref name="detect"/> on every image and sums the matches.</summary>
    public static MatchCounts Evaluate(IEnumerable<LabelledImage> images, Func<Mat, IReadOnlyList<ClusterBox>> detect, double minIou, bool centroidRule)
    {
        var total = new MatchCounts(0, 0, 0, 0);
        foreach (var image in images)
        {
            using var mat = Cv2.ImRead(image.Path, ImreadModes.Color);
            if (mat.Empty())
            {
                throw new InvalidDataException($"{image.Path}: not a readable image");
            }
            total += Match(detect(mat), image.Labels, minIou, centroidRule);
        }
        return total;
    }

    /// <summary>
    /// VGG Image Annotator project (via_region_data.json, `_via_img_metadata`): each polygon is a labelled blossom
    /// (box = the polygon's bounding box, centroid = the polygon's area centroid). Images are next to the json.
    /// </summary>
    public static List<LabelledImage> ReadViaPolygons(string viaJsonPath)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(viaJsonPath));
        var dir = Path.GetDirectoryName(Path.GetFullPath(viaJsonPath))!;
        var images = new List<LabelledImage>();
        foreach (var entry in doc.RootElement.GetProperty("_via_img_metadata").EnumerateObject())
        {
            var labels = new List<LabelledBox>();
            foreach (var region in entry.Value.GetProperty("regions").EnumerateArray())
            {
                var shape = region.GetProperty("shape_attributes");
                if (shape.GetProperty("name").GetString() != "polygon")
                {
                    continue;
                }
                var xs = shape.GetProperty("all_points_x").EnumerateArray().Select(v => v.GetSingle()).ToArray();
                var ys = shape.GetProperty("all_points_y").EnumerateArray().Select(v => v.GetSingle()).ToArray();
                var (cx, cy) = PolygonCentroid(xs, ys);
                var box = new ClusterBox(xs.Min(), ys.Min(), xs.Max() - xs.Min(), ys.Max() - ys.Min(), 1);
                labels.Add(new LabelledBox(box, true, cx, cy));
            }
            images.Add(new LabelledImage(Path.Combine(dir, entry.Value.GetProperty("filename").GetString()!), labels));
        }
        return [.. images.OrderBy(i => i.Path, StringComparer.Ordinal)];
    }

    /// <summary>
    /// Composite truth (training/detector/composite.py's truth.json: frames[].file, clusters[].x/y/w/h/visibleFraction):
    /// clusters at least <see cref="MinRequiredVisibleFraction"/> visible are required.
    /// </summary>
    public static List<LabelledImage> ReadCompositeTruth(string truthJsonPath)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(truthJsonPath));
        var dir = Path.GetDirectoryName(Path.GetFullPath(truthJsonPath))!;
        var images = new List<LabelledImage>();
        foreach (var frame in doc.RootElement.GetProperty("frames").EnumerateArray())
        {
            var labels = new List<LabelledBox>();
            foreach (var c in frame.GetProperty("clusters").EnumerateArray())
            {
                float x = c.GetProperty("x").GetSingle(), y = c.GetProperty("y").GetSingle(), w = c.GetProperty("w").GetSingle(), h = c.GetProperty("h").GetSingle();
                var required = c.GetProperty("visibleFraction").GetDouble() >= MinRequiredVisibleFraction;
                labels.Add(new LabelledBox(new ClusterBox(x, y, w, h, 1), required, x + (w / 2), y + (h / 2)));
            }
            images.Add(new LabelledImage(Path.Combine(dir, frame.GetProperty("file").GetString()!), labels));
        }
        return images;
    }

    private static (float X, float Y) PolygonCentroid(float[] xs, float[] ys)
    {
        double area = 0, cx = 0, cy = 0;
        for (int i = 0, j = xs.Length - 1; i < xs.Length; j = i++)
        {
            var cross = ((double)xs[j] * ys[i]) - ((double)xs[i] * ys[j]);
            area += cross;
            cx += (xs[j] + xs[i]) * cross;
            cy += (ys[j] + ys[i]) * cross;
        }
        if (Math.Abs(area) < 1e-9)
        {
            return (xs.Average(), ys.Average());
        }
        return ((float)(cx / (3 * area)), (float)(cy / (3 * area)));
    }
}
