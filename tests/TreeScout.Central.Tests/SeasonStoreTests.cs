using TreeScout.Contracts;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Tests;
using TreeScout.Messaging;

namespace TreeScout.Central.Tests;

/// <summary>The season store on the real PostgreSQL + PostGIS, called directly (no broker).</summary>
[Trait("Category", "Integration")]
public sealed class SeasonStoreTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task Observations_before_RunStarted_and_duplicates_end_as_the_map_writers_trees_stored_once()
    {
        await using var db = await TestSeasonStore.CreateAsync();
        var run = new SyntheticRun("20260421-090000-noord-3-a1b2", rows: 2, treesPerRow: 8, clustersPerTree: (5, 30));
        var store = db.Store;

        // The first half of the observations overtakes RunStarted; some batches arrive twice.
        var half = run.Batches.Count / 2;
        foreach (var batch in run.Batches.Take(half))
        {
            await store.AddObservationsAsync("t-01", batch, None);
        }
        Assert.Equal(0, await db.ScalarAsync<long>($"SELECT count(*) FROM trees WHERE in_plan"));
        await store.StartRunAsync("t-01", run.Started, None);
        var duplicate = await store.AddObservationsAsync("t-01", run.Batches[0], None);
        Assert.Equal((0, run.Batches[0].Observations.Count), (duplicate.ObservationsInserted, duplicate.ObservationsDuplicate));
        foreach (var batch in run.Batches.Skip(half))
        {
            await store.AddObservationsAsync("t-01", batch, None);
        }
        await store.StartRunAsync("t-01", run.Started, None);
        await store.FuseRunAsync("t-01", run.Fused, DateTimeOffset.UtcNow, None);

        Assert.Equal(run.Observations.Count, await store.CountObservationsAsync(run.RunId, None));
        Assert.Equal(run.Observations.Count, await db.ScalarAsync<long>("SELECT count(DISTINCT observation_id) FROM observations_2026"));
        TractorReference.AssertSameTrees(TractorReference.Trees(run), await store.ReadTreesAsync(run.RunId, None));
        Assert.Equal(run.ExpectedClusters.Values.Sum(), (await store.ReadTreesAsync(run.RunId, None)).Sum(t => t.ClustersTotal));
    }

    /// <summary>Provisional observations corrected later (docs/adr/0073): the highest revision of each id is kept, as on the tractor.</summary>
    [Fact]
    public async Task Corrected_and_retracted_observations_end_as_the_map_writers_trees()
    {
        await using var db = await TestSeasonStore.CreateAsync();
        var run = new SyntheticRun("20260421-090000-noord-3-c3d4", rows: 1, treesPerRow: 5);
        var store = db.Store;
        await store.StartRunAsync("t-01", run.Started, None);
        foreach (var batch in run.Batches)
        {
            await store.AddObservationsAsync("t-01", batch, None);
        }
        var onT2 = run.Observations.Where(o => o.TreeId == "R01-T002" && !o.LowConfidence).Take(3).ToList();
        var (moved, retracted, twice) = (onT2[0], onT2[1], onT2[2]);
        TreeObservations Batch(params BlossomClusterObservation[] observations) => new() { MessageId = Guid.NewGuid(), RunId = run.RunId, Observations = observations };
        List<TreeObservations> corrections =
        [
            Batch(moved with { Revision = 2, TreeId = "R01-T003" }, retracted with { Revision = 2, Retracted = true }),
            // A redelivered first revision, and two revisions of one cluster in one message: the higher one counts.
            Batch(moved, retracted, twice with { Revision = 3, TreeId = "R01-T004" }, twice with { Revision = 2, TreeId = "R01-T001" }),
        ];
        var outcomes = new List<IngestOutcome>();
        foreach (var batch in corrections)
        {
            outcomes.Add(await store.AddObservationsAsync("t-01", batch, None));
        }

        Assert.Equal((0, 0, 2), (outcomes[0].ObservationsInserted, outcomes[0].ObservationsDuplicate, outcomes[0].ObservationsCorrected));
        Assert.Equal((0, 3, 1), (outcomes[1].ObservationsInserted, outcomes[1].ObservationsDuplicate, outcomes[1].ObservationsCorrected));
        var trees = (await store.ReadTreesAsync(run.RunId, None)).ToDictionary(t => t.TreeId, t => t.ClustersTotal);
        Assert.Equal(
            (run.ExpectedClusters["R01-T002"] - 3, run.ExpectedClusters["R01-T003"] + 1, run.ExpectedClusters["R01-T004"] + 1, run.ExpectedClusters["R01-T001"]),
            (trees["R01-T002"], trees["R01-T003"], trees["R01-T004"], trees["R01-T001"]));
        Assert.Equal(run.Observations.Count - 1, await store.CountObservationsAsync(run.RunId, None));
        TractorReference.AssertSameTrees(TractorReference.Trees(run, [.. run.Batches, .. corrections]), await store.ReadTreesAsync(run.RunId, None));
    }

    [Fact]
    public async Task A_row_scanned_from_both_sides_gets_the_map_writers_whole_tree_counts_and_per_side_counts()
    {
        await using var db = await TestSeasonStore.CreateAsync();
        var run = new SyntheticRun("20260421-090000-noord-3-both", rows: 2, treesPerRow: 6, clustersPerTree: (10, 30));
        // Every third cluster seen from the left alley, the rest from the right: both sides' sightings of one tree.
        var batches = run.Batches.Select(b => b with
        {
            Observations = [.. b.Observations.Select((o, i) => o with { RowSide = i % 3 == 0 ? TreeScout.Contracts.RowSides.Left : TreeScout.Contracts.RowSides.Right })],
        }).ToList();
        await db.Store.StartRunAsync("t-01", run.Started, None);
        foreach (var batch in batches)
        {
            await db.Store.AddObservationsAsync("t-01", batch, None);
        }

        var expected = TractorReference.Trees(run, batches);
        var stored = await db.Store.ReadTreesAsync(run.RunId, None);
        TractorReference.AssertSameTrees(expected, stored);
        // Counted once where both sides saw it: less than the two sides' sum on every tree seen from both.
        var both = stored.Where(t => t.ClustersSeenLeft > 0 && t.ClustersSeenRight > 0).ToList();
        Assert.NotEmpty(both);
        Assert.All(both, t => Assert.Equal(WholeTreeCount.Of(t.ClustersSeenLeft, t.ClustersSeenRight, 0), t.ClustersTotal));
        Assert.All(both, t => Assert.True(t.ClustersTotal < t.ClustersSeenLeft + t.ClustersSeenRight));
    }

    [Fact]
    public async Task Two_replicas_storing_one_runs_batches_at_once_end_with_the_map_writers_trees()
    {
        await using var db = await TestSeasonStore.CreateAsync();
        // One tree, one observation per message, every message in flight at once on two replicas: without the run lock
        // the last transactions would each recompute the tree without the other's cluster.
        var run = new SyntheticRun("20260421-090000-noord-3-rep2", rows: 1, treesPerRow: 1, clustersPerTree: (80, 81), batchSize: 1);
        var replicas = new[] { db.Store, new SeasonStore(db.DataSource, TestSeasonStore.Varieties, new TreeScout.MapWriter.MapWriterOptions()) };
        await db.Store.StartRunAsync("t-01", run.Started, None);
        await Task.WhenAll(run.Batches.Select((batch, i) => replicas[i % 2].AddObservationsAsync("t-01", batch, None)));

        Assert.Equal(run.Observations.Count, await db.Store.CountObservationsAsync(run.RunId, None));
        TractorReference.AssertSameTrees(TractorReference.Trees(run), await db.Store.ReadTreesAsync(run.RunId, None));
    }

    [Fact]
    public async Task A_run_id_another_tractor_sent_first_is_refused_and_nothing_of_it_is_stored()
    {
        await using var db = await TestSeasonStore.CreateAsync();
        var run = new SyntheticRun("20260421-090000-zuid-1-c3d4", rows: 1, treesPerRow: 3, clustersPerTree: (2, 5));
        await db.Store.StartRunAsync("t-01", run.Started, None);
        var ex = await Assert.ThrowsAsync<MalformedMessageException>(() => db.Store.AddObservationsAsync("t-02", run.Batches[0], None));
        Assert.Equal($"run {run.RunId} came from tractor t-01 before; tractor t-02 sent it now, so none of it is stored (check the uplink's tractor id)", ex.Message);
        Assert.Equal(0, await db.Store.CountObservationsAsync(run.RunId, None));
    }

    [Fact]
    public async Task The_season_view_lists_each_blocks_latest_run_of_the_farm_once_its_tractor_is_registered()
    {
        await using var db = await TestSeasonStore.CreateAsync();
        var older = new SyntheticRun("20260415-090000-noord-3-0001", rows: 1, treesPerRow: 4, seed: 1, clustersPerTree: (2, 6));
        var latest = new SyntheticRun("20260421-090000-noord-3-0002", rows: 1, treesPerRow: 4, seed: 2, clustersPerTree: (10, 20));
        foreach (var (run, startedAt) in new[] { (older, new DateTimeOffset(2026, 4, 15, 9, 0, 0, TimeSpan.Zero)), (latest, new DateTimeOffset(2026, 4, 21, 9, 0, 0, TimeSpan.Zero)) })
        {
            await db.Store.StartRunAsync("t-01", run.Started with { StartedAtUtc = startedAt }, None);
            foreach (var batch in run.Batches)
            {
                await db.Store.AddObservationsAsync("t-01", batch, None);
            }
            await db.Store.FuseRunAsync("t-01", run.Fused, startedAt.AddHours(1), None);
        }
        // Not registered yet: the runs have no farm.
        Assert.Empty(await SeasonView.ReadAsync(db.DataSource, "hof-a", 2026, None));
        Assert.Equal(2, await db.Store.RegisterTractorAsync("t-01", "hof-a", None));

        var block = Assert.Single(await SeasonView.ReadAsync(db.DataSource, "hof-a", 2026, None));
        Assert.Equal(latest.RunId, block.Run.RunId);
        Assert.Equal("complete", block.Run.Status);
        Assert.Equal(4, block.Trees);
        Assert.Equal(latest.ExpectedClusters.Values.Sum(), block.Clusters);
        Assert.Equal(latest.ExpectedClusters.Values.Sum() / 4.0, block.MeanClustersPerTree);
        Assert.Equal(latest.ExpectedPerStage.MaxBy(kv => kv.Value).Key, block.DominantStage);
        Assert.Equal(latest.Observations.Count, block.Run.Observations);
        Assert.Empty(await SeasonView.ReadAsync(db.DataSource, "hof-a", 2025, None));
    }

    [Fact]
    public async Task Export_rebuilds_the_run_folder_with_the_map_writers_trees_and_every_format()
    {
        await using var db = await TestSeasonStore.CreateAsync();
        var run = new SyntheticRun("20260421-090000-export-e5f6", rows: 2, treesPerRow: 5, clustersPerTree: (5, 15));
        await db.Store.StartRunAsync("t-01", run.Started, None);
        foreach (var batch in run.Batches)
        {
            await db.Store.AddObservationsAsync("t-01", batch, None);
        }
        var unfinished = await Assert.ThrowsAsync<RunReplayException>(() =>
            RunReplay.WriteRunFolderAsync(db.DataSource, run.RunId, Path.Combine(Path.GetTempPath(), "unused"), TestSeasonStore.Varieties, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance, None));
        Assert.Equal($"run {run.RunId}: not finished yet (no RunFused has arrived); its final map is exported once it has", unfinished.Message);
        await db.Store.FuseRunAsync("t-01", run.Fused, DateTimeOffset.UtcNow, None);

        var folder = Path.Combine(Path.GetTempPath(), $"ts-central-export-{Guid.NewGuid():N}");
        try
        {
            var files = await RunReplay.WriteRunFolderAsync(db.DataSource, run.RunId, folder, TestSeasonStore.Varieties, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance, None);
            Assert.Equal(
                ["TASKDATA.XML", "map.gpkg", "map.png", "trees.csv", "trees.geojson", "trees.parquet", "zones.shp"],
                files.Select(Path.GetFileName).Where(f => f is "TASKDATA.XML" or "map.gpkg" or "map.png" or "trees.csv" or "trees.geojson" or "trees.parquet" or "zones.shp").Order(StringComparer.Ordinal));
            Assert.All(files, f => Assert.True(new FileInfo(f).Length > 0, f));
            using var replayed = TreeScout.MapWriter.Store.RunStore.OpenReadOnly(Path.Combine(folder, "store.gpkg"));
            TractorReference.AssertSameTrees(TractorReference.Trees(run), replayed.ReadTrees());
            Assert.Equal(run.Observations.Count, replayed.CountObservations());
            Assert.True(File.Exists(Path.Combine(folder, "run.json")));
            var notEmpty = await Assert.ThrowsAsync<RunReplayException>(() =>
                RunReplay.WriteRunFolderAsync(db.DataSource, run.RunId, folder, TestSeasonStore.Varieties, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance, None));
            Assert.Equal($"{folder}: not empty; a run folder holds one run, give a new or empty folder", notEmpty.Message);
        }
        finally
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }
}
