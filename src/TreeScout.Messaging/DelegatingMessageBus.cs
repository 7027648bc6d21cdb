using TreeScout.Contracts;

namespace TreeScout.Messaging;

/// <summary>
/// A bus that hands everything to another bus: the base of decorators that watch or hold back what is published
/// (the chaos tests' frame gate, the throughput benchmark's timing). Disposing it leaves the inner bus to its owner.
/// </summary>
public abstract class DelegatingMessageBus(IMessageBus inner) : IMessageBus
{
    public virtual Task PublishAsync(IMessage message, CancellationToken cancellationToken = default) => inner.PublishAsync(message, cancellationToken);

    public void Subscribe(string queue, MessageDispatcher dispatcher) => inner.Subscribe(queue, dispatcher);

    public Task StartAsync(CancellationToken cancellationToken) => inner.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => inner.StopAsync(cancellationToken);

    public bool IsReady => inner.IsReady;

    public string State => inner.State;

    public BrokerOutage? Outage => inner.Outage;

    public Task<QueueDepth?> GetQueueDepthAsync(string queue, CancellationToken cancellationToken) => inner.GetQueueDepthAsync(queue, cancellationToken);

    public Task<IReadOnlyList<IMessage>> ReadRunLedgerAsync(CancellationToken cancellationToken) => inner.ReadRunLedgerAsync(cancellationToken);

    public Task<IAsyncDisposable> ListenAsync(string exchange, string routingPattern, Func<MessageEnvelope, Task> onMessage, CancellationToken cancellationToken) =>
        inner.ListenAsync(exchange, routingPattern, onMessage, cancellationToken);

    public ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }
}
