using TreeScout.Contracts;
using TreeScout.Messaging;

namespace TreeScout.MapWriter.Tests;

/// <summary>
/// Stands in for capture and fusion when only the map writer runs on an in-memory broker: consumes the copies of
/// RunStarted those workers' queues receive, so <see cref="InMemoryBroker.WhenIdleAsync"/> can tell when the map writer is done.
/// </summary>
internal sealed class OtherWorkersSink : IMessageHandler<RunStarted>
{
    public static async Task<IMessageBus> StartAsync(IMessageBus bus)
    {
        var sink = new OtherWorkersSink();
        bus.Subscribe(Topology.CaptureControlQueue, new MessageDispatcher().On<RunStarted>(sink));
        bus.Subscribe(Topology.FusionDetectionsQueue, new MessageDispatcher().On<RunStarted>(sink));
        await bus.StartAsync(CancellationToken.None);
        return bus;
    }

    public Task HandleAsync(RunStarted message, MessageContext context, CancellationToken cancellationToken) => Task.CompletedTask;
}
