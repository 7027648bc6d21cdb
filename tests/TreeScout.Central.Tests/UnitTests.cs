using Microsoft.Extensions.Logging.Abstractions;
using TreeScout.Contracts;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Tests;
using TreeScout.Messaging;

namespace TreeScout.Central.Tests;

[Trait("Category", "Unit")]
public sealed class BlockSeasonTests
{
    private static readonly SeasonRun Run = new("r1", "Noord 3", "t-01", "Elstar", DateTimeOffset.UnixEpoch, null, null, null, 0, null);

    private static int[] Stages(params (BbchStage Stage, int Count)[] counts)
    {
        var stages = new int[BbchStages.Count];
        foreach (var (stage, count) in counts)
        {
            stages[BbchStages.IndexOf(stage)] = count;
        }
        return stages;
    }

    [Fact]
    public void Counts_trees_clusters_mean_and_the_dominant_stage_over_the_block()
    {
        var block = BlockSeason.Of(Run,
        [
            (7, Stages((BbchStage.Bbch61, 3), (BbchStage.Bbch65, 4))),
            (5, Stages((BbchStage.Bbch61, 5))),
            (0, Stages()),
        ]);
        Assert.Equal(3, block.Trees);
        Assert.Equal(2, block.TreesWithClusters);
        Assert.Equal(12, block.Clusters);
        Assert.Equal(4.0, block.MeanClustersPerTree);
        Assert.Equal(BbchStage.Bbch61, block.DominantStage);
        Assert.Equal(8, block.ClustersPerStage[BbchStages.IndexOf(BbchStage.Bbch61)]);
        Assert.Equal(4, block.ClustersPerStage[BbchStages.IndexOf(BbchStage.Bbch65)]);
    }

    [Fact]
    public void A_tie_goes_to_the_earlier_stage_and_no_clusters_means_no_stage()
    {
        Assert.Equal(BbchStage.Bbch61, BlockSeason.Of(Run, [(4, Stages((BbchStage.Bbch65, 2), (BbchStage.Bbch61, 2)))]).DominantStage);
        var empty = BlockSeason.Of(Run, [(0, Stages())]);
        Assert.Null(empty.DominantStage);
        Assert.Equal(0.0, empty.MeanClustersPerTree);
        Assert.Null(BlockSeason.Of(Run, []).DominantStage);
    }

    [Fact]
    public void A_run_is_complete_once_fused_else_stopped_interrupted_or_running()
    {
        var t = DateTimeOffset.UnixEpoch;
        Assert.Equal("running", Run.Status);
        Assert.Equal("interrupted", (Run with { InterruptedAt = t }).Status);
        Assert.Equal("stopped", (Run with { InterruptedAt = t, StoppedAt = t }).Status);
        Assert.Equal("complete", (Run with { StoppedAt = t, FusedAt = t }).Status);
    }

    [Fact]
    public void The_season_is_the_utc_year()
    {
        Assert.Equal(2027, SeasonStore.SeasonOf(new DateTimeOffset(2026, 12, 31, 23, 30, 0, TimeSpan.FromHours(-2))));
        Assert.Equal(2026, SeasonStore.SeasonOf(new DateTimeOffset(2026, 4, 21, 9, 0, 0, TimeSpan.Zero)));
        Assert.Equal("observations_2026", SeasonSchema.PartitionOf(2026));
    }
}

/// <summary>Deliveries the season store can never hold are refused before any database work (the store points nowhere).</summary>
[Trait("Category", "Unit")]
public sealed class CentralIngestRefusalTests
{
    private static readonly CentralIngest Ingest = new(
        new SeasonStore(SeasonStore.Open("Host=127.0.0.1;Port=1;Timeout=1"), TestSeasonStore.Varieties, new MapWriterOptions()),
        TimeProvider.System, NullLogger<CentralIngest>.Instance);

    private static readonly SyntheticRun Synthetic = new("20260421-090000-unit-0001", rows: 1, treesPerRow: 2, clustersPerTree: (2, 4));

    [Fact]
    public async Task A_routing_key_that_names_no_tractor_is_refused_with_the_key()
    {
        var ex = await Assert.ThrowsAsync<MalformedMessageException>(() =>
            Ingest.HandleAsync("observations", Synthetic.Batches[0], CancellationToken.None));
        Assert.Equal("routing key 'observations' is not a tractor's (tractor.<tractor id>.<key>)", ex.Message);
    }

    [Fact]
    public async Task A_message_type_the_store_does_not_keep_is_refused()
    {
        var status = new WorkerStatus
        {
            MessageId = Guid.NewGuid(),
            RunId = "20260421-090000-unit-0001",
            Worker = "capture",
            Instance = "capture-0",
            Version = "1",
            AtUtc = DateTimeOffset.UnixEpoch,
            Ready = true,
            Counters = new Dictionary<string, long>(),
        };
        var ex = await Assert.ThrowsAsync<MalformedMessageException>(() =>
            Ingest.HandleAsync("tractor.t-01.status", status, CancellationToken.None));
        Assert.StartsWith("worker-status of run 20260421-090000-unit-0001 from tractor t-01: the season store keeps", ex.Message);
    }

    [Fact]
    public async Task Capture_and_fusion_progress_from_the_ledger_are_acknowledged_without_touching_the_store()
    {
        // The store's connection string points at a closed port: any write would throw.
        var progress = new RunCaptureProgress
        {
            MessageId = Guid.NewGuid(),
            RunId = "20260421-090000-unit-0001",
            ConfirmedAtUtc = DateTimeOffset.UnixEpoch,
            FramesPublished = 120,
        };
        var outcome = await Ingest.HandleAsync(CentralTopology.RoutingKey("t-01", CentralTopology.UplinkKey), progress, CancellationToken.None);
        Assert.Same(IngestOutcome.NothingKept, outcome);
    }

    [Fact]
    public async Task An_observation_out_of_range_is_refused_naming_it()
    {
        var batch = Synthetic.Batches[0];
        var bad = batch with { Observations = [batch.Observations[0] with { Latitude = 91 }] };
        var ex = await Assert.ThrowsAsync<MalformedMessageException>(() =>
            Ingest.HandleAsync("tractor.t-01.observations", bad, CancellationToken.None));
        Assert.Contains($"observation {batch.Observations[0].ObservationId}: latitude 91 out of range", ex.Message);
    }
}
