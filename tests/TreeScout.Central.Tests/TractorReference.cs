using TreeScout.MapWriter;
using TreeScout.MapWriter.Store;
using TreeScout.MapWriter.Tests;

namespace TreeScout.Central.Tests;

/// <summary>What the tractor's map writer computes for a run: its own store fed the run's messages in order.</summary>
internal static class TractorReference
{
    public static IReadOnlyList<TreeRecord> Trees(SyntheticRun run, IReadOnlyList<TreeScout.Contracts.TreeObservations>? batches = null)
    {
        var folder = Path.Combine(Path.GetTempPath(), $"ts-central-ref-{Guid.NewGuid():N}");
        try
        {
            using var store = RunStore.OpenOrCreate(Path.Combine(folder, RunFolder.StoreFileName));
            var profile = TestSeasonStore.Varieties.Find(run.Started.Variety);
            store.AddPlannedTrees(run.Plan.Trees, MapWriterHandler.PlannedSpacing(run.Plan, new MapWriterOptions().DefaultTreeSpacingM));
            foreach (var batch in batches ?? run.Batches)
            {
                store.AddObservations(batch.MessageId, batch.Observations, profile);
            }
            return store.ReadTrees();
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>Every per-tree value of the central store equals the map writer's, tree by tree.</summary>
    public static void AssertSameTrees(IReadOnlyList<TreeRecord> expected, IReadOnlyList<TreeRecord> actual)
    {
        Assert.Equal(expected.Select(t => t.TreeId), actual.Select(t => t.TreeId));
        foreach (var (e, a) in expected.Zip(actual))
        {
            Assert.Equal(e.ClustersTotal, a.ClustersTotal);
            Assert.Equal((e.ClustersSeenLeft, e.ClustersSeenRight), (a.ClustersSeenLeft, a.ClustersSeenRight));
            Assert.Equal(e.ClustersPerStage, a.ClustersPerStage);
            Assert.Equal(e.ClustersLowConfidence, a.ClustersLowConfidence);
            Assert.Equal(e.FramesSeen, a.FramesSeen);
            Assert.Equal(e.InPlan, a.InPlan);
            Assert.Equal(e.RowId, a.RowId);
            Assert.Equal(e.TreeIndex, a.TreeIndex);
            Assert.Equal(e.SpacingM!.Value, a.SpacingM!.Value, 9);
            Assert.Equal(e.DensityPerM!.Value, a.DensityPerM!.Value, 9);
            Assert.Equal(e.Confidence, a.Confidence, 12);
            Assert.Equal(e.MeanScore ?? -1, a.MeanScore ?? -1, 9);
            Assert.Equal(e.DosePercent, a.DosePercent);
            Assert.Equal(e.RateLPerHa, a.RateLPerHa);
            Assert.Equal(e.ZoneClass, a.ZoneClass);
            Assert.Equal(e.Latitude!.Value, a.Latitude!.Value, 9);
            Assert.Equal(e.Longitude!.Value, a.Longitude!.Value, 9);
        }
    }
}
