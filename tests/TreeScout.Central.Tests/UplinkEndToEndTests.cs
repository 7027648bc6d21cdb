using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using TreeScout.Capture;
using TreeScout.Cli.Scanning;
using TreeScout.Contracts;
using TreeScout.Detection;
using TreeScout.Fusion;
using TreeScout.Hosting;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Store;
using TreeScout.Messaging;
using TreeScout.Tests;
using TreeScout.Tests.Uplink;
using Xunit.Abstractions;

namespace TreeScout.Central.Tests;

/// <summary>
/// Tractor to central site, end to end (issue 25 item 5): the bundled sample scanned by the real detection, fusion and
/// map writer (embedded), every message the uplink forwards replayed through a worker's bus on a tractor broker (a
/// virtual host of the node on 5672 with the uplink shovel), the shovel forwarding to a central broker node this test
/// owns, and the central ingest worker storing into PostgreSQL + PostGIS — with the central node stopped for part of
/// the run. Needs the node on 5672 with rabbitmq_shovel and PostgreSQL with PostGIS (.ci/run).
/// </summary>
[Trait("Category", "Disruptive")]
public sealed class UplinkEndToEndTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_scanned_run_replayed_on_the_tractor_while_the_central_broker_is_down_for_a_while_is_in_PostGIS_once_with_the_tractors_tree_counts()
    {
        var clock = Stopwatch.StartNew();
        // The node boots (up to a minute on a busy machine) while the sample is scanned.
        var booting = OwnBrokerNode.StartAsync("central");
        await using var db = await TestSeasonStore.CreateAsync();
        var folder = Directory.CreateTempSubdirectory("ts-uplink-e2e-").FullName;
        await using var node = await booting;
        try
        {
            var (scan, forwarded) = await ScanAsync(folder);
            output.WriteLine($"scan {scan.RunId}: {scan.Map.Observations} observations, {forwarded.Count} messages for the uplink, {clock.Elapsed.TotalSeconds:0.0} s");

            var tractorId = $"t{Guid.NewGuid():N}"[..9];
            await using var central = await CentralSite.CreateAsync(BrokerNode.Own(node), tractorId);
            await using var tractor = await TractorSite.CreateAsync(central);
            using var logs = LoggerFactory.Create(b => b.AddProvider(new TestOutputLoggerProvider(output)).SetMinimumLevel(LogLevel.Warning));
            // As deployed: the central broker's definitions own the topology.
            var ingest = db.Ingest(central.Node.UriFor(central.Vhost), logs, declareTopology: false);
            await ingest.StartAsync(CancellationToken.None);
            try
            {
                // A third of the run goes over the link, then the central site drops and the rest waits on the tractor.
                var beforeOutage = forwarded.Count / 3;
                long heldWhileDown;
                await using (var bus = tractor.Bus())
                {
                    await bus.StartAsync(CancellationToken.None);
                    foreach (var message in forwarded.Take(beforeOutage))
                    {
                        await bus.PublishAsync(message);
                    }
                    await node.StopAsync();
                    output.WriteLine($"central broker stopped at {clock.Elapsed.TotalSeconds:0.0} s after {beforeOutage} messages; {ingest.Stored} stored by then");
                    foreach (var message in forwarded.Skip(beforeOutage))
                    {
                        await bus.PublishAsync(message);
                    }
                    // The bus returns before every publish is in the queue's count: wait for the part after the stop.
                    var settle = DateTime.UtcNow + TimeSpan.FromSeconds(15);
                    while ((heldWhileDown = await tractor.BacklogAsync()) < forwarded.Count - beforeOutage && DateTime.UtcNow < settle)
                    {
                        await Task.Delay(200);
                    }
                    output.WriteLine($"held on the tractor while the central broker is down: {heldWhileDown}; shovel {await tractor.ShovelStateAsync()}");
                    await bus.StopAsync(CancellationToken.None);
                }
                Assert.InRange(heldWhileDown, forwarded.Count - beforeOutage, forwarded.Count);

                await node.StartAgainAsync();
                output.WriteLine($"central broker up again at {clock.Elapsed.TotalSeconds:0.0} s");
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
                while (ingest.Settled < forwarded.Count || await tractor.BacklogAsync() > 0)
                {
                    Assert.True(DateTime.UtcNow < deadline, $"uplink stalled: {ingest.Stored} stored, {ingest.Duplicates} copies and {ingest.DeadLettered} dead-lettered of {forwarded.Count}, tractor backlog {await tractor.BacklogAsync()}, shovel {await tractor.ShovelStateAsync()}");
                    await Task.Delay(250);
                }
                // A copy re-sent after the restart comes with the rest; give a late one the time to show.
                await Task.Delay(TimeSpan.FromSeconds(2));
                // The uplink forwards the ledger's progress too (docs/adr/0057): acknowledged, not kept. Nothing is dead-lettered.
                var progress = forwarded.Count(m => m is RunCaptureProgress or RunFusionProgress);
                output.WriteLine($"all delivered at {clock.Elapsed.TotalSeconds:0.0} s: {ingest.Stored} stored, {ingest.Duplicates} copies dropped by id and {ingest.DeadLettered} dead-lettered, {progress} of them progress messages acknowledged unkept, " +
                    $"for {forwarded.Count} messages: {ingest.Settled - forwarded.Count} copies re-sent by the shovel");
                Assert.Equal(0, ingest.DeadLettered);
            }
            finally
            {
                await ingest.StopAsync(CancellationToken.None);
            }

            var tractorIds = TractorObservationIds(scan.Map.StorePath);
            var centralIds = await CentralObservationIdsAsync(db, scan.RunId);
            output.WriteLine($"observations: tractor store {tractorIds.Count}, PostGIS {centralIds.Count} ({centralIds.Distinct().Count()} distinct); {clock.Elapsed.TotalSeconds:0.0} s");
            Assert.True(tractorIds.Count > 0, "the scan stored no observation");
            Assert.Equal(tractorIds.Count, await db.Store.CountObservationsAsync(scan.RunId, CancellationToken.None));
            Assert.Equal(tractorIds.Order(), centralIds.Order());
            using var store = RunStore.OpenReadOnly(scan.Map.StorePath);
            TractorReference.AssertSameTrees(store.ReadTrees(), await db.Store.ReadTreesAsync(scan.RunId, CancellationToken.None));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// Scans samples/betuwe-rtk-2x12 with the embedded workers and keeps every message the uplink queue would take
    /// (<see cref="Topology.UplinkBindings"/>), in the order they were published.
    /// </summary>
    private static async Task<(ScanResult Scan, List<IMessage> Forwarded)> ScanAsync(string folder)
    {
        var configuration = new ConfigurationBuilder().Build();
        var logs = Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance;
        await using var workers = await EmbeddedWorkers.StartAsync(
            [new DetectionWorkerModule(), new FusionWorkerModule(), new MapWriterWorkerModule(Path.Combine(folder, "store"))], configuration, logs, CancellationToken.None);
        var forwarded = new List<IMessage>();
        await using var uplink = workers.Connect("uplink", logs);
        await uplink.StartAsync(CancellationToken.None);
        var listeners = new List<IAsyncDisposable>();
        foreach (var binding in Topology.UplinkBindings)
        {
            listeners.Add(await uplink.ListenAsync(binding.Exchange, binding.RoutingKey, envelope =>
            {
                lock (forwarded)
                {
                    forwarded.Add(MessageCodec.Decode(envelope));
                }
                return Task.CompletedTask;
            }, CancellationToken.None));
        }
        await using var feeder = workers.Connect("scan", logs);
        await feeder.StartAsync(CancellationToken.None);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var scan = await new ScanPipeline(configuration, logs, TextWriter.Null).RunOnBrokerAsync(
            feeder, new ScanRequest(Path.Combine(RepoPaths.Samples, "betuwe-rtk-2x12"), Path.Combine(folder, "out"), ReplayPace.AsFastAsAccepted), timeout.Token);
        foreach (var listener in listeners)
        {
            await listener.DisposeAsync();
        }
        lock (forwarded)
        {
            return (scan, [.. forwarded]);
        }
    }

    private static List<Guid> TractorObservationIds(string storePath)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = storePath, Mode = SqliteOpenMode.ReadOnly }.ToString());
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT observation_id FROM observations";
        using var reader = cmd.ExecuteReader();
        var ids = new List<Guid>();
        while (reader.Read())
        {
            ids.Add(Guid.Parse(reader.GetString(0)));
        }
        return ids;
    }

    private static async Task<List<Guid>> CentralObservationIdsAsync(TestSeasonStore db, string runId)
    {
        await using var cmd = db.DataSource.CreateCommand("SELECT observation_id FROM observations WHERE run_id = $1");
        cmd.Parameters.Add(new Npgsql.NpgsqlParameter { Value = runId });
        await using var reader = await cmd.ExecuteReaderAsync();
        var ids = new List<Guid>();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetGuid(0));
        }
        return ids;
    }
}
