using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TreeScout.Contracts;
using TreeScout.Fusion;
using TreeScout.Hosting;
using TreeScout.Messaging;

namespace TreeScout.Tests;

/// <summary>What fusion published for a run (each observation's last revision, the retracted ones left out: what the map shows), and its worker counters.</summary>
public sealed record FusionOutput(IReadOnlyList<BlossomClusterObservation> Observations, RunFused Fused, IReadOnlyDictionary<string, long> Counters, IReadOnlyList<string> Warnings);

/// <summary>
/// Runs the real fusion worker module on the embedded in-memory broker, configured like `treescout scan` (no Broker or Gnss
/// section: fixes come from the bus, prefetch from the module), with the same consume path as RabbitMQ (deferred
/// acknowledgements, prefetch, dead-lettering) and feeds it a scene's messages in the order they would arrive on a tractor.
/// </summary>
public static class EmbeddedFusion
{
    public static async Task<FusionOutput> RunAsync(
        IEnumerable<IMessage> messages, ILoggerFactory loggerFactory, IDictionary<string, string?>? settings = null, TimeSpan? timeout = null)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Fusion:QuietTimeout"] = "00:00:02",
            })
            .AddInMemoryCollection(settings ?? new Dictionary<string, string?>())
            .Build();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        await using var workers = await EmbeddedWorkers.StartAsync([new FusionWorkerModule()], configuration, loggerFactory, cts.Token);
        await using var feeder = workers.Connect("feeder", loggerFactory);
        // Consume the map writer's queue like the map writer does, so the broker can tell when everything is acknowledged.
        var collector = new ObservationCollector();
        feeder.Subscribe(Topology.MapWriterObservationsQueue, new MessageDispatcher().On<TreeObservations>(collector).On<RunFused>(collector).On<RunStarted>(collector));
        feeder.Subscribe(Topology.CaptureControlQueue, new MessageDispatcher().On<RunStarted>(collector));
        await feeder.StartAsync(cts.Token);
        foreach (var message in messages)
        {
            await feeder.PublishAsync(message, cts.Token);
        }
        var result = await collector.Fused.Task.WaitAsync(cts.Token);
        await workers.Broker.WhenIdleAsync(cts.Token);
        foreach (var queue in new[] { Topology.FusionDetectionsQueue, Topology.FusionGnssQueue })
        {
            if (workers.Broker.DeadLetters(queue) is { Count: > 0 } dead)
            {
                throw new InvalidOperationException($"{dead.Count} messages dead-lettered from {queue}: {dead[0].Headers.GetValueOrDefault(WireHeaders.Error)}");
            }
        }
        var fusion = workers.Services[WorkerRole.Fusion];
        return new FusionOutput(collector.Map(), result, fusion.GetRequiredService<WorkerCounters>().Snapshot(), fusion.GetRequiredService<WorkerWarnings>().Snapshot());
    }
}

/// <summary>Stands in for the map writer's consumer: keeps what fusion published, the highest revision of each observation (docs/adr/0073).</summary>
public sealed class ObservationCollector : IMessageHandler<TreeObservations>, IMessageHandler<RunFused>, IMessageHandler<RunStarted>
{
    private readonly ConcurrentDictionary<Guid, (long First, BlossomClusterObservation Last)> _latest = new();
    private long _received;

    public TaskCompletionSource<RunFused> Fused { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task HandleAsync(TreeObservations message, MessageContext context, CancellationToken cancellationToken)
    {
        foreach (var o in message.Observations)
        {
            var first = Interlocked.Increment(ref _received);
            _latest.AddOrUpdate(o.ObservationId, (first, o), (_, known) => o.Revision > known.Last.Revision ? (known.First, o) : known);
        }
        return Task.CompletedTask;
    }

    /// <summary>What the map shows: each observation's highest revision unless it retracted it, in the order they first came.</summary>
    public List<BlossomClusterObservation> Map() => [.. _latest.Values.Where(v => !v.Last.Retracted).OrderBy(v => v.First).Select(v => v.Last)];

    public Task HandleAsync(RunFused message, MessageContext context, CancellationToken cancellationToken)
    {
        Fused.TrySetResult(message);
        return Task.CompletedTask;
    }

    public Task HandleAsync(RunStarted message, MessageContext context, CancellationToken cancellationToken) => Task.CompletedTask;
}
