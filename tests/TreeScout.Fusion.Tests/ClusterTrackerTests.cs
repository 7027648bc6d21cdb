using TreeScout.Contracts;
using TreeScout.Fusion.Attribution;
using TreeScout.Fusion.Geometry;
using TreeScout.Fusion.Tracking;

namespace TreeScout.Fusion.Tests;

/// <summary>
/// The tracker on a hand-built drive: a right-facing camera 2 m from a row, driving north at 1.5 m/s, 10 frames/s; boxes
/// are exact projections of known cluster positions, so every failure is the tracker's.
/// </summary>
[Trait("Category", "Unit")]
public sealed class ClusterTrackerTests
{
    private static readonly CameraModel Camera = new(new CameraMounting
    {
        CameraId = "right",
        Side = CameraSide.Right,
        LeverArm = new LeverArm(0, 0, 0),
        AntennaHeightM = 1.2,
        YawDeg = 90,
        ImageWidth = 640,
        ImageHeight = 360,
        Fx = 500,
        Fy = 500,
        Cx = 320,
        Cy = 180,
    });

    private const double RowEastingM = 2.0;
    private const double ClusterDiameterM = 0.09;

    private static Pose PoseAt(int frame, double headingErrorDeg) => new(
        DateTimeOffset.UnixEpoch.AddSeconds(frame * 0.1), 0, frame * 0.15, Angles.Radians(headingErrorDeg), 0.01, 0.02, 1.5, GnssQuality.RtkFixed, null);

    private static BlossomDetection? Box(in Pose pose, Vec3 cluster, double scale = 1)
    {
        var (u, v, depth) = Camera.Project(pose, cluster);
        var size = scale * Camera.Mounting.Fx * ClusterDiameterM / depth;
        return depth > 0 && Camera.InImage(u, v, -size / 2)
            ? new BlossomDetection { X = (float)(u - size / 2), Y = (float)(v - size / 2), W = (float)size, H = (float)size, Score = 0.9f, Stage = BbchStage.Bbch65, StageProbabilities = new float[BbchStages.Count] }
            : null;
    }

    /// <summary>
    /// Runs the drive; <paramref name="shown"/> picks, per frame, which clusters are detected, <paramref name="boxScale"/>
    /// how much bigger than a typical cluster each one's box is, <paramref name="kept"/> which frames capture's plan keeps
    /// (the tracker never sees a decimated one; default every frame). Returns the reported tracks as the clusters their
    /// boxes came from, and the tracks themselves.
    /// </summary>
    private static (List<List<int>> Tracks, long Splits, List<ClusterTrack> Reported, ClusterTracker Tracker) Drive(
        int frames, Vec3[] clusters, Func<int, int, bool> shown, Func<int, double> headingErrorDeg, TrackerOptions? options = null, Func<int, double>? boxScale = null,
        Func<int, bool>? kept = null)
    {
        var tracker = new ClusterTracker(Camera, new InferredRowMap(1.0, 4.0), options ?? new TrackerOptions());
        var ended = new List<ClusterTrack>();
        var origin = new Dictionary<(long Frame, int Index), int>();
        for (var f = 0; f < frames; f++)
        {
            if (kept?.Invoke(f) == false)
            {
                continue;
            }
            var pose = PoseAt(f, headingErrorDeg(f));
            // Boxes are drawn from the true pose; the tracker gets the pose with its heading error.
            var truePose = PoseAt(f, 0);
            var boxes = new List<BlossomDetection>();
            for (var c = 0; c < clusters.Length; c++)
            {
                if (shown(f, c) && Box(truePose, clusters[c], boxScale?.Invoke(c) ?? 1) is { } box)
                {
                    origin[(f, boxes.Count)] = c;
                    boxes.Add(box);
                }
            }
            tracker.Step(new FrameTicket(f, Guid.NewGuid(), pose.TimeUtc), pose, boxes, ended);
        }
        tracker.EndAll(ended);
        var reported = ended.Where(tracker.IsConfirmed).ToList();
        return ([.. reported.Select(t => t.Sightings.Select(s => origin[(s.Frame.Sequence, s.DetectionIndex)]).ToList())], tracker.SplitTracks, reported, tracker);
    }

    [Fact]
    public void A_cluster_seen_along_a_row_from_beside_its_line_gets_a_finite_uncertainty()
    {
        // The row's line is x = 1.75 (a right camera driven north along x = 0). Standing 15 cm west of that line and looking
        // south along it (as in a headland turn), the camera sees a cluster 1.5 m ahead and 5 cm further west: the ray, taken
        // as a line, meets the row's plane (the depth prior) 4.5 m behind the camera, where the point projects nowhere. Its
        // uncertainty was NaN (the map writer dead-lettered the observation's whole batch); now it is large and finite.
        var rows = new InferredRowMap(1.0, 3.5);
        for (var y = 0.0; y <= 40; y += 0.5)
        {
            rows.FollowPath(new Pose(DateTimeOffset.UnixEpoch, 0, y, 0, 0.01, 0.02, 1.5, GnssQuality.RtkFixed, null), new Vec3(1, 0, 0), 12, []);
        }
        var tracker = new ClusterTracker(Camera, rows, new TrackerOptions());
        var ended = new List<ClusterTrack>();
        for (var f = 0; f < 5; f++)
        {
            var pose = new Pose(DateTimeOffset.UnixEpoch.AddSeconds(f * 0.1), 1.6, 25, Math.PI / 2, 0.01, 0.02, 0, GnssQuality.RtkFixed, null);
            tracker.Step(new FrameTicket(f, Guid.NewGuid(), pose.TimeUtc), pose, [Box(pose, new Vec3(1.55, 23.5, 1.5))!], ended);
        }
        tracker.EndAll(ended);

        Assert.NotEmpty(ended);
        Assert.All(ended, t => Assert.True(double.IsFinite(t.TriangulationSigmaM) && t.TriangulationSigmaM > 1, $"{t.Sightings.Count} sightings: sigma {t.TriangulationSigmaM} m"));
    }

    [Fact]
    public void A_farther_rows_cluster_glimpsed_through_a_gap_is_told_from_near_ones_by_its_rays_and_its_boxes()
    {
        // 0: a near cluster on the faced row (x = 2), in view throughout; 1: a cluster of the next row (x = 6) seen in 4
        // frames (0.45 m of travel) through a gap, its box 1.6x a typical cluster's so that each box passes the per-box
        // far-row gate; 2: a small near cluster (box 0.6x), in view throughout.
        Vec3[] clusters = [new(RowEastingM, 3.0, 1.2), new(RowEastingM + 4.0, 4.0, 1.3), new(RowEastingM, 3.3, 1.6)];
        var (tracks, _, reported, tracker) = Drive(30, clusters, (f, c) => c != 1 || f is >= 12 and < 16, _ => 0, boxScale: c => c switch { 1 => 1.6, 2 => 0.6, _ => 1 });

        Assert.Equal([0, 1, 2], tracks.Select(t => t[0]).Order());
        var byCluster = reported.Zip(tracks, (track, boxes) => (boxes[0], track)).ToDictionary(p => p.Item1, p => p.track);
        Assert.Equal((false, true, false), (tracker.IsFarByItsRays(byCluster[0]), tracker.IsFarByItsRays(byCluster[1]), tracker.IsFarByItsRays(byCluster[2])));
        // By its boxes: the far one (median 3.75 m away, 1.75 m beyond the row); the small near one's boxes say 3.3 m,
        // but it was in view over 4.35 m of travel.
        Assert.Equal((false, true, false), (tracker.IsFarByItsBoxes(byCluster[0]), tracker.IsFarByItsBoxes(byCluster[1]), tracker.IsFarByItsBoxes(byCluster[2])));
    }

    [Fact]
    public void Two_clusters_4_cm_apart_that_take_turns_hiding_are_reported_as_two_clusters()
    {
        // Same height, 4 cm apart along the row: their boxes (~22 px) overlap; one is hidden whenever the other shows.
        Vec3[] clusters = [new(RowEastingM, 5.00, 1.5), new(RowEastingM, 5.04, 1.5)];
        var (tracks, splits, _, _) = Drive(80, clusters, (f, c) => (f / 2 % 2) == c, _ => 0);

        var seen = string.Join(" | ", tracks.Select(t => string.Join(",", t)));
        Assert.True(tracks.Count == 2, $"{tracks.Count} tracks: {seen}");
        Assert.True(splits >= 1, $"no split: {seen}");
        // Each reported track holds one cluster's boxes (allowing one stray box at the hand-over).
        Assert.All(tracks, t => Assert.True(t.GroupBy(c => c).Max(g => g.Count()) >= t.Count - 1, string.Join(",", t)));
        Assert.Equal([0, 1], tracks.Select(t => t.GroupBy(c => c).MaxBy(g => g.Count())!.Key).Order());
    }

    [Fact]
    public void A_heading_that_wobbles_by_1_5_degrees_between_frames_keeps_one_track_per_cluster()
    {
        // 24 clusters 12 cm apart at four heights, always detected. Once the first tracks have settled (the shift is
        // measured on them) the pose's heading is off by ±1.5° on alternate frames: ~13 px, more than the matching gate.
        // The drive stops while the last clusters are still in view: the shift needs MinCommonShiftTracks settled tracks.
        var clusters = Enumerable.Range(0, 24).Select(i => new Vec3(RowEastingM, 1.0 + 0.12 * i, 1.0 + 0.15 * (i % 4))).ToArray();
        var (tracks, splits, _, _) = Drive(30, clusters, (_, _) => true, f => f < 15 ? 0 : f % 2 == 0 ? 1.5 : -1.5);

        Assert.True(clusters.Length == tracks.Count, $"{tracks.Count} tracks ({splits} splits): {string.Join(" | ", tracks.Select(t => string.Join(",", t)))}");
        Assert.Equal(Enumerable.Range(0, clusters.Length), tracks.Select(t => t.Distinct().Single()).Order());
        Assert.Equal(0, splits);
    }

    [Fact]
    public void A_neighbour_that_appears_where_a_hidden_cluster_is_predicted_gets_its_own_track()
    {
        // 7 cm apart along the row (~17 px): the first is seen until frame 32 and then hidden while still in view; the
        // second, hidden until then, shows from frame 35 on. Its box lands near the hidden cluster's prediction (inside
        // the gate of a track seen in the previous frame), but that track has missed 2 frames.
        Vec3[] clusters = [new(RowEastingM, 5.00, 1.5), new(RowEastingM, 5.07, 1.5)];
        bool Shown(int f, int c) => c == 0 ? f <= 32 : f >= 35;

        var (tracks, splits, _, _) = Drive(60, clusters, Shown, _ => 0);
        var seen = string.Join(" | ", tracks.Select(t => string.Join(",", t)));
        Assert.True(tracks.Count == 2, $"{tracks.Count} tracks ({splits} splits): {seen}");
        Assert.Equal([0, 1], tracks.Select(t => t.Distinct().Single()).Order());
        Assert.Equal(0, splits);

        // With the after-miss gate as wide as the normal one, the hidden cluster's track takes the neighbour's boxes.
        var (merged, _, _, _) = Drive(60, clusters, Shown, _ => 0, new TrackerOptions { AfterMissGate = 3 });
        Assert.Contains(merged, t => t.Distinct().Count() == 2);
    }

    [Fact]
    public void A_cluster_seen_in_two_successive_kept_frames_of_a_decimated_drive_is_reported()
    {
        // In view throughout, detected only in frames 18 and 21 (behind leaves in the others). Capture's plan keeps every
        // third frame, so 18 and 21 are successive kept frames: the cluster was in view over frames 18-21, four frames,
        // as long as a cluster full rate confirms from three boxes (MinSightings 3).
        Vec3[] clusters = [new(RowEastingM, 3.0, 1.2)];
        bool Shown(int f, int c) => f is 18 or 21;

        var (decimated, _, reported, _) = Drive(40, clusters, Shown, _ => 0, kept: f => f % 3 == 0);
        Assert.Equal([[0, 0]], decimated);
        Assert.Equal(4, reported.Single().FramesCovered);

        // At full rate frames 19 and 20 reach the tracker and it misses the cluster in them: two boxes, not reported.
        var (fullRate, _, _, _) = Drive(40, clusters, Shown, _ => 0);
        Assert.Empty(fullRate);
    }
}
