using TreeScout.Contracts;

namespace TreeScout.Messaging;

/// <summary>A worker's connection to the bus: RabbitMQ, or the in-memory broker of the embedded mode.</summary>
public interface IMessageBus : IMessagePublisher, IAsyncDisposable
{
    /// <summary>Consume <paramref name="queue"/> with <paramref name="dispatcher"/>; call before <see cref="StartAsync"/>.</summary>
    void Subscribe(string queue, MessageDispatcher dispatcher);

    /// <summary>Connects and starts consuming. Returns without waiting for an unreachable broker (it keeps retrying).</summary>
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>Stops taking deliveries, lets the handler in flight finish and acknowledge, then disconnects.</summary>
    Task StopAsync(CancellationToken cancellationToken);

    /// <summary>Connected, topology declared and every subscription has a registered consumer.</summary>
    bool IsReady { get; }

    /// <summary>Short human-readable state for health output ("ready", "waiting for the broker at ... (connection refused), 12 s so far", ...).</summary>
    string State { get; }

    /// <summary>The broker this bus cannot reach right now (it keeps trying); null while connected, and always for the in-memory broker.</summary>
    BrokerOutage? Outage { get; }

    /// <summary>Messages waiting in a queue and its dead-letter queue (null when unknown, e.g. broker down).</summary>
    Task<QueueDepth?> GetQueueDepthAsync(string queue, CancellationToken cancellationToken);

    /// <summary>
    /// Every run fact in the run ledger (<see cref="Topology.RunLedgerStream"/>) published before this call, oldest first:
    /// what a worker re-reads after a crash or power cut instead of holding control messages unacknowledged.
    /// </summary>
    Task<IReadOnlyList<IMessage>> ReadRunLedgerAsync(CancellationToken cancellationToken);

    /// <summary>Listen to an exchange on a private, auto-deleted queue (maps, status); returns the subscription to dispose.</summary>
    Task<IAsyncDisposable> ListenAsync(string exchange, string routingPattern, Func<MessageEnvelope, Task> onMessage, CancellationToken cancellationToken);
}

public sealed record QueueDepth(string Queue, long Ready, long DeadLettered, int Consumers);
