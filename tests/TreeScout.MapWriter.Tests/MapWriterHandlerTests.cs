using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using TreeScout.Contracts;
using TreeScout.Hosting;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Store;
using TreeScout.Messaging;
using Xunit.Abstractions;
using TreeScout.Tests;

namespace TreeScout.MapWriter.Tests;

/// <summary>The handler on the in-memory bus (no broker): the same consume path, acks and dead-lettering as RabbitMQ.</summary>
[Trait("Category", "Unit")]
public sealed class MapWriterHandlerTests(ITestOutputHelper output)
{
    internal sealed class Harness : IAsyncDisposable
    {
        private readonly IAsyncDisposable _listener;

        public Harness(string storeRoot, ILoggerFactory logs, TimeSpan liveInterval, TimeProvider? clock = null, IRunFolders? folders = null, MapWriterOptions? options = null)
        {
            Broker = new InMemoryBroker(new Topology(new TopologyOptions()));
            options ??= MapWriterTestData.Options(storeRoot);
            options.LiveUpdateInterval = liveInterval;
            var wrapped = MapWriterTestData.Wrap(options);
            folders ??= new StoreRootRunFolders(wrapped);
            Disk = new StoreDiskSpace(folders, wrapped, Warnings, Counters, clock ?? TimeProvider.System, logs.CreateLogger<StoreDiskSpace>());
            Handler = new MapWriterHandler(folders, MapWriterTestData.Catalog, wrapped, Counters, Warnings, new ActiveRun(), Disk,
                clock ?? TimeProvider.System, logs.CreateLogger<MapWriterHandler>());
            Worker = new InMemoryMessageBus(Broker, "mapwriter", new BrokerOptions(), new MessagingMetrics(), logs.CreateLogger<InMemoryMessageBus>());
            Dispatcher = new MessageDispatcher().On<RunStarted>(Handler).On<TreeObservations>(Handler).On<RunFused>(Handler);
            Worker.Subscribe(Topology.MapWriterObservationsQueue, Dispatcher);
            Feeder = new InMemoryMessageBus(Broker, "feeder", new BrokerOptions(), new MessagingMetrics(), logs.CreateLogger<InMemoryMessageBus>());
            Sink = OtherWorkersSink.StartAsync(new InMemoryMessageBus(Broker, "sink", new BrokerOptions(), new MessagingMetrics(), logs.CreateLogger<InMemoryMessageBus>())).GetAwaiter().GetResult();
            _listener = Feeder.ListenAsync(Topology.MapsExchange, "#", e =>
            {
                Maps.Add((MapUpdated)MessageCodec.Decode(e));
                return Task.CompletedTask;
            }, CancellationToken.None).GetAwaiter().GetResult();
        }

        public InMemoryBroker Broker { get; }

        public WorkerCounters Counters { get; } = new();

        public WorkerWarnings Warnings { get; } = new();

        public StoreDiskSpace Disk { get; }

        public MapWriterHandler Handler { get; }

        /// <summary>The handler by message type, as the worker's bus calls it.</summary>
        public MessageDispatcher Dispatcher { get; }

        public InMemoryMessageBus Worker { get; }

        public InMemoryMessageBus Feeder { get; }

        public IMessageBus Sink { get; }

        public ConcurrentBag<MapUpdated> Maps { get; } = [];

        public async Task RunAsync(IEnumerable<IMessage> messages)
        {
            foreach (var m in messages)
            {
                await Feeder.PublishAsync(m);
            }
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            await Broker.WhenIdleAsync(timeout.Token);
        }

        public async ValueTask DisposeAsync()
        {
            await _listener.DisposeAsync();
            await Worker.DisposeAsync();
            await Feeder.DisposeAsync();
            await Sink.DisposeAsync();
            Handler.Dispose();
            Disk.Dispose();
            Counters.Dispose();
        }
    }

    private ILoggerFactory Logs() => LoggerFactory.Create(b => b.AddProvider(new TestOutputLoggerProvider(output)));

    [Fact]
    public async Task A_run_is_stored_once_even_when_every_message_is_delivered_again_after_a_restart_and_the_final_map_is_announced()
    {
        using var dir = new TempDir();
        using var logs = Logs();
        var run = new SyntheticRun("20260421-090000-synthetic-a1b2", rows: 3, treesPerRow: 10);
        IMessage[] all = [run.Started, .. run.Batches, run.Fused];
        MapUpdated firstFinal;
        await using (var first = new Harness(dir.Path, logs, TimeSpan.Zero))
        {
            await first.Worker.StartAsync(CancellationToken.None);
            await first.RunAsync(all);
            Assert.Equal(run.Observations.Count, first.Counters[MapWriterHandler.ObservationsWritten]);
            Assert.Equal(0, first.Counters[MapWriterHandler.ObservationsDuplicate]);
            firstFinal = Assert.Single(first.Maps, m => m.Final);
            Assert.Contains(first.Maps, m => !m.Final);
        }
        SqliteConnection.ClearAllPools();

        // A restarted writer gets every message again (nothing was acknowledged, the worst case).
        await using var harness = new Harness(dir.Path, logs, TimeSpan.Zero);
        await harness.Worker.StartAsync(CancellationToken.None);
        await harness.RunAsync(all);

        Assert.Equal(0, harness.Counters[MapWriterHandler.ObservationsWritten]);
        Assert.Equal(run.Observations.Count, harness.Counters[MapWriterHandler.ObservationsDuplicate]);
        Assert.Equal(1, harness.Counters[MapWriterHandler.MapsWritten]);
        Assert.Empty(harness.Broker.DeadLetters(Topology.MapWriterObservationsQueue));

        var folder = new RunFolder(Path.Combine(dir.Path, run.RunId));
        using (var store = RunStore.OpenReadOnly(folder.StorePath))
        {
            var trees = store.ReadTrees().ToDictionary(t => t.TreeId);
            Assert.Equal(30, trees.Count);
            foreach (var (id, expected) in run.ExpectedClusters)
            {
                Assert.Equal(expected, trees[id].ClustersTotal);
            }
            var metadata = store.ReadMetadata();
            Assert.Equal("complete", metadata["status"]);
            Assert.Equal("Gala", metadata["variety"]);
            Assert.Contains("blossom-detector", metadata["models"], StringComparison.Ordinal);
            Assert.Contains("rtkFixed", metadata["gnss_summary"], StringComparison.Ordinal);
        }

        var final = Assert.Single(harness.Maps, m => m.Final);
        Assert.Equal(firstFinal.MessageId, final.MessageId); // same id on redelivery: downstream de-duplicates
        Assert.Equal(firstFinal.Exports, final.Exports);
        Assert.Equal(30, final.Trees);
        Assert.Equal(run.Observations.Count, final.Observations);
        Assert.Equal(folder.StorePath, final.StorePath);
        foreach (var file in new[] { "trees.geojson", "zones.geojson", "zones.shp", "zones.dbf", "zones.prj", "map.gpkg", "trees.parquet", "trees.csv", "map.png", "TASKDATA.XML", "GRD00001.BIN" })
        {
            var path = Assert.Single(final.Exports, p => Path.GetFileName(p) == file);
            Assert.True(File.Exists(path), path);
            Assert.StartsWith(folder.ExportsPath, path, StringComparison.Ordinal);
        }
        Assert.False(Directory.Exists(folder.ExportsPath + ".new"));
        var summary = Json.Parse(folder.SummaryPath);
        Assert.Equal(run.RunId, summary.GetProperty("runId").GetString());
        Assert.Equal(run.Observations.Count, summary.GetProperty("mapWriter").GetProperty("observationsStored").GetInt64());
        Assert.True(summary.GetProperty("mapWriter").GetProperty("finalMapSeconds").GetDouble() < 10);
    }

    [Fact]
    public async Task Live_updates_are_published_at_a_bounded_rate_while_observations_arrive()
    {
        using var dir = new TempDir();
        using var logs = Logs();
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 4, 21, 9, 0, 0, TimeSpan.Zero));
        var run = new SyntheticRun("run-live", rows: 1, treesPerRow: 10, batchSize: 20);
        await using var harness = new Harness(dir.Path, logs, TimeSpan.FromSeconds(5), clock);
        // The handler called directly, one delivery after the other, without a bus: what it publishes lands in maps.
        var maps = new PublishedMessages();
        async Task HandleAsync(IEnumerable<IMessage> messages)
        {
            foreach (var message in messages)
            {
                await harness.Dispatcher.DispatchAsync(message, new MessageContext(Topology.MapWriterObservationsQueue, maps), CancellationToken.None);
            }
        }

        await HandleAsync([run.Started, .. run.Batches.Take(5)]);
        Assert.Single(maps); // first batch publishes, the next four are within 5 s
        clock.Advance(TimeSpan.FromSeconds(6));
        await HandleAsync(run.Batches.Skip(5).Take(3));
        var live = maps.Cast<MapUpdated>().ToList();
        Assert.Equal(2, live.Count);
        Assert.All(live, m => Assert.False(m.Final));
        Assert.All(live, m => Assert.Empty(m.Exports));
        Assert.Equal(run.Batches.Take(6).Sum(b => b.Observations.Count), live[1].Observations);
    }

    [Fact]
    public async Task A_malformed_observation_dead_letters_its_message_with_the_reason_and_writes_nothing_of_it()
    {
        using var dir = new TempDir();
        using var logs = Logs();
        var run = new SyntheticRun("run-bad", rows: 1, treesPerRow: 3);
        await using var harness = new Harness(dir.Path, logs, TimeSpan.FromHours(1));
        await harness.Worker.StartAsync(CancellationToken.None);
        var bad = run.Batches[0] with { Observations = [.. run.Batches[0].Observations.Take(5), run.Batches[0].Observations[5] with { Latitude = 123.4 }] };
        await harness.RunAsync([run.Started, bad, run.Batches[1]]);

        var dead = Assert.Single(harness.Broker.DeadLetters(Topology.MapWriterObservationsQueue));
        Assert.Equal(bad.MessageId, dead.MessageId);
        Assert.Contains("latitude 123.4 out of range", dead.Header(WireHeaders.Error), StringComparison.Ordinal);
        Assert.Contains(run.Batches[0].Observations[5].ObservationId.ToString(), dead.Header(WireHeaders.Error), StringComparison.Ordinal);
        Assert.Equal(run.Batches[1].Observations.Count, harness.Counters[MapWriterHandler.ObservationsWritten]);
    }

    [Fact]
    public async Task A_second_run_sent_to_a_fixed_run_folder_is_dead_lettered_not_added_to_the_first_runs_trees()
    {
        using var dir = new TempDir();
        using var logs = Logs();
        var first = new SyntheticRun("run-first", rows: 1, treesPerRow: 3);
        var second = new SyntheticRun("run-second", rows: 1, treesPerRow: 3);
        await using var harness = new Harness(dir.Path, logs, TimeSpan.FromHours(1), folders: new FixedRunFolder(dir.Path));
        await harness.Worker.StartAsync(CancellationToken.None);
        await harness.RunAsync([first.Started, .. first.Batches, first.Fused]);
        await harness.RunAsync([second.Started, .. second.Batches]);

        var dead = harness.Broker.DeadLetters(Topology.MapWriterObservationsQueue);
        Assert.Equal(1 + second.Batches.Count, dead.Count);
        Assert.All(dead, d => Assert.Contains("holds the store of run run-first", d.Header(WireHeaders.Error), StringComparison.Ordinal));
        SqliteConnection.ClearAllPools();
        using var store = RunStore.OpenReadOnly(Path.Combine(dir.Path, RunFolder.StoreFileName));
        Assert.Equal(first.Observations.Count, store.CountObservations());
        Assert.Equal(first.ExpectedClusters.Values.Sum(), store.ReadTrees().Sum(t => t.ClustersTotal));
        Assert.Equal("run-first", store.ReadMetadata()[MapWriter.Exports.RunMetadataKeys.RunId]);
    }

    [Fact]
    public async Task After_a_restart_the_writer_reopens_the_store_and_keeps_counting_from_it()
    {
        using var dir = new TempDir();
        using var logs = Logs();
        var run = new SyntheticRun("run-restart", rows: 2, treesPerRow: 5);
        var half = run.Batches.Count / 2;
        await using (var first = new Harness(dir.Path, logs, TimeSpan.FromHours(1)))
        {
            await first.Worker.StartAsync(CancellationToken.None);
            await first.RunAsync([run.Started, .. run.Batches.Take(half + 2)]);
        }
        SqliteConnection.ClearAllPools();
        // The new process gets the unacknowledged tail again, overlapping what was already committed.
        await using var second = new Harness(dir.Path, logs, TimeSpan.FromHours(1));
        await second.Worker.StartAsync(CancellationToken.None);
        await second.RunAsync([.. run.Batches.Skip(half), run.Fused]);
        Assert.Equal(run.Batches.Skip(half).Take(2).Sum(b => b.Observations.Count), second.Counters[MapWriterHandler.ObservationsDuplicate]);
        using var store = RunStore.OpenReadOnly(Path.Combine(dir.Path, run.RunId, RunFolder.StoreFileName));
        Assert.Equal(run.Observations.Count, store.CountObservations());
        Assert.Equal(run.ExpectedClusters.Values.Sum(), store.ReadTrees().Sum(t => t.ClustersTotal));
        Assert.NotNull(store.ReadTrees()[0].RateLPerHa); // the profile chosen at RunStarted survives the restart
    }

    [Fact]
    public async Task A_run_without_plan_or_observations_still_gets_a_final_map_and_no_sprayer_task()
    {
        using var dir = new TempDir();
        using var logs = Logs();
        var run = new SyntheticRun("run-empty", rows: 1, treesPerRow: 2);
        await using var harness = new Harness(dir.Path, logs, TimeSpan.FromHours(1));
        await harness.Worker.StartAsync(CancellationToken.None);
        await harness.RunAsync([run.Started with { BlockPlanGeoJson = null, Variety = "Unknown variety" }, run.Fused with { ObservationsPublished = 0 }]);

        Assert.Empty(harness.Broker.DeadLetters(Topology.MapWriterObservationsQueue));
        var final = Assert.Single(harness.Maps, m => m.Final);
        Assert.Equal(0, final.Trees);
        Assert.Equal(0, final.Observations);
        Assert.Contains(final.Exports, f => f.EndsWith("map.png", StringComparison.Ordinal));
        Assert.Contains(final.Exports, f => f.EndsWith("trees.parquet", StringComparison.Ordinal));
        Assert.DoesNotContain(final.Exports, f => f.EndsWith("TASKDATA.XML", StringComparison.Ordinal));
        Assert.Contains(final.Warnings, w => w.StartsWith("no variety profile for 'Unknown variety': the default profile's thinning rates are used", StringComparison.Ordinal));
    }
}
