using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using TreeScout.Hosting;
using TreeScout.MapWriter;
using TreeScout.Messaging;
using TreeScout.MapWriter.Tests;

// Usage: CrashHost RUN_FOLDER RUN_ID ROWS TREES_PER_ROW
// Runs the real MapWriter worker module (embedded bus), feeds it a synthetic run and prints "written N" as
// observations are committed, until it is killed (the crash test sends SIGKILL mid-write) or the run is written.
var (folder, runId, rows, treesPerRow) = (args[0], args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture), int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture));
var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
{
    ["MapWriter:StoreRoot"] = folder,
    ["MapWriter:Varieties"] = Path.Combine(AppContext.BaseDirectory, "Varieties"),
}).Build();
var run = new SyntheticRun(runId, rows, treesPerRow, batchSize: 25);
await using var workers = await EmbeddedWorkers.StartAsync([new MapWriterWorkerModule(folder)], configuration, NullLoggerFactory.Instance, CancellationToken.None);
await using var feeder = workers.Connect("crash-host", NullLoggerFactory.Instance);
await using var sink = await OtherWorkersSink.StartAsync(workers.Connect("sink", NullLoggerFactory.Instance));
var counters = workers.Services[WorkerRole.MapWriter].GetRequiredService<WorkerCounters>();
// Observations arrive paced, as from a tractor driving along the rows, so the writer is busy for seconds.
var feeding = Task.Run(async () =>
{
    await feeder.PublishAsync(run.Started);
    foreach (var batch in run.Batches)
    {
        await feeder.PublishAsync(batch);
        await Task.Delay(4);
    }
    await workers.Broker.WhenIdleAsync(CancellationToken.None);
});
while (!feeding.IsCompleted)
{
    Console.WriteLine($"written {counters[MapWriterHandler.ObservationsWritten]}");
    await Task.WhenAny(feeding, Task.Delay(20));
}
await feeding;
Console.WriteLine($"done {counters[MapWriterHandler.ObservationsWritten]}");
