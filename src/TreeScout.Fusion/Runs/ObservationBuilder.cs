using System.Globalization;
using TreeScout.Contracts;
using TreeScout.Fusion.Attribution;
using TreeScout.Fusion.Geometry;
using TreeScout.Fusion.Gnss;
using TreeScout.Fusion.Tracking;
using TreeScout.Orchard;

namespace TreeScout.Fusion.Runs;

/// <summary>
/// Turns a finished cluster track into the observation the map writer stores: position (WGS84), row and tree, height,
/// stage (score-weighted mean of the stage probabilities over its sightings), and an honest 1-sigma uncertainty
/// (GNSS + heading × range + clock × speed + triangulation + calibration). An observation whose uncertainty exceeds half
/// the local tree spacing, whose pose was flagged, or that lies off the planted trees is marked low-confidence with why.
/// </summary>
public sealed class ObservationBuilder(RowMap rows, Func<UtmProjection> projection, double calibrationSigmaM)
{
    /// <param name="pass">The along-row GNSS offset measured for the track's pass (docs/fusion.md), if it was registered.</param>
    /// <param name="provisional">Built for a provisional observation (docs/adr/0073): it does not number an inferred row's trees.</param>
    public BlossomClusterObservation Build(ClusterTrack track, string cameraId, TimeSpan clockSigma, PassOffset pass = default, bool provisional = false)
    {
        var sightings = track.Sightings;
        var estimate = track.Estimate;
        if (pass.GnssSigmaM is not null && rows.Nearest(estimate) is { } onRow)
        {
            var (along, across) = pass.At(onRow.AlongM);
            var (sin, cos) = Math.SinCos(onRow.DirectionRad);
            // Along the row is (sin, cos); its right is (cos, −sin).
            estimate = new Vec3(estimate.X - along * sin - across * cos, estimate.Y - along * cos + across * sin, estimate.Z);
        }
        double gnss2 = 0, heading2 = 0, time2 = 0;
        var worst = GnssQuality.RtkFixed;
        string? poseFlag = null;
        var probabilities = new double[BbchStages.Count];
        double weights = 0;
        var best = sightings[0];
        foreach (var s in sightings)
        {
            var pose = s.Pose;
            var range = (estimate - s.Origin).HorizontalLength;
            gnss2 += pose.PositionSigmaM * pose.PositionSigmaM;
            heading2 += range * range * pose.HeadingSigmaRad * pose.HeadingSigmaRad;
            time2 += pose.SpeedMps * pose.SpeedMps * clockSigma.TotalSeconds * clockSigma.TotalSeconds;
            if (GnssFixes.Rank(pose.Quality) < GnssFixes.Rank(worst))
            {
                worst = pose.Quality;
            }
            poseFlag ??= pose.Flag;
            var w = Math.Max(1e-3, s.Detection.Score);
            for (var i = 0; i < probabilities.Length && i < s.Detection.StageProbabilities.Length; i++)
            {
                probabilities[i] += w * s.Detection.StageProbabilities[i];
            }
            weights += w;
            if (s.Detection.Score > best.Detection.Score)
            {
                best = s;
            }
        }
        var n = sightings.Count;
        // GNSS errors of neighbouring fixes are correlated (a slow drift), so they do not average out over the sightings;
        // a registered pass has the GNSS term its registration left.
        var gnssVariance = pass.GnssSigmaM is { } registered ? registered * registered : gnss2 / n;
        var sigma = Math.Sqrt(gnssVariance + heading2 / n + time2 / n
            + track.TriangulationSigmaM * track.TriangulationSigmaM + calibrationSigmaM * calibrationSigmaM);

        var place = rows.Nearest(estimate);
        var tree = place is { } p ? rows.AssignTree(p, provisional) : new TreeAssignment(null, double.NaN, "no row near the cluster");
        string? reason = poseFlag;
        if (reason is null && tree.Problem is not null)
        {
            reason = tree.Problem;
        }
        if (reason is null && sigma > tree.LocalSpacingM / 2)
        {
            reason = string.Create(CultureInfo.InvariantCulture,
                $"position uncertainty {sigma:F2} m exceeds half the tree spacing ({tree.LocalSpacingM / 2:F2} m; GNSS {GnssFixes.Label(worst)})");
        }

        var stageProbabilities = probabilities.Select(v => (float)(v / weights)).ToArray();
        var stageIndex = Array.IndexOf(stageProbabilities, stageProbabilities.Max());
        var (lat, lon) = projection().ToWgs84(estimate.X, estimate.Y);
        return new BlossomClusterObservation
        {
            ObservationId = track.Id,
            TreeId = tree.TreeId,
            RowId = place?.Row.Id,
            Latitude = lat,
            Longitude = lon,
            HeightM = estimate.Z,
            AlongRowM = place?.AlongM,
            PositionSigmaM = sigma,
            LowConfidence = reason is not null,
            LowConfidenceReason = reason,
            Stage = BbchStages.Ordered[stageIndex],
            StageProbabilities = stageProbabilities,
            Score = sightings.Max(s => s.Detection.Score),
            FramesSeen = n,
            FirstFrameSequence = sightings[0].Frame.Sequence,
            LastFrameSequence = sightings[^1].Frame.Sequence,
            CameraId = cameraId,
            RowSide = place is { } seenOn ? SideOf(seenOn.Row, best.Origin) : null,
            GnssQuality = worst,
            ObservedAtUtc = best.Pose.TimeUtc,
        };
    }

    /// <summary>The side of <paramref name="row"/> a camera at <paramref name="camera"/> sees it from: the side it stands on.</summary>
    public static string SideOf(MappedRow row, Vec3 camera) => row.Project(camera.X, camera.Y).LateralM >= 0 ? RowSides.Right : RowSides.Left;
}
