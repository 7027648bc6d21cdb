using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using TreeScout.Contracts;
using TreeScout.Hosting;
using TreeScout.MapWriter;
using TreeScout.Messaging;
using TreeScout.MapWriter.Tests;

// The map writer's two speed targets, measured on the real worker module over the embedded bus:
//  1. ingest keeps up with the tractor: observations/s stored vs. observations/s a scan produces;
//  2. the final map (recompute, checkpoint, all exports, run.json) is ready ≤ 10 s after the run stops.
// Prints measured values next to the targets as ratios (> 1 = faster than needed). Not a pass/fail test: this machine is shared.
var rows = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 30;
var treesPerRow = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 100;
var folder = Path.Combine(Path.GetTempPath(), "treescout-bench-" + Guid.NewGuid().ToString("N")[..8]);
var run = new SyntheticRun("20260421-120000-bench-0001", rows, treesPerRow, batchSize: 40);
Console.WriteLine($"block: {rows} rows x {treesPerRow} trees = {rows * treesPerRow} trees, {run.Observations.Count} clusters, {run.Batches.Count} TreeObservations messages");

var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
{
    ["MapWriter:StoreRoot"] = folder,
    ["MapWriter:Varieties"] = Path.Combine(AppContext.BaseDirectory, "Varieties"),
}).AddEnvironmentVariables(WorkerHost.EnvironmentPrefix).Build(); // e.g. TREESCOUT__MapWriter__LiveUpdateInterval=00:00:00
var logs = NullLoggerFactory.Instance;
await using (var workers = await EmbeddedWorkers.StartAsync([new MapWriterWorkerModule(folder)], configuration, logs, CancellationToken.None))
await using (var feeder = workers.Connect("bench", logs))
await using (await OtherWorkersSink.StartAsync(workers.Connect("sink", logs)))
{
    var final = new TaskCompletionSource<DateTimeOffset>();
    await using var listener = await feeder.ListenAsync(Topology.MapsExchange, "#", e =>
    {
        if (MessageCodec.Decode(e) is MapUpdated { Final: true })
        {
            final.TrySetResult(DateTimeOffset.UtcNow);
        }
        return Task.CompletedTask;
    }, CancellationToken.None);

    await feeder.PublishAsync(run.Started);
    await workers.Broker.WhenIdleAsync(CancellationToken.None);
    var ingest = Stopwatch.StartNew();
    foreach (var batch in run.Batches)
    {
        await feeder.PublishAsync(batch);
    }
    await workers.Broker.WhenIdleAsync(CancellationToken.None);
    ingest.Stop();

    var stopped = DateTimeOffset.UtcNow;
    await feeder.PublishAsync(run.Fused);
    var finalAt = await final.Task.WaitAsync(TimeSpan.FromMinutes(5));
    await workers.Broker.WhenIdleAsync(CancellationToken.None);
    var finalMap = finalAt - stopped;

    var counters = workers.Services[WorkerRole.MapWriter].GetRequiredService<WorkerCounters>();
    var perSecond = counters[MapWriterHandler.ObservationsWritten] / ingest.Elapsed.TotalSeconds;
    // A scan at 1.5 m/s past 1 m tree spacing, both sides, ~250 clusters per tree side at full bloom: ~375 clusters/s.
    const double needed = 375;
    Console.WriteLine($"ingest:    {perSecond,10:0} observations/s stored   target {needed,6:0}/s   ratio {perSecond / needed,6:0.0}x  ({ingest.Elapsed.TotalSeconds:0.0} s for {counters[MapWriterHandler.ObservationsWritten]})");
    Console.WriteLine($"final map: {finalMap.TotalSeconds,10:0.00} s after RunFused          target {10,6:0.0} s   ratio {10 / finalMap.TotalSeconds,6:0.0}x");
    foreach (var file in Directory.GetFiles(Path.Combine(folder, "exports"), "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
    {
        Console.WriteLine($"  {Path.GetRelativePath(folder, file),-28} {new FileInfo(file).Length,12:N0} bytes");
    }
}

// Where the final-map time goes: the snapshot and each format on their own, from the finished store (read-only).
using (var store = TreeScout.MapWriter.Store.RunStore.OpenReadOnly(Path.Combine(folder, "store.gpkg")))
{
    var options = new MapWriterOptions();
    var watch = Stopwatch.StartNew();
    var snapshot = TreeScout.MapWriter.Exports.RunSnapshot.Read(store, options);
    Console.WriteLine($"  snapshot (trees, zones, stage mix)  {watch.Elapsed.TotalSeconds,6:0.00} s");
    foreach (var format in TreeScout.MapWriter.Exports.MapExporter.AllFormats)
    {
        watch.Restart();
        await TreeScout.MapWriter.Exports.MapExporter.ExportAsync(snapshot, store, [format], Path.Combine(folder, "per-format"), options, CancellationToken.None);
        Console.WriteLine($"  {format,-34} {watch.Elapsed.TotalSeconds,6:0.00} s");
    }
}
// What every ingest does for the trees it touched (load their clusters, TreeAggregate.Of, write), for every tree at once.
using (var store = TreeScout.MapWriter.Store.RunStore.OpenOrCreate(Path.Combine(folder, "store.gpkg")))
{
    var (metadata, trees, _, _) = store.ReadRun();
    var spacing = trees.Where(t => t.SpacingM is not null).ToDictionary(t => t.TreeId, t => t.SpacingM!.Value);
    var watch = Stopwatch.StartNew();
    var cpu = Process.GetCurrentProcess().TotalProcessorTime;
    store.UpdateSpacing(spacing, TreeScout.MapWriter.Exports.RunMetadataKeys.ReadProfile(metadata));
    Console.WriteLine($"  recompute of all {spacing.Count} trees    {watch.Elapsed.TotalSeconds,6:0.00} s ({(Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds:0.00} s CPU)");
}
Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
Directory.Delete(folder, recursive: true);
