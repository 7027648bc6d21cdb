using Microsoft.Data.Sqlite;
using TreeScout.Contracts;
using TreeScout.MapWriter.Store;

namespace TreeScout.MapWriter.Tests;

/// <summary>Provisional observations corrected later (docs/adr/0073): the store keeps the highest revision of each id.</summary>
[Trait("Category", "Unit")]
public sealed class ObservationRevisionTests
{
    private const string From = "R01-T002";
    private const string To = "R01-T003";

    /// <summary>A store with a run's plan and observations, and one confident observation of <see cref="From"/> to correct.</summary>
    private static (SyntheticRun Run, RunStore Store, BlossomClusterObservation Cluster) Seeded(TempDir dir, string runId)
    {
        var run = new SyntheticRun(runId, rows: 1, treesPerRow: 5);
        var store = RunStore.OpenOrCreate(dir["store.gpkg"]);
        store.AddPlannedTrees(run.Plan.Trees, run.Plan.Trees.ToDictionary(t => t.Id, _ => SyntheticRun.TreeSpacingM));
        store.AddObservations(Guid.NewGuid(), run.Observations, MapWriterTestData.Gala);
        return (run, store, run.Observations.First(o => o.TreeId == From && !o.LowConfidence));
    }

    private static Dictionary<string, int> Totals(RunStore store) => store.ReadTrees().ToDictionary(t => t.TreeId, t => t.ClustersTotal);

    [Fact]
    public void A_higher_revision_moves_the_cluster_and_recomputes_both_trees()
    {
        using var dir = new TempDir();
        var (run, store, cluster) = Seeded(dir, "run-revision");
        using var _ = store;
        var (from, to) = (run.ExpectedClusters[From], run.ExpectedClusters[To]);
        Assert.Equal((from, to), (Totals(store)[From], Totals(store)[To]));

        var moved = cluster with { Revision = 2, TreeId = To, Stage = BbchStage.Bbch71, FramesSeen = 17 };
        var result = store.AddObservations(Guid.NewGuid(), [moved], MapWriterTestData.Gala);

        Assert.Equal((0, 0, 1, 2), (result.Inserted, result.Duplicates, result.Corrected, result.TreesUpdated));
        Assert.Equal((from - 1, to + 1), (Totals(store)[From], Totals(store)[To]));
        Assert.Equal(run.Observations.Count, store.CountObservations());
        Assert.Equal(run.ExpectedClusters.Values.Sum(), Totals(store).Values.Sum());
        Assert.Equal((To, "bbch71", 17L, 2L), Stored(dir, cluster.ObservationId));
    }

    [Fact]
    public void A_lower_or_equal_revision_is_a_redelivery_and_changes_nothing()
    {
        using var dir = new TempDir();
        var (run, store, cluster) = Seeded(dir, "run-revision-old");
        using var _ = store;
        store.AddObservations(Guid.NewGuid(), [cluster with { Revision = 3, TreeId = To }], MapWriterTestData.Gala);
        var after = Totals(store);

        var equal = store.AddObservations(Guid.NewGuid(), [cluster with { Revision = 3, TreeId = From }], MapWriterTestData.Gala);
        var lower = store.AddObservations(Guid.NewGuid(), [cluster with { Revision = 2, TreeId = From }, cluster], MapWriterTestData.Gala);

        Assert.Equal((0, 1, 0), (equal.Inserted, equal.Duplicates, equal.Corrected));
        Assert.Equal((0, 2, 0), (lower.Inserted, lower.Duplicates, lower.Corrected));
        Assert.Equal(after, Totals(store));
        Assert.Equal((run.ExpectedClusters[From] - 1, run.ExpectedClusters[To] + 1), (after[From], after[To]));
        Assert.Equal((To, BbchStages.Label(cluster.Stage), (long)cluster.FramesSeen, 3L), Stored(dir, cluster.ObservationId));
    }

    [Fact]
    public void A_retraction_takes_the_cluster_off_its_tree_and_an_older_copy_cannot_bring_it_back()
    {
        using var dir = new TempDir();
        var (run, store, cluster) = Seeded(dir, "run-retract");
        using var _ = store;

        var retracted = store.AddObservations(Guid.NewGuid(), [cluster with { Revision = 2, Retracted = true }], MapWriterTestData.Gala);
        var late = store.AddObservations(Guid.NewGuid(), [cluster], MapWriterTestData.Gala);

        Assert.Equal((0, 1, 1), (retracted.Inserted, retracted.Corrected, retracted.TreesUpdated));
        Assert.Equal((0, 1), (late.Inserted, late.Duplicates));
        Assert.Equal(run.ExpectedClusters[From] - 1, Totals(store)[From]);
        Assert.Equal(run.Observations.Count - 1, store.CountObservations());

        // A later revision that shows it again (its track's final observation) is stored anew.
        var again = store.AddObservations(Guid.NewGuid(), [cluster with { Revision = 3 }], MapWriterTestData.Gala);
        Assert.Equal((1, 0), (again.Inserted, again.Duplicates));
        Assert.Equal(run.ExpectedClusters[From], Totals(store)[From]);
        Assert.Equal(run.Observations.Count, store.CountObservations());
    }

    [Fact]
    public void A_store_written_before_revisions_gains_the_column_and_reads_its_observations_as_revision_1()
    {
        using var dir = new TempDir();
        var (run, store, cluster) = Seeded(dir, "run-revision-migrate");
        store.Dispose();
        using (var db = new SqliteConnection($"Data Source={dir["store.gpkg"]};Pooling=False"))
        {
            db.Open();
            using var drop = db.CreateCommand();
            drop.CommandText = "ALTER TABLE observations DROP COLUMN revision";
            drop.ExecuteNonQuery();
        }
        using var migrated = RunStore.OpenOrCreate(dir["store.gpkg"]);
        Assert.Equal(1, migrated.AddObservations(Guid.NewGuid(), [cluster], MapWriterTestData.Gala).Duplicates);
        var corrected = migrated.AddObservations(Guid.NewGuid(), [cluster with { Revision = 2, TreeId = To }], MapWriterTestData.Gala);
        Assert.Equal(1, corrected.Corrected);
        Assert.Equal((run.ExpectedClusters[From] - 1, run.ExpectedClusters[To] + 1), (Totals(migrated)[From], Totals(migrated)[To]));
    }

    private static (string? Tree, string Stage, long Frames, long Revision) Stored(TempDir dir, Guid id)
    {
        using var db = new SqliteConnection($"Data Source={dir["store.gpkg"]};Mode=ReadOnly;Pooling=False");
        db.Open();
        using var select = db.CreateCommand();
        select.CommandText = "SELECT tree_id, stage, frames_seen, revision FROM observations WHERE observation_id = @id";
        select.Parameters.AddWithValue("@id", id.ToString("D"));
        using var r = select.ExecuteReader();
        Assert.True(r.Read());
        return (r.IsDBNull(0) ? null : r.GetString(0), r.GetString(1), r.GetInt64(2), r.GetInt64(3));
    }
}
