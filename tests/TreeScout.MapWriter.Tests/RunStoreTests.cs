using System.Buffers.Binary;
using Microsoft.Data.Sqlite;
using TreeScout.Contracts;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Prescription;
using TreeScout.MapWriter.Store;

namespace TreeScout.MapWriter.Tests;

public sealed class RunStoreTests
{
    private static RunStore Seed(TempDir dir, SyntheticRun run, string name = "store.gpkg")
    {
        var store = RunStore.OpenOrCreate(dir[name]);
        store.AddPlannedTrees(run.Plan.Trees, run.Plan.Trees.ToDictionary(t => t.Id, _ => SyntheticRun.TreeSpacingM));
        return store;
    }

    /// <summary>A store with the plan and every message of the run, stored one by one as the worker does.</summary>
    private static RunStore Ingest(TempDir dir, SyntheticRun run, VarietyProfile? profile)
    {
        var store = Seed(dir, run);
        foreach (var batch in run.Batches)
        {
            store.AddObservations(batch.MessageId, batch.Observations, profile);
        }
        return store;
    }

    [Trait("Category", "Unit")]
    [Fact]
    public void Aggregates_equal_the_confident_observations_per_tree_and_stage()
    {
        using var dir = new TempDir();
        var run = new SyntheticRun("run-agg", rows: 2, treesPerRow: 6);
        using var store = Ingest(dir, run, MapWriterTestData.Gala);

        var trees = store.ReadTrees().ToDictionary(t => t.TreeId);
        Assert.Equal(12, trees.Count);
        foreach (var tree in run.Plan.Trees)
        {
            var record = trees[tree.Id];
            Assert.Equal(run.ExpectedClusters.GetValueOrDefault(tree.Id), record.ClustersTotal);
            Assert.Equal(record.ClustersTotal, record.ClustersPerStage.Sum());
            var own = run.Observations.Where(o => o.TreeId == tree.Id).ToList();
            Assert.Equal(own.Count(o => o.LowConfidence), record.ClustersLowConfidence);
            Assert.Equal((double)own.Count(o => !o.LowConfidence) / own.Count, record.Confidence, 9);
            Assert.Equal(record.ClustersTotal / SyntheticRun.TreeSpacingM, record.DensityPerM!.Value, 9);
            Assert.InRange(record.FramesSeen, 1, 20);
            Assert.NotNull(record.RateLPerHa);
        }
        foreach (var (stage, n) in run.ExpectedPerStage)
        {
            Assert.Equal(n, trees.Values.Sum(t => t.ClustersAt(stage)));
        }
        Assert.Equal(run.Observations.Count, store.CountObservations());
    }

    [Trait("Category", "Unit")]
    [Fact]
    public void Redelivered_observations_are_not_counted_twice()
    {
        using var dir = new TempDir();
        var run = new SyntheticRun("run-dup", rows: 1, treesPerRow: 5);
        using var store = Seed(dir, run);
        var first = store.AddObservations(run.Batches[0].MessageId, run.Batches[0].Observations, null);
        var again = store.AddObservations(run.Batches[0].MessageId, run.Batches[0].Observations, null);
        // A different batch that repeats half of the first one's clusters (fusion re-emitting after a restart).
        var mixed = run.Batches[0].Observations.Take(20).Concat(run.Batches[1].Observations).ToList();
        var third = store.AddObservations(Guid.NewGuid(), mixed, null);

        Assert.Equal(run.Batches[0].Observations.Count, first.Inserted);
        Assert.Equal(0, again.Inserted);
        Assert.Equal(run.Batches[0].Observations.Count, again.Duplicates);
        Assert.Equal(run.Batches[1].Observations.Count, third.Inserted);
        Assert.Equal(20, third.Duplicates);
        var expected = run.Batches[0].Observations.Concat(run.Batches[1].Observations)
            .Where(o => !o.LowConfidence && o.TreeId is not null).GroupBy(o => o.TreeId!).ToDictionary(g => g.Key, g => g.Count());
        foreach (var tree in store.ReadTrees())
        {
            Assert.Equal(expected.GetValueOrDefault(tree.TreeId), tree.ClustersTotal);
        }
    }

    [Trait("Category", "Unit")]
    [Fact]
    public void Without_a_plan_trees_are_created_from_confident_observations_at_their_centroid()
    {
        using var dir = new TempDir();
        var run = new SyntheticRun("run-noplan", rows: 1, treesPerRow: 3, lowConfidenceShare: 0.3);
        using var store = RunStore.OpenOrCreate(dir["store.gpkg"]);
        foreach (var batch in run.Batches)
        {
            store.AddObservations(batch.MessageId, batch.Observations, null);
        }
        var trees = store.ReadTrees();
        Assert.Equal(run.Plan.Trees.Select(t => t.Id).Order(), trees.Select(t => t.TreeId).Order());
        foreach (var tree in trees)
        {
            Assert.False(tree.InPlan);
            var confident = run.Observations.Where(o => o.TreeId == tree.TreeId && !o.LowConfidence).ToList();
            Assert.Equal(confident.Average(o => o.Latitude), tree.Latitude!.Value, 9);
            Assert.Equal(confident.Average(o => o.Longitude), tree.Longitude!.Value, 9);
            Assert.Equal(int.Parse(tree.TreeId[^3..], System.Globalization.CultureInfo.InvariantCulture), tree.TreeIndex);
        }
    }

    [Trait("Category", "Unit")]
    [Fact]
    public void A_low_confidence_observation_of_an_unknown_tree_does_not_invent_a_tree()
    {
        using var dir = new TempDir();
        var run = new SyntheticRun("run-ghost", rows: 1, treesPerRow: 2);
        using var store = Seed(dir, run);
        var ghost = run.Observations[0] with { ObservationId = Guid.NewGuid(), TreeId = "R09-T001", RowId = "R09", LowConfidence = true, LowConfidenceReason = "no pose" };
        var result = store.AddObservations(Guid.NewGuid(), [ghost], null);
        Assert.Equal(1, result.Inserted);
        Assert.DoesNotContain(store.ReadTrees(), t => t.TreeId == "R09-T001");
        Assert.Equal(1, store.CountObservations());
    }

    [Trait("Category", "Integration")]
    [Fact]
    public void The_store_is_a_valid_geopackage_that_gdal_opens_while_the_writer_holds_it_open()
    {
        using var dir = new TempDir();
        var run = new SyntheticRun("run-gdal", rows: 2, treesPerRow: 4);
        using var store = Seed(dir, run);
        store.AddObservations(run.Batches[0].MessageId, run.Batches[0].Observations, MapWriterTestData.Gala);

        // The writer's connection stays open (mid-run); GDAL reads the committed state through the WAL.
        var trees = Ogr.Info(dir["store.gpkg"], "trees");
        Assert.Equal(8, trees.FeatureCount);
        Assert.Equal("Point", trees.Geometry);
        Assert.True(trees.IsWgs84, trees.Text);
        foreach (var field in new[] { "tree_id", "row_id", "tree_index", "clusters_total", "bbch53", "bbch65", "bbch71", "frames_seen", "density_per_m", "confidence", "rate_l_ha" })
        {
            Assert.True(trees.Fields.ContainsKey(field), $"trees has no {field}: {trees.Text}");
        }
        var observations = Ogr.Info(dir["store.gpkg"], "observations");
        Assert.Equal(run.Batches[0].Observations.Count, observations.FeatureCount);
        foreach (var field in new[] { "observation_id", "tree_id", "row_id", "height_m", "along_row_m", "sigma_m", "low_confidence", "low_confidence_reason", "stage", "score", "frames_seen", "camera_id", "gnss_quality", "observed_at" })
        {
            Assert.True(observations.Fields.ContainsKey(field), $"observations has no {field}: {observations.Text}");
        }
        var metadata = Ogr.Info(dir["store.gpkg"], "run_metadata");
        Assert.True(metadata.Fields.ContainsKey("key"));

        using var check = new SqliteConnection($"Data Source={dir["store.gpkg"]};Mode=ReadOnly;Pooling=False");
        check.Open();
        using var cmd = check.CreateCommand();
        cmd.CommandText = "PRAGMA journal_mode; ";
        Assert.Equal("wal", cmd.ExecuteScalar());
        cmd.CommandText = "PRAGMA application_id";
        Assert.Equal(0x47504B47L, cmd.ExecuteScalar());
        cmd.CommandText = "SELECT min_x < max_x AND min_y < max_y FROM gpkg_contents WHERE table_name = 'observations'";
        Assert.Equal(1L, cmd.ExecuteScalar());
        Assert.Equal("ok", store.IntegrityCheck());
    }

    [Trait("Category", "Unit")]
    [Fact]
    public void Opening_something_that_is_not_a_run_store_fails_with_the_path_in_the_message()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["junk.gpkg"], "this is not a database, just text that is long enough to look like a header...................................................");
        var ex = Assert.Throws<RunStoreException>(() => RunStore.OpenReadOnly(dir["junk.gpkg"]));
        Assert.Contains(dir["junk.gpkg"], ex.Message, StringComparison.Ordinal);
        var missing = Assert.Throws<RunStoreException>(() => RunStore.OpenReadOnly(dir["none.gpkg"]));
        Assert.Contains("does not exist", missing.Message, StringComparison.Ordinal);
    }

    [Trait("Category", "Unit")]
    [Fact]
    public void A_trees_clusters_read_back_as_stored_in_the_order_they_were_stored()
    {
        using var dir = new TempDir();
        var run = new SyntheticRun("run-clusters", rows: 1, treesPerRow: 2);
        using var store = Ingest(dir, run, profile: null);
        var expected = run.Observations.Where(o => o.TreeId == "R01-T002").Select(o => new TreeCluster(
            o.Stage, o.LowConfidence, o.Score, o.CameraId, o.FirstFrameSequence, o.LastFrameSequence, o.Latitude, o.Longitude)).ToList();

        Assert.NotEmpty(expected);
        Assert.Equal(expected, store.ReadClusters("R01-T002")); // positions to the last bit, as they were sent
        Assert.Empty(store.ReadClusters("R09-T001"));
    }

    [Trait("Category", "Unit")]
    [Fact]
    public void A_point_another_geopackage_writer_stored_big_endian_without_envelope_is_read_too()
    {
        using var dir = new TempDir();
        var run = new SyntheticRun("run-gdal-point", rows: 1, treesPerRow: 1);
        using (var store = Seed(dir, run))
        {
            store.AddObservations(run.Batches[0].MessageId, run.Batches[0].Observations.Take(1).ToList(), null);
        }
        // GeoPackage binary: "GP", version 0, flags 0 (big-endian header, no envelope), srs_id 4326, then big-endian ISO WKB Point.
        var blob = new byte[8 + 21];
        "GP"u8.CopyTo(blob);
        BinaryPrimitives.WriteInt32BigEndian(blob.AsSpan(4), 4326);
        blob[8] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(blob.AsSpan(9), 1);
        BinaryPrimitives.WriteDoubleBigEndian(blob.AsSpan(13), 5.125);
        BinaryPrimitives.WriteDoubleBigEndian(blob.AsSpan(21), 51.875);
        using (var edit = new SqliteConnection($"Data Source={dir["store.gpkg"]};Pooling=False"))
        {
            edit.Open();
            using var cmd = edit.CreateCommand();
            cmd.CommandText = "UPDATE observations SET geom = @g";
            cmd.Parameters.AddWithValue("@g", blob);
            Assert.Equal(1, cmd.ExecuteNonQuery());
        }

        using var reopened = RunStore.OpenOrCreate(dir["store.gpkg"]);
        var cluster = Assert.Single(reopened.ReadClusters(run.Batches[0].Observations[0].TreeId!));
        Assert.Equal((51.875, 5.125), (cluster.Latitude, cluster.Longitude));
    }

    [Trait("Category", "Unit")]
    [Fact]
    public void Frames_seen_is_the_union_of_frame_ranges_per_camera()
    {
        using var dir = new TempDir();
        var run = new SyntheticRun("run-frames", rows: 1, treesPerRow: 1);
        using var store = Seed(dir, run);
        var template = run.Observations.First(o => !o.LowConfidence);
        BlossomClusterObservation Obs(long first, long last, string camera) => template with
        {
            ObservationId = Guid.NewGuid(), FirstFrameSequence = first, LastFrameSequence = last, FramesSeen = (int)(last - first + 1), CameraId = camera,
        };
        // cam-right: 10..14 and 12..20 overlap → 11 frames; 30..30 → 1; cam-left 10..12 → 3. Total 15.
        store.AddObservations(Guid.NewGuid(), [Obs(10, 14, "cam-right"), Obs(12, 20, "cam-right"), Obs(30, 30, "cam-right"), Obs(10, 12, "cam-left")], null);
        Assert.Equal(15, store.ReadTrees().Single().FramesSeen);
    }
}
