using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using TreeScout.Contracts;
using TreeScout.Hosting;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Store;
using TreeScout.Messaging;

namespace TreeScout.MapWriter.Tests;

/// <summary>
/// One synthetic run written end to end by the MapWriter worker module on the embedded bus (EmbeddedWorkers, as
/// `treescout scan` composes it, with the run folder overridden): the store and exports the export tests read.
/// </summary>
public sealed class CompletedRunFixture : IAsyncLifetime, IDisposable
{
    private readonly TempDir _dir = new();

    internal SyntheticRun Run { get; } = new("20260421-100000-fixture-c3d4", rows: 4, treesPerRow: 15);

    public RunFolder Folder => new(_dir["out"]);

    public ConcurrentBag<MapUpdated> Maps { get; } = [];

    public IReadOnlyList<TreeRecord> StoredTrees { get; private set; } = [];

    public string Scratch(string name)
    {
        var path = _dir[name];
        Directory.CreateDirectory(path);
        return path;
    }

    public async Task InitializeAsync()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["MapWriter:StoreRoot"] = _dir["unused-store-root"],
            ["MapWriter:Varieties"] = MapWriterTestData.ShippedVarieties,
        }).Build();
        var logs = NullLoggerFactory.Instance;
        await using (var workers = await EmbeddedWorkers.StartAsync([new MapWriterWorkerModule(Folder.Path)], configuration, logs, CancellationToken.None))
        await using (var feeder = workers.Connect("feeder", logs))
        await using (await OtherWorkersSink.StartAsync(workers.Connect("sink", logs)))
        await using (await feeder.ListenAsync(Topology.MapsExchange, "#", e =>
        {
            Maps.Add((MapUpdated)MessageCodec.Decode(e));
            return Task.CompletedTask;
        }, CancellationToken.None))
        {
            foreach (var message in new IMessage[] { Run.Started }.Concat(Run.Batches).Append(Run.Fused))
            {
                await feeder.PublishAsync(message);
            }
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            await workers.Broker.WhenIdleAsync(timeout.Token);
        }
        using var store = RunStore.OpenReadOnly(Folder.StorePath);
        StoredTrees = store.ReadTrees();
    }

    public Task DisposeAsync()
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose() => _dir.Dispose();
}
