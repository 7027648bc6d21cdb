namespace TreeScout.Messaging;

/// <summary>
/// The embedded mode's broker: the same exchanges, bindings, quorum-queue semantics (delivery counts, prefetch,
/// length limits with reject-publish, dead-letter queues) as <see cref="Topology"/> declares on RabbitMQ, in one process.
/// Not durable: embedded runs are replays whose inputs stay on disk.
/// </summary>
public sealed class InMemoryBroker
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, InMemoryQueue> _queues;
    private readonly List<(string Exchange, string Pattern, Func<MessageEnvelope, Task> Handler)> _listeners = [];
    private readonly List<MessageEnvelope> _runLedger = [];
    private TaskCompletionSource _idle = NewIdleSignal(true);
    private int _busy;

    public InMemoryBroker(Topology topology)
    {
        Topology = topology;
        _queues = topology.Queues.ToDictionary(q => q.Name, q => new InMemoryQueue(q, this));
    }

    public Topology Topology { get; }

    internal InMemoryQueue Queue(string name) =>
        _queues.TryGetValue(name, out var q) ? q : throw new ArgumentException($"'{name}' is not a TreeScout queue.", nameof(name));

    /// <summary>Messages that were dead-lettered from <paramref name="queue"/>, with their reason headers.</summary>
    public IReadOnlyList<MessageEnvelope> DeadLetters(string queue) => Queue(queue).DeadLettersSnapshot();

    public QueueDepth Depth(string queue) => Queue(queue).Depth();

    internal async Task PublishAsync(string exchange, string routingKey, MessageEnvelope envelope)
    {
        List<InMemoryQueue> targets;
        List<Func<MessageEnvelope, Task>> listeners;
        lock (_gate)
        {
            targets = _queues.Values.Where(q => q.Spec.Bindings.Any(b => b.Exchange == exchange && Topology.TopicMatches(b.RoutingKey, routingKey))).ToList();
            listeners = _listeners.Where(l => l.Exchange == exchange && Topology.TopicMatches(l.Pattern, routingKey)).Select(l => l.Handler).ToList();
            var full = targets.FirstOrDefault(q => q.IsFull());
            if (full is not null)
            {
                throw new PublishRejectedException($"queue {full.Spec.Name} is full (over {full.Spec.MaxLength} messages); {envelope.Type} {envelope.MessageId} refused");
            }
            foreach (var q in targets)
            {
                q.Enqueue(new Delivery(envelope, routingKey, 1, DateTimeOffset.UtcNow));
            }
            if (Topology.RunLedgerBindings.Any(b => b.Exchange == exchange && Topology.TopicMatches(b.RoutingKey, routingKey)))
            {
                _runLedger.Add(envelope);
            }
        }
        foreach (var listener in listeners)
        {
            await listener(envelope);
        }
    }

    /// <summary>The run ledger's entries so far, oldest first (the stream RabbitMQ keeps, here in memory).</summary>
    internal IReadOnlyList<MessageEnvelope> RunLedger()
    {
        lock (_gate)
        {
            return [.. _runLedger];
        }
    }

    internal IDisposable Listen(string exchange, string pattern, Func<MessageEnvelope, Task> handler)
    {
        var entry = (exchange, pattern, handler);
        lock (_gate)
        {
            _listeners.Add(entry);
        }
        return new Unlistener(() =>
        {
            lock (_gate)
            {
                _listeners.Remove(entry);
            }
        });
    }

    /// <summary>Completes when every queue is empty and nothing is being handled or awaiting acknowledgement.</summary>
    public async Task WhenIdleAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task signal;
            lock (_gate)
            {
                if (_busy == 0 && _queues.Values.All(q => q.IsDrained))
                {
                    return;
                }
                signal = _idle.Task;
            }
            // Re-check periodically as well: a queue can fill while no delivery is in flight.
            await Task.WhenAny(signal, Task.Delay(50, cancellationToken));
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    internal void MarkBusy()
    {
        lock (_gate)
        {
            if (_busy++ == 0)
            {
                _idle = NewIdleSignal(false);
            }
        }
    }

    internal void MarkDone()
    {
        lock (_gate)
        {
            if (--_busy == 0)
            {
                _idle.TrySetResult();
            }
        }
    }

    private static TaskCompletionSource NewIdleSignal(bool completed)
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (completed)
        {
            tcs.SetResult();
        }
        return tcs;
    }

    private sealed class Unlistener(Action dispose) : IDisposable
    {
        public void Dispose() => dispose();
    }
}

/// <summary>One queue of the in-memory broker: ready messages, unacknowledged count, dead letters.</summary>
#pragma warning disable CA1001 // The semaphore never allocates a wait handle; it lives as long as the broker.
internal sealed class InMemoryQueue(QueueSpec spec, InMemoryBroker broker)
{
    private readonly Lock _gate = new();
    private readonly LinkedList<Delivery> _ready = new();
    private readonly List<MessageEnvelope> _deadLetters = [];
    private readonly SemaphoreSlim _available = new(0);
    private long _readyBytes;
    private int _unacked;

    public QueueSpec Spec => spec;

    public bool IsDrained
    {
        get
        {
            lock (_gate)
            {
                return _ready.Count == 0 && _unacked == 0;
            }
        }
    }

    /// <summary>
    /// As a RabbitMQ quorum queue with reject-publish: a publish is refused once the ready messages are already over the
    /// limit, so the queue holds at most MaxLength + 1 messages (measured on RabbitMQ 3.10 by DeliverySemanticsTests).
    /// </summary>
    public bool IsFull()
    {
        lock (_gate)
        {
            return spec.Overflow == OverflowPolicy.RejectPublish
                && ((spec.MaxLength is { } max && _ready.Count > max)
                    || (spec.MaxLengthBytes is { } maxBytes && _readyBytes > maxBytes));
        }
    }

    public void Enqueue(Delivery delivery, bool atHead = false)
    {
        lock (_gate)
        {
            if (atHead)
            {
                _ready.AddFirst(delivery);
            }
            else
            {
                _ready.AddLast(delivery);
            }
            _readyBytes += delivery.Envelope.Body.Length;
        }
        _available.Release();
    }

    /// <summary>Waits for the next ready message and counts it as unacknowledged.</summary>
    public async Task<Delivery> TakeAsync(CancellationToken cancellationToken)
    {
        await _available.WaitAsync(cancellationToken);
        Delivery first;
        lock (_gate)
        {
            first = _ready.First!.Value;
            _ready.RemoveFirst();
            _readyBytes -= first.Envelope.Body.Length;
            _unacked++;
        }
        // Outside the queue's lock: the broker takes its own lock first and then the queues' (WhenIdleAsync, PublishAsync);
        // taking them in the other order here deadlocked a WhenIdleAsync that polled while a message was being taken.
        broker.MarkBusy();
        return first;
    }

    public void Settle()
    {
        lock (_gate)
        {
            _unacked--;
        }
        broker.MarkDone();
    }

    public void DeadLetter(MessageEnvelope envelope)
    {
        lock (_gate)
        {
            _deadLetters.Add(envelope);
        }
    }

    public IReadOnlyList<MessageEnvelope> DeadLettersSnapshot()
    {
        lock (_gate)
        {
            return [.. _deadLetters];
        }
    }

    public QueueDepth Depth()
    {
        lock (_gate)
        {
            return new QueueDepth(spec.Name, _ready.Count, _deadLetters.Count, 1);
        }
    }
}
#pragma warning restore CA1001
