using TreeScout.Contracts;
using TreeScout.MapWriter.Prescription;
using TreeScout.Orchard.Calibration;
using TreeScout.MapWriter.Store;

namespace TreeScout.MapWriter;

/// <summary>One blossom cluster attributed to a tree, with what the tree's values are computed from.</summary>
/// <param name="Stage">Bloom stage; null when the stored label is no known BBCH stage (then counted in the total only).</param>
/// <param name="LowConfidence">Fusion could not place it surely on this tree: not counted, only lowers the confidence.</param>
/// <param name="Score">Detector score.</param>
/// <param name="CameraId">Camera that saw it; frame numbers count per camera.</param>
/// <param name="FirstFrame">First frame it was seen in.</param>
/// <param name="LastFrame">Last frame it was seen in.</param>
/// <param name="Latitude">WGS84 position of the cluster.</param>
/// <param name="Longitude">WGS84 position of the cluster.</param>
/// <param name="RowSide">The side of the row it was seen from (<see cref="RowSides"/>); null when unknown.</param>
public readonly record struct TreeCluster(
    BbchStage? Stage,
    bool LowConfidence,
    double Score,
    string CameraId,
    long FirstFrame,
    long LastFrame,
    double Latitude,
    double Longitude,
    string? RowSide = null);

/// <summary>
/// A tree's blossom counts and thinning prescription, computed from the clusters attributed to it: the per-tree values
/// every map and export shows (columns: docs/exports.md; formula: docs/prescription.md). Pure: no SQL, no I/O.
/// <see cref="RunStore"/> stores what <see cref="Of"/> returns for every tree an ingest touched; exports and previews
/// with another variety profile apply <see cref="Prescribe"/> to the stored values.
/// </summary>
public static class TreeAggregate
{
    /// <summary>
    /// <paramref name="tree"/> with every per-tree value recomputed from <paramref name="clusters"/> (all clusters
    /// attributed to it, in the order they were stored: sums of floating-point values depend on it):
    /// <list type="bullet">
    /// <item>clusters_seen_left / clusters_seen_right: confident clusters seen from each side of the row;</item>
    /// <item>clusters_total: the whole-tree count, confident clusters only, a cluster seen from both sides counted once
    /// (<see cref="WholeTreeCount"/>, ADR 0074); the per-stage counts share it out in proportion to the stages seen;
    /// clusters_low_confidence: the others;</item>
    /// <item>frames_seen: the union of the clusters' frame ranges, per camera (low-confidence clusters included);</item>
    /// <item>density_per_m: clusters_total / <see cref="TreeRecord.SpacingM"/>, none while the spacing is unknown;</item>
    /// <item>confidence: confident ÷ all clusters (0 without clusters); mean_score over the confident clusters;</item>
    /// <item>the prescription with <paramref name="profile"/> (<see cref="Prescribe"/>, on the counts calibrated by
    /// <paramref name="calibration"/> when the run has one), none without a profile;</item>
    /// <item>position: a tree the plan lists keeps its own; one the plan does not have sits at the centroid of its
    /// confident clusters (and keeps its position while it has none).</item>
    /// </list>
    /// </summary>
    public static TreeRecord Of(TreeRecord tree, IReadOnlyCollection<TreeCluster> clusters, VarietyProfile? profile, CountModel? calibration = null)
    {
        var perStage = new int[BbchStages.Count];
        int confident = 0, low = 0, left = 0, right = 0;
        double scoreSum = 0, latitudeSum = 0, longitudeSum = 0;
        foreach (var cluster in clusters)
        {
            if (cluster.LowConfidence)
            {
                low++;
                continue;
            }
            confident++;
            left += cluster.RowSide == RowSides.Left ? 1 : 0;
            right += cluster.RowSide == RowSides.Right ? 1 : 0;
            if (cluster.Stage is { } stage)
            {
                perStage[BbchStages.IndexOf(stage)]++;
            }
            scoreSum += cluster.Score;
            latitudeSum += cluster.Latitude;
            longitudeSum += cluster.Longitude;
        }
        var placedByClusters = !tree.InPlan && confident > 0;
        var whole = WholeTreeCount.Of(left, right, confident - left - right);
        return Prescribe(tree with
        {
            Latitude = placedByClusters ? latitudeSum / confident : tree.Latitude,
            Longitude = placedByClusters ? longitudeSum / confident : tree.Longitude,
            ClustersTotal = whole,
            ClustersSeenLeft = left,
            ClustersSeenRight = right,
            ClustersPerStage = WholeTreeCount.ShareOut(perStage, confident, whole),
            ClustersLowConfidence = low,
            FramesSeen = FramesSeen(clusters),
            DensityPerM = tree.SpacingM is > 0 ? whole / tree.SpacingM.Value : null,
            Confidence = confident + low == 0 ? 0.0 : (double)confident / (confident + low),
            MeanScore = confident == 0 ? null : scoreSum / confident,
        }, profile, calibration);
    }

    /// <summary>
    /// <paramref name="tree"/> with the prescription of <paramref name="profile"/> for its clusters_total, or for that
    /// count calibrated by the run's hand counts (<paramref name="calibration"/>, docs/calibration.md; raw counts are
    /// never changed) — <see cref="ThinningPrescription.For"/>: excess, dose, rate, zone class; all four empty when the
    /// profile is null.
    /// </summary>
    public static TreeRecord Prescribe(TreeRecord tree, VarietyProfile? profile, CountModel? calibration = null)
    {
        var dose = profile is null ? null : ThinningPrescription.For(profile, calibration?.Calibrate(tree.ClustersTotal) ?? tree.ClustersTotal);
        return tree with { Excess = dose?.Excess, DosePercent = dose?.DosePercent, RateLPerHa = dose?.RateLPerHa, ZoneClass = dose?.ZoneClass };
    }

    /// <summary>Frames in which the tree's clusters were seen: the union of their frame ranges, per camera.</summary>
    private static int FramesSeen(IEnumerable<TreeCluster> clusters)
    {
        long frames = 0;
        foreach (var camera in clusters.GroupBy(c => c.CameraId, StringComparer.Ordinal))
        {
            var end = long.MinValue;
            foreach (var cluster in camera.OrderBy(c => c.FirstFrame))
            {
                var start = Math.Max(cluster.FirstFrame, end + 1);
                if (cluster.LastFrame >= start)
                {
                    frames += cluster.LastFrame - start + 1;
                    end = cluster.LastFrame;
                }
            }
        }
        return (int)Math.Min(frames, int.MaxValue);
    }
}
