using Microsoft.Extensions.Logging;
using TreeScout.Contracts;

namespace TreeScout.Messaging;

/// <summary>
/// A worker's connection to the <see cref="InMemoryBroker"/>: the same consume path as RabbitMQ
/// (<see cref="DeliveryProcessor"/>), one handler at a time per worker, prefetch-bounded, with deferred acks.
/// </summary>
public sealed class InMemoryMessageBus(InMemoryBroker broker, string worker, BrokerOptions options, MessagingMetrics metrics, ILogger<InMemoryMessageBus> logger) : IMessageBus
{
    private readonly List<(InMemoryQueue Queue, MessageDispatcher Dispatcher)> _subscriptions = [];
    private readonly SemaphoreSlim _handlerGate = new(1, 1);
    private readonly List<Task> _pumps = [];
    private CancellationTokenSource? _stopping;

    // Cancelled only when a graceful stop runs out of time: until then the handler in flight finishes normally.
    private readonly CancellationTokenSource _abortHandlers = new();
    private bool _started;

    public bool IsReady => _started && _stopping is { IsCancellationRequested: false };

    public string State => IsReady ? "ready (embedded)" : "stopped (embedded)";

    public BrokerOutage? Outage => null;

    public void Subscribe(string queue, MessageDispatcher dispatcher)
    {
        if (_started)
        {
            throw new InvalidOperationException("Subscribe before StartAsync.");
        }
        _subscriptions.Add((broker.Queue(queue), dispatcher));
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _stopping = new CancellationTokenSource();
        foreach (var (queue, dispatcher) in _subscriptions)
        {
            var processor = new DeliveryProcessor(queue.Spec, worker, dispatcher, new IdempotencyFilter(), metrics, logger);
            _pumps.Add(Task.Run(() => PumpAsync(queue, processor, options.PrefetchFor(queue.Spec.Name), _stopping.Token), CancellationToken.None));
        }
        _started = true;
        return Task.CompletedTask;
    }

    public async Task PublishAsync(IMessage message, CancellationToken cancellationToken = default)
    {
        var route = Topology.RouteOf(message.GetType());
        try
        {
            await broker.PublishAsync(route.Exchange, route.RoutingKey, MessageCodec.Encode(message));
            metrics.Published(route.Exchange);
        }
        catch (PublishRejectedException)
        {
            metrics.Rejected(route.Exchange);
            throw;
        }
    }

    public Task<QueueDepth?> GetQueueDepthAsync(string queue, CancellationToken cancellationToken) => Task.FromResult<QueueDepth?>(broker.Depth(queue));

    public Task<IReadOnlyList<IMessage>> ReadRunLedgerAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<IMessage>>([.. broker.RunLedger().Select(MessageCodec.Decode)]);

    public Task<IAsyncDisposable> ListenAsync(string exchange, string routingPattern, Func<MessageEnvelope, Task> onMessage, CancellationToken cancellationToken)
    {
        var registration = broker.Listen(exchange, routingPattern, onMessage);
        return Task.FromResult<IAsyncDisposable>(new AsyncRegistration(registration));
    }

    private async Task PumpAsync(InMemoryQueue queue, DeliveryProcessor processor, int prefetch, CancellationToken stopping)
    {
        using var credits = new SemaphoreSlim(prefetch, prefetch);
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await credits.WaitAsync(stopping);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            Delivery delivery;
            try
            {
                delivery = await queue.TakeAsync(stopping);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            await _handlerGate.WaitAsync(CancellationToken.None);
            try
            {
                await HandleOneAsync(queue, processor, delivery, credits, _abortHandlers.Token);
            }
            finally
            {
                _handlerGate.Release();
            }
        }
    }

    private async Task HandleOneAsync(InMemoryQueue queue, DeliveryProcessor processor, Delivery delivery, SemaphoreSlim credits, CancellationToken abort)
    {
        var envelope = delivery.Envelope;
        var settled = 0;
        void Settle()
        {
            if (Interlocked.Exchange(ref settled, 1) == 0)
            {
                queue.Settle();
                credits.Release();
            }
        }

        var outcome = await processor.ProcessAsync(delivery, this, () => new DeferredAck(() =>
        {
            processor.Seen.Add(envelope.MessageId);
            Settle();
        }), abort);

        switch (outcome.Action)
        {
            case DeliveryAction.Ack:
                processor.Seen.Add(outcome.MessageId ?? envelope.MessageId);
                Settle();
                break;
            case DeliveryAction.Defer:
                break;
            case DeliveryAction.Retry:
                await Task.Delay(DeliveryProcessor.RetryDelay(delivery.Count), CancellationToken.None);
                queue.Enqueue(delivery with { Count = delivery.Count + 1 }, atHead: true);
                Settle();
                break;
            case DeliveryAction.Release:
                // RabbitMQ 3.10 quorum queues count every return, not only failures.
                queue.Enqueue(delivery with { Count = delivery.Count + 1 }, atHead: true);
                Settle();
                break;
            case DeliveryAction.DeadLetter:
                queue.DeadLetter(envelope with { Headers = processor.DeadLetterHeaders(delivery, outcome) });
                metrics.DeadLettered(queue.Spec.Name, outcome.ReasonClass);
                Settle();
                break;
        }
    }

    /// <summary>Stops taking messages and lets the handler in flight finish; if <paramref name="cancellationToken"/> fires first, cancels it.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stopping is null || _stopping.IsCancellationRequested)
        {
            return;
        }
        await _stopping.CancelAsync();
        try
        {
            await Task.WhenAll(_pumps).WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            await _abortHandlers.CancelAsync();
            await Task.WhenAll(_pumps);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None);
        _stopping?.Dispose();
        _abortHandlers.Dispose();
        _handlerGate.Dispose();
    }

    private sealed class DeferredAck(Action ack) : IDeferredAcknowledgement
    {
        public void Acknowledge() => ack();
    }

    private sealed class AsyncRegistration(IDisposable registration) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            registration.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
