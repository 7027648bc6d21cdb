using Microsoft.Data.Sqlite;
using TreeScout.Contracts;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Exports;
using TreeScout.MapWriter.Prescription;
using TreeScout.MapWriter.Store;

namespace TreeScout.MapWriter.Tests;

/// <summary>
/// The values the worker stored while a run came in message by message (each ingest recomputing only the trees it
/// touched) against <see cref="TreeAggregate"/> over each tree's final clusters, and the read-only way to read them.
/// </summary>
[Trait("Category", "Unit")]
public sealed class StoredTreeValuesTests(CompletedRunFixture run) : IClassFixture<CompletedRunFixture>
{
    [Fact]
    public void Every_stored_tree_equals_TreeAggregate_of_its_stored_clusters_to_the_last_bit()
    {
        using var store = RunStore.OpenReadOnly(run.Folder.StorePath);
        var profile = RunMetadataKeys.ReadProfile(store.ReadMetadata());
        Assert.NotNull(profile);
        var trees = store.ReadTrees();
        Assert.Equal(run.Run.Plan.Trees.Count, trees.Count);
        foreach (var stored in trees)
        {
            var identity = new TreeRecord
            {
                TreeId = stored.TreeId, RowId = stored.RowId, TreeIndex = stored.TreeIndex, InPlan = stored.InPlan,
                SpacingM = stored.SpacingM, Latitude = stored.Latitude, Longitude = stored.Longitude,
            };
            var clusters = store.ReadClusters(stored.TreeId);
            Assert.Equal(run.Run.Observations.Count(o => o.TreeId == stored.TreeId), clusters.Count);

            var computed = TreeAggregate.Of(identity, clusters, profile);

            Assert.Equal(stored, computed, TreeValues.Comparer); // doubles compared exactly
        }
    }

    [Fact]
    public void ReadOnly_gives_another_profiles_prescription_and_leaves_every_file_of_the_run_as_it_was()
    {
        var before = RunFiles.Hashes(run.Folder.Path);
        // A window (BBCH 53–54) long past for this block, so the preview's bloom-timing warning is told apart from Gala's.
        var profile = MapWriterTestData.RoundNumbers(targetClustersPerTree: 80) with
        {
            Variety = "Preview", BloomWindow = new BloomWindow(BbchStage.Bbch53, BbchStage.Bbch54, 0.3),
        };

        var preview = RunSnapshot.ReadOnly(run.Folder.StorePath, profile);
        var own = RunSnapshot.ReadOnly(run.Folder.StorePath);
        SqliteConnection.ClearAllPools();

        Assert.Equal(before, RunFiles.Hashes(run.Folder.Path));
        Assert.True(preview.Represcribed);
        Assert.False(own.Represcribed);
        Assert.Equal("Gala", own.Profile!.Variety);
        Assert.Equal(run.StoredTrees, own.Trees, TreeValues.Comparer);
        Assert.Equal(run.StoredTrees.Select(t => TreeAggregate.Prescribe(t, profile)), preview.Trees, TreeValues.Comparer);
        Assert.All(preview.Trees, t => Assert.Equal(ThinningPrescription.For(profile, t.ClustersTotal).RateLPerHa, t.RateLPerHa!.Value, 9));
        Assert.Contains(preview.Warnings, w => w.StartsWith("too late to thin Preview", StringComparison.Ordinal));

        var missing = Assert.Throws<RunStoreException>(() => RunSnapshot.ReadOnly(Path.Combine(run.Scratch("none"), "store.gpkg")));
        Assert.Contains("does not exist", missing.Message, StringComparison.Ordinal);
    }
}
