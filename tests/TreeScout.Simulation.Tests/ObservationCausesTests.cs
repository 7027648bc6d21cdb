using TreeScout.Contracts;
using TreeScout.Simulation.Scoring;

namespace TreeScout.Simulation.Tests;

/// <summary>
/// False positives and matched hidden clusters by cause on a hand-built scene: row R01 on the line east 0 (trees at north
/// 0, 1, 2), row R02 at east 3.5, one camera 1.5 m west of R01 looking east. Each case has its own three frames with the
/// camera square to its cluster, and its observation on the camera's line of sight to the cluster it saw.
/// </summary>
[Trait("Category", "Unit")]
public sealed class ObservationCausesTests
{
    private static readonly LocalTangentPlane Plane = new(51.93, 5.70);
    private const string Camera = "cam-right";

    private static TruthTree Tree(string row, int index, double e, double n)
    {
        var (lat, lon) = Plane.ToWgs84(e, n);
        var stages = BbchStages.Ordered.Select(BbchStages.Label).ToDictionary(l => l, _ => 0);
        return new TruthTree
        {
            TreeId = $"{row}-T{index:000}", RowId = row, Index = index, Present = true, Latitude = lat, Longitude = lon, PlanLatitude = lat,
            PlanLongitude = lon, AlongRowM = n, ClustersTotal = 0, ClustersByStage = stages, VisibleTotal = 0, VisibleByStage = stages,
        };
    }

    private static TruthCluster Cluster(string id, string tree, Enu p, bool visible)
    {
        var (lat, lon) = Plane.ToWgs84(p.E, p.N);
        return new TruthCluster
        {
            ClusterId = id, TreeId = tree, Latitude = lat, Longitude = lon, HeightM = p.U, AlongRowM = p.N, AcrossRowM = p.E, Stage = BbchStage.Bbch65,
            Face = "W", DiameterM = 0.09, Crop = "bbch65/x.jpg", Visible = visible, FramesVisible = visible ? 5 : 1, MaxVisibleFraction = visible ? 0.9 : 0.2,
        };
    }

    /// <summary>Three frames (sequences first..first+2) from a camera 1.5 m west of R01 at north <paramref name="n"/>, boxing <paramref name="boxed"/>.</summary>
    private static IEnumerable<TruthFrame> Frames(long first, double n, params string[] boxed)
    {
        var (lat, lon) = Plane.ToWgs84(-1.5, n);
        return Enumerable.Range(0, 3).Select(i => new TruthFrame
        {
            CameraId = Camera, Sequence = first + i, File = $"frames/{Camera}/{first + i:000000}.jpg", GnssTimeUtc = DateTimeOffset.UnixEpoch,
            HostTimeUtc = DateTimeOffset.UnixEpoch, Pass = 0, Camera = new TruthCameraPose(lat, lon, 1.6, 90, 3, 0, 1.5, lat, lon),
            Boxes = [.. boxed.Select(id => new TruthBox(id, BbchStage.Bbch65, 0, 0, 30, 30, 0.8))],
        });
    }

    /// <summary>The point <paramref name="fraction"/> of the way from the camera at north <paramref name="n"/> to <paramref name="cluster"/>.</summary>
    private static Enu OnSight(double n, Enu cluster, double fraction)
    {
        var camera = new Enu(-1.5, n, 1.6);
        return camera + fraction * (cluster - camera);
    }

    private static ResultObservation Obs(string id, string? tree, Enu p, long? firstFrame)
    {
        var (lat, lon) = Plane.ToWgs84(p.E, p.N);
        return new ResultObservation(id, tree, lat, lon, p.U, false, BbchStage.Bbch65,
            firstFrame is { } f ? new ObservationSightings(Camera, f, f + 2) : null);
    }

    private static ResultTree ResultTreeAt(TruthTree t) =>
        new(t.TreeId, t.RowId, t.Latitude, t.Longitude, 1, BbchStages.Ordered.ToDictionary(s => s, _ => 0));

    private static readonly Enu Seen = new(0, 0.1, 1.6);          // visible, T001: matched by its own observation
    private static readonly Enu FarAway = new(3.5, 2.9, 1.6);     // hidden from R01's pass, R02-T003
    private static readonly Enu Twice = new(0, 1.0, 1.6);         // visible, T002: two tracks
    private static readonly Enu Hidden = new(0, 2.0, 1.6);        // hidden, T003: placed 0.5 m too near the camera
    private static readonly Enu Border = new(0, 1.45, 1.2);       // visible, T002, on the border with T003
    private static readonly Enu Deep = new(0, -0.3, 2.2);         // visible, T001: placed 0.5 m too near the camera
    private static readonly Enu HiddenSeen = new(0, 2.4, 1.0);    // hidden, T003: found where it hangs

    private static (GroundTruth Truth, RunResult Result) Scene()
    {
        TruthTree[] trees = [Tree("R01", 1, 0, 0), Tree("R01", 2, 0, 1), Tree("R01", 3, 0, 2), Tree("R02", 1, 3.5, 0), Tree("R02", 2, 3.5, 1), Tree("R02", 3, 3.5, 2)];
        var truth = new GroundTruth
        {
            Tool = "test", Seed = 0, Block = "test", TreeSpacingM = 1.0, RowSpacingM = 3.5, Clock = new TruthClock(0, 0, 0, 0, 0),
            Visibility = new TruthVisibilityRule(0.4, 2), Passes = [], Gnss = [], Trees = trees,
            Clusters =
            [
                Cluster("seen", "R01-T001", Seen, true), Cluster("far", "R02-T003", FarAway, false), Cluster("twice", "R01-T002", Twice, true),
                Cluster("hidden", "R01-T003", Hidden, false), Cluster("border", "R01-T002", Border, true), Cluster("deep", "R01-T001", Deep, true),
                Cluster("hidden-seen", "R01-T003", HiddenSeen, false),
            ],
            Frames =
            [
                .. Frames(10, 5.0, "seen"),                 // a box far off the observation's line of sight
                .. Frames(20, 2.9, "far", "hidden"),
                .. Frames(30, 1.0, "twice"),
                .. Frames(40, 2.0, "hidden"),
                .. Frames(50, 1.45, "border", "twice"),
                .. Frames(60, -0.3, "deep", "seen"),
                .. Frames(70, 2.4, "hidden-seen"),
            ],
        };
        var result = new RunResult(
            [.. trees.Select(ResultTreeAt)],
            [
                Obs("a-seen", "R01-T001", Seen, null),
                Obs("b-nothing", "R01-T001", new Enu(0, 5.0, 1.6), 10),                 // no cluster on its sight: no cluster
                Obs("c-far", "R01-T003", OnSight(2.9, FarAway, 1.5 / 5), 20),          // R02's cluster placed on R01: far row
                Obs("c-far-own", "R02-T003", FarAway, null),                           // the same cluster where it hangs: matched hidden
                Obs("d-twice", "R01-T002", Twice, 30),
                Obs("d-twice-again", "R01-T002", OnSight(1.0, Twice, 1.3 / 1.5), 30),  // 0.2 m off, the cluster taken: split track
                Obs("e-hidden", "R01-T003", OnSight(2.0, Hidden, 1.0 / 1.5), 40),      // 0.5 m off a hidden cluster: hidden cluster
                Obs("f-border", "R01-T003", OnSight(1.45, Border, 1.0 / 1.5), 50),     // T002's cluster 0.5 m off, named T003: between trees
                Obs("g-deep", "R01-T001", OnSight(-0.3, Deep, 1.0 / 1.5), 60),         // its own tree's cluster 0.5 m off: misplaced
                Obs("h-hidden-seen", "R01-T003", HiddenSeen, 70),                       // matched hidden, seen: a hidden cluster
                Obs("i-no-frames", "R01-T002", Twice with { E = 0.25 }, null),          // no frames: by position, the taken cluster
            ]);
        return (truth, result);
    }

    [Fact]
    public void Every_false_positive_gets_the_cause_of_the_cluster_on_its_line_of_sight()
    {
        var (truth, result) = Scene();
        var c = Scorer.Compute(truth, result).Clusters;
        Assert.Equal((2, 2, 7), (c.MatchedVisible, c.MatchedHidden, c.FalsePositives));
        // b no cluster; c far row; d-again and i split tracks (i by position); e hidden; f between trees; g misplaced.
        Assert.Equal(new CauseBreakdown(7, 1, 1, 0, 2, 1, 1, 1, 1), c.FalsePositiveCauses);
        // c-far-own (by position, its own cluster) and h are hidden clusters seen; a hidden cluster's own match is no split.
        Assert.Equal(new CauseBreakdown(2, 0, 0, 0, 0, 2, 0, 0, 1), c.MatchedHiddenCauses);
    }

    [Fact]
    public void The_causes_add_up_to_the_false_positives_and_the_matched_hidden_clusters()
    {
        var (truth, result) = Scene();
        // Dropping observations one at a time changes which ones are false positives; the sums must hold every time.
        for (var drop = 0; drop < result.Observations.Count; drop++)
        {
            var c = Scorer.Compute(truth, result with { Observations = [.. result.Observations.Where((_, i) => i != drop)] }).Clusters;
            foreach (var (b, total) in new[] { (c.FalsePositiveCauses, c.FalsePositives), (c.MatchedHiddenCauses, c.MatchedHidden) })
            {
                Assert.Equal(total, b.Total);
                Assert.Equal(total, b.NoCluster + b.FarRow + b.OtherSide + b.SplitTrack + b.HiddenCluster + b.BetweenTrees + b.Misplaced);
            }
        }
    }

    [Fact]
    public void A_far_row_sighting_is_far_row_even_when_its_cluster_was_matched_on_its_own_row()
    {
        var (truth, result) = Scene();
        var causes = new ObservationCauses(truth, Plane, new ScoreOptions(), result.Trees.ToDictionary(t => t.TreeId, t => t), result.Observations);
        var far = result.Observations.Single(o => o.ObservationId == "c-far");
        Assert.Equal((ObservationCause.FarRow, false), causes.Classify(far, new Dictionary<string, string> { ["far"] = "c-far-own" }));
        // Without its frames it is identified by position: no cluster within the tolerance.
        Assert.Equal((ObservationCause.NoCluster, true), causes.Classify(far with { Sightings = null }, new Dictionary<string, string>()));
    }

    [Fact]
    public void A_second_track_of_a_cluster_is_other_side_when_seen_from_the_other_alley_and_split_track_from_the_same()
    {
        var (truth, result) = Scene();
        ResultObservation Sided(string id, string side) => result.Observations.Single(o => o.ObservationId == id) with { RowSide = side };
        ResultObservation[] observations = [Sided("d-twice", RowSides.Left), Sided("d-twice-again", RowSides.Right)];
        var causes = new ObservationCauses(truth, Plane, new ScoreOptions(), result.Trees.ToDictionary(t => t.TreeId, t => t), observations);
        var matched = new Dictionary<string, string> { ["twice"] = "d-twice" };
        Assert.Equal((ObservationCause.OtherSide, false), causes.Classify(observations[1], matched));
        Assert.Equal((ObservationCause.SplitTrack, false), causes.Classify(observations[1] with { RowSide = RowSides.Left }, matched));
        // A side unknown on either observation (a store from before sides were kept) is no evidence of the other alley.
        Assert.Equal((ObservationCause.SplitTrack, false), causes.Classify(observations[1] with { RowSide = null }, matched));

        var c = Scorer.Compute(truth, result with { Observations = [.. result.Observations.Select(o => o.ObservationId == "d-twice-again" ? observations[1] : o.ObservationId == "d-twice" ? observations[0] : o)] }).Clusters;
        Assert.Equal(new CauseBreakdown(7, 1, 1, 1, 1, 1, 1, 1, 1), c.FalsePositiveCauses);
        Assert.Equal(6, c.FalsePositiveCauses.CountedTotal);
    }
}
