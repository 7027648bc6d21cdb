using Microsoft.Data.Sqlite;
using NetTopologySuite.Geometries;
using NetTopologySuite.IO;
using TreeScout.Contracts;
using TreeScout.Simulation.Scoring;

namespace TreeScout.Simulation.Tests;

/// <summary>Hand-made truth/result pairs whose scores are worked out by hand (see the comments).</summary>
[Trait("Category", "Unit")]
public sealed class ScorerTests
{
    private static readonly Simulation.LocalTangentPlane Plane = new(51.93, 5.70);

    private static (double Lat, double Lon) At(double e, double n) => Plane.ToWgs84(e, n);

    private static TruthTree Tree(string id, double n, bool present, params (BbchStage Stage, bool Visible)[] clusters)
    {
        var (lat, lon) = At(0, n);
        var labels = BbchStages.Ordered.Select(BbchStages.Label).ToList();
        return new TruthTree
        {
            TreeId = id,
            RowId = "R01",
            Index = (int)n + 1,
            Present = present,
            Latitude = lat,
            Longitude = lon,
            PlanLatitude = lat,
            PlanLongitude = lon,
            AlongRowM = n + 0.5,
            ClustersTotal = clusters.Length,
            ClustersByStage = labels.ToDictionary(l => l, l => clusters.Count(c => BbchStages.Label(c.Stage) == l)),
            VisibleTotal = clusters.Count(c => c.Visible),
            VisibleByStage = labels.ToDictionary(l => l, l => clusters.Count(c => c.Visible && BbchStages.Label(c.Stage) == l)),
        };
    }

    private static TruthCluster Cluster(string id, string tree, double e, double n, double h, BbchStage stage, bool visible)
    {
        var (lat, lon) = At(e, n);
        return new TruthCluster
        {
            ClusterId = id, TreeId = tree, Latitude = lat, Longitude = lon, HeightM = h, AlongRowM = n + 0.5, AcrossRowM = e,
            Stage = stage, Face = "E", DiameterM = 0.08, Crop = "bbch65/x.jpg", Visible = visible, FramesVisible = visible ? 5 : 0, MaxVisibleFraction = visible ? 1 : 0.2,
        };
    }

    /// <summary>Trees T001 (0,0), T002 (0,1), T003 (0,2) stand; T004 (0,3) is a gap. Clusters c1..c6 visible, c7 and c8 hidden.</summary>
    public static GroundTruth HandMadeTruth() => new()
    {
        Tool = "test",
        Seed = 0,
        Block = "test",
        TreeSpacingM = 1.0,
        RowSpacingM = 3.5,
        Clock = new TruthClock(0, 0, 0, 0, 0),
        Visibility = new TruthVisibilityRule(0.4, 2),
        Passes = [],
        Frames = [],
        Gnss = [],
        Trees =
        [
            Tree("R01-T001", 0, true, (BbchStage.Bbch65, true), (BbchStage.Bbch61, true), (BbchStage.Bbch67, true), (BbchStage.Bbch65, true)),
            Tree("R01-T002", 1, true, (BbchStage.Bbch65, true), (BbchStage.Bbch53, true), (BbchStage.Bbch65, false)),
            Tree("R01-T003", 2, true, (BbchStage.Bbch65, false)),
            Tree("R01-T004", 3, false),
        ],
        Clusters =
        [
            Cluster("c1", "R01-T001", 0.1, 0.1, 1.0, BbchStage.Bbch65, true),
            Cluster("c2", "R01-T001", -0.1, -0.1, 1.5, BbchStage.Bbch61, true),
            Cluster("c3", "R01-T001", 0.1, -0.2, 2.0, BbchStage.Bbch67, true),
            Cluster("c4", "R01-T001", 0.0, 0.3, 1.2, BbchStage.Bbch65, true),
            Cluster("c5", "R01-T002", 0.1, 1.1, 1.0, BbchStage.Bbch65, true),
            Cluster("c6", "R01-T002", -0.1, 0.9, 2.0, BbchStage.Bbch53, true),
            Cluster("c7", "R01-T002", 0.2, 1.3, 1.5, BbchStage.Bbch65, false),
            Cluster("c8", "R01-T003", 0.1, 2.0, 1.0, BbchStage.Bbch65, false),
        ],
    };

    private static ResultTree RTree(string id, double e, double n, int total, params (BbchStage Stage, int Count)[] byStage)
    {
        var (lat, lon) = At(e, n);
        return new ResultTree(id, "R01", lat, lon, total, BbchStages.Ordered.ToDictionary(s => s, s => byStage.Where(b => b.Stage == s).Sum(b => b.Count)));
    }

    private static ResultObservation Obs(string id, string? tree, double e, double n, double? h, bool low, BbchStage stage)
    {
        var (lat, lon) = At(e, n);
        return new ResultObservation(id, tree, lat, lon, h, low, stage);
    }

    public static RunResult HandMadeResult() => new(
        [
            RTree("R01-T001", 0.05, 0, 5, (BbchStage.Bbch65, 3), (BbchStage.Bbch67, 2)),
            RTree("R01-T002", 0, 1, 1, (BbchStage.Bbch54, 1)),
            RTree("X-1", 0.1, 2.1, 0),          // no such id: matches T003 by position (0.141 m)
            RTree("X-2", 0, 3.0, 2, (BbchStage.Bbch65, 2)), // at the gap: nothing stands within 0.5 m -> extra
        ],
        [
            Obs("o1", "R01-T001", 0.15, 0.1, 1.0, false, BbchStage.Bbch65),  // c1, 0.05 m, right tree
            Obs("o2", "R01-T002", -0.1, -0.1, 1.5, false, BbchStage.Bbch65), // c2 exactly, wrong tree, 61 seen as 65
            Obs("o3", "R01-T001", 0.1, -0.1, 2.0, true, BbchStage.Bbch67),   // c3, 0.1 m, right tree but low confidence
            Obs("o4", "R01-T002", 0.1, 1.3, 1.0, false, BbchStage.Bbch67),   // c5, 0.2 m (c7 is 0.1 m away but 0.5 m higher)
            Obs("o5", "R01-T002", 0.2, 1.3, 1.5, false, BbchStage.Bbch65),   // c7 exactly: a hidden cluster
            Obs("o6", "R01-T002", 1.0, 1.0, 1.0, false, BbchStage.Bbch65),   // nothing near: false positive
            Obs("o7", "R01-T001", 0.0, 0.3, 2.0, false, BbchStage.Bbch65),   // over c4 but 0.8 m too high: false positive
            Obs("o8", "R01-T002", 0.2, 0.9, null, false, BbchStage.Bbch54),  // c6 at 0.3 m (c5 at 0.22 m is taken by o4's closer pair)
        ]);

    [Fact]
    public void Trees_found_missed_extra_position_and_count_errors_are_exact()
    {
        var t = Scorer.Compute(HandMadeTruth(), HandMadeResult()).Trees;
        Assert.Equal(3, t.TrueTrees);
        Assert.Equal((3, 0, 1, 2, 1), (t.Found, t.Missed, t.Extra, t.FoundById, t.FoundByPosition));
        Assert.Equal(["X-2"], t.ExtraIds);
        // Position errors 0, 0.05, 0.1414: median 0.05, p95 = 0.05 + 0.9 x (0.141421 - 0.05).
        Assert.Equal(0.05, t.PositionErrorM.Median!.Value, 6);
        Assert.Equal(0.05 + 0.9 * (Math.Sqrt(0.02) - 0.05), t.PositionErrorM.P95!.Value, 6);
        // Count errors +1 (5 vs 4), -1 (1 vs 2), 0 (0 vs 0): MAE 2/3, bias 0, MAPE (25 % + 50 %) / 2.
        Assert.Equal(2.0 / 3, t.CountMae, 9);
        Assert.Equal(0.0, t.CountBias, 9);
        Assert.Equal(37.5, t.CountMapePercent!.Value, 9);
    }

    [Fact]
    public void Cluster_matching_attribution_and_position_errors_are_exact()
    {
        var c = Scorer.Compute(HandMadeTruth(), HandMadeResult()).Clusters;
        Assert.Equal(6, c.VisibleTrue);
        Assert.Equal(8, c.Observations);
        Assert.Equal((5, 1, 2), (c.MatchedVisible, c.MatchedHidden, c.FalsePositives));
        // No frames in this truth: causes by position. o6 and o7 have no cluster within the tolerance; o5 found hidden c7.
        Assert.Equal(new CauseBreakdown(2, 2, 0, 0, 0, 0, 0, 0, 2), c.FalsePositiveCauses);
        Assert.Equal(new CauseBreakdown(1, 0, 0, 0, 0, 1, 0, 0, 1), c.MatchedHiddenCauses);
        Assert.Equal(3, c.AttributedCorrectly); // o1, o4, o8
        Assert.Equal(0.5, c.AttributionShare, 9);
        Assert.Equal(5.0 / 6, c.Recall, 9);
        Assert.Equal((1, 1, 1), (c.LowConfidenceObservations, c.LowConfidenceMatched, c.LowConfidenceAttributedCorrectly));
        // Horizontal errors 0, 0, 0.05, 0.1, 0.2, 0.3: median 0.075, p95 0.275.
        Assert.Equal(6, c.HorizontalErrorM.Count);
        Assert.Equal(0.075, c.HorizontalErrorM.Median!.Value, 6);
        Assert.Equal(0.275, c.HorizontalErrorM.P95!.Value, 6);
        Assert.Equal(5, c.HeightErrorM.Count); // o8 has no height
        Assert.Equal(0.0, c.HeightErrorM.P95!.Value, 6);
    }

    [Fact]
    public void A_hidden_cluster_touching_a_visible_one_does_not_take_its_observation()
    {
        // v is visible; h, hidden, hangs 2 cm from it. o1 lies 1 cm from h and 3 cm from v: by distance alone h would take
        // it and v would count as missed although o1 is where v is. o2, 1.5 m away, is a false positive either way.
        var truth = HandMadeTruth() with
        {
            Clusters =
            [
                Cluster("v", "R01-T001", 0.00, 0.2, 1.0, BbchStage.Bbch65, true),
                Cluster("h", "R01-T001", 0.02, 0.2, 1.0, BbchStage.Bbch65, false),
            ],
        };
        var result = new RunResult(
            [RTree("R01-T001", 0, 0, 2)],
            [Obs("o1", "R01-T001", 0.03, 0.2, 1.0, false, BbchStage.Bbch65), Obs("o2", "R01-T001", 1.5, 0.2, 1.0, false, BbchStage.Bbch65)]);
        var c = Scorer.Compute(truth, result).Clusters;
        Assert.Equal((1, 0, 1), (c.MatchedVisible, c.MatchedHidden, c.FalsePositives));
        Assert.Equal(1.0, c.AttributionShare, 9);
        Assert.Equal(0.03, c.HorizontalErrorM.Median!.Value, 6);
    }

    [Fact]
    public void Stage_confusion_is_exact()
    {
        var s = Scorer.Compute(HandMadeTruth(), HandMadeResult()).Stages;
        Assert.Equal(6, s.Compared);
        Assert.Equal(0.5, s.Accuracy!.Value, 9);
        Assert.Equal(1.0, s.WithinOneStage!.Value, 9);
        int I(BbchStage st) => BbchStages.IndexOf(st);
        Assert.Equal(2, s.Confusion[I(BbchStage.Bbch65)][I(BbchStage.Bbch65)]);
        Assert.Equal(1, s.Confusion[I(BbchStage.Bbch65)][I(BbchStage.Bbch67)]);
        Assert.Equal(1, s.Confusion[I(BbchStage.Bbch61)][I(BbchStage.Bbch65)]);
        Assert.Equal(1, s.Confusion[I(BbchStage.Bbch53)][I(BbchStage.Bbch54)]);
        Assert.Equal(1, s.Confusion[I(BbchStage.Bbch67)][I(BbchStage.Bbch67)]);
        Assert.Equal(6, s.Confusion.Sum(r => r.Sum()));
        Assert.Equal(3, s.TrueVisibleByStage["bbch65"]);
        Assert.Equal(5, s.ReportedByStage["bbch65"]);
        Assert.Equal(1, s.ReportedByStage["bbch54"]);
    }

    [Fact]
    public void A_perfect_result_scores_perfectly()
    {
        var truth = HandMadeTruth();
        var visible = truth.Clusters.Where(c => c.Visible).ToList();
        var result = new RunResult(
            [.. truth.Trees.Where(t => t.Present).Select(t => new ResultTree(t.TreeId, t.RowId, t.Latitude, t.Longitude, t.VisibleTotal,
                BbchStages.Ordered.ToDictionary(s => s, s => t.VisibleByStage[BbchStages.Label(s)])))],
            [.. visible.Select(c => new ResultObservation("p-" + c.ClusterId, c.TreeId, c.Latitude, c.Longitude, c.HeightM, false, c.Stage))]);
        var score = Scorer.Compute(truth, result);
        Assert.Equal((3, 0, 0), (score.Trees.Found, score.Trees.Missed, score.Trees.Extra));
        Assert.Equal(0, score.Trees.CountMae);
        Assert.Equal(1.0, score.Clusters.AttributionShare);
        Assert.Equal(0, score.Clusters.FalsePositives);
        Assert.Equal(1.0, score.Stages.Accuracy);
        Assert.Equal(0, score.Clusters.HorizontalErrorM.P95!.Value, 6);
    }

    [Fact]
    public void Store_gpkg_round_trips_into_the_same_score()
    {
        var dir = SimulatedRuns.TempDirectory("store");
        Directory.CreateDirectory(dir);
        try
        {
            var path = Path.Combine(dir, RunResult.StoreFile);
            var written = HandMadeResult();
            written = written with { Observations = [.. written.Observations.Select((o, i) => o with { Sightings = new ObservationSightings("cam-right", 10 * i, 10 * i + 4) })] };
            WriteStore(path, written);
            var read = RunResult.ReadStore(path);
            // Scoring only reads: a finished WAL-mode store gets no side files (they were left behind, empty, before).
            Assert.Equal([RunResult.StoreFile], Directory.GetFiles(dir).Select(Path.GetFileName));
            Assert.Equal(4, read.Trees.Count);
            Assert.Equal(8, read.Observations.Count);
            var o8 = read.Observations.Single(o => o.ObservationId == "o8");
            Assert.Null(o8.HeightM);
            Assert.Equal(BbchStage.Bbch54, o8.Stage);
            Assert.True(read.Observations.Single(o => o.ObservationId == "o3").LowConfidence);
            Assert.Equal(new ObservationSightings("cam-right", 20, 24), read.Observations.Single(o => o.ObservationId == "o3").Sightings);
            var fromStore = ScoreReport.ToJson(Scorer.Compute(HandMadeTruth(), read));
            var inMemory = ScoreReport.ToJson(Scorer.Compute(HandMadeTruth(), written));
            Assert.Equal(inMemory, fromStore);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>The run store's tables as docs/recording-format.md lists them, geometry as GeoPackage binary.</summary>
    internal static void WriteStore(string path, RunResult result)
    {
        var stages = string.Join(", ", BbchStages.Ordered.Select(s => BbchStages.Label(s) + " INTEGER"));
        using var db = new SqliteConnection($"Data Source={path};Pooling=False");
        db.Open();
        using (var create = db.CreateCommand())
        {
            // WAL, as the map writer's store (ADR 0040).
            create.CommandText = "PRAGMA journal_mode=WAL;" +
                $"CREATE TABLE trees (fid INTEGER PRIMARY KEY, geom BLOB, tree_id TEXT UNIQUE, row_id TEXT, tree_index INTEGER, clusters_total INTEGER, {stages}, frames_seen INTEGER, density_per_m REAL, confidence REAL);" +
                "CREATE TABLE observations (fid INTEGER PRIMARY KEY, geom BLOB, observation_id TEXT UNIQUE, tree_id TEXT, row_id TEXT, height_m REAL, along_row_m REAL, sigma_m REAL, " +
                "low_confidence INTEGER, low_confidence_reason TEXT, stage TEXT, score REAL, frames_seen INTEGER, first_frame INTEGER, last_frame INTEGER, camera_id TEXT, " +
                "gnss_quality TEXT, observed_at TEXT);";
            create.ExecuteNonQuery();
        }
        var writer = new GeoPackageGeoWriter();
        var factory = new GeometryFactory(new PrecisionModel(), 4326);
        foreach (var t in result.Trees)
        {
            using var insert = db.CreateCommand();
            insert.CommandText = $"INSERT INTO trees (geom, tree_id, row_id, clusters_total, {string.Join(", ", BbchStages.Ordered.Select(BbchStages.Label))}) " +
                $"VALUES ($g, $id, $row, $total, {string.Join(", ", BbchStages.Ordered.Select(s => "$" + BbchStages.Label(s)))})";
            insert.Parameters.AddWithValue("$g", writer.Write(factory.CreatePoint(new Coordinate(t.Longitude, t.Latitude))));
            insert.Parameters.AddWithValue("$id", t.TreeId);
            insert.Parameters.AddWithValue("$row", (object?)t.RowId ?? DBNull.Value);
            insert.Parameters.AddWithValue("$total", t.ClustersTotal);
            foreach (var s in BbchStages.Ordered)
            {
                insert.Parameters.AddWithValue("$" + BbchStages.Label(s), t.ClustersByStage[s]);
            }
            insert.ExecuteNonQuery();
        }
        foreach (var o in result.Observations)
        {
            using var insert = db.CreateCommand();
            insert.CommandText = "INSERT INTO observations (geom, observation_id, tree_id, height_m, low_confidence, stage, sigma_m, camera_id, first_frame, last_frame) " +
                "VALUES ($g, $id, $tree, $h, $low, $stage, 0.05, $camera, $first, $last)";
            insert.Parameters.AddWithValue("$g", writer.Write(factory.CreatePoint(new Coordinate(o.Longitude, o.Latitude))));
            insert.Parameters.AddWithValue("$id", o.ObservationId);
            insert.Parameters.AddWithValue("$tree", (object?)o.TreeId ?? DBNull.Value);
            insert.Parameters.AddWithValue("$h", (object?)o.HeightM ?? DBNull.Value);
            insert.Parameters.AddWithValue("$low", o.LowConfidence ? 1 : 0);
            insert.Parameters.AddWithValue("$stage", o.Stage is { } s ? BbchStages.Label(s) : DBNull.Value);
            var sightings = o.Sightings ?? new ObservationSightings("cam-right", 0, 0);
            insert.Parameters.AddWithValue("$camera", sightings.CameraId);
            insert.Parameters.AddWithValue("$first", sightings.FirstFrame);
            insert.Parameters.AddWithValue("$last", sightings.LastFrame);
            insert.ExecuteNonQuery();
        }
    }
}
