using TreeScout.Contracts;

namespace TreeScout.Messaging;

/// <summary>
/// Publishes a message; the task completes only once the broker has confirmed it (it is then durable). A broker outage
/// does not end it: it waits for the reconnect and publishes again, until confirmed or cancelled (docs/adr/0006).
/// </summary>
public interface IMessagePublisher
{
    /// <exception cref="PublishRejectedException">The broker refused the message because its queue is full (only queues with a length limit: frames).</exception>
    Task PublishAsync(IMessage message, CancellationToken cancellationToken = default);
}

/// <summary>
/// Plain handler of one message type. It is called once per delivery; redeliveries are normal, so a handler
/// is idempotent (same message id ⇒ same effects, same downstream message ids).
/// </summary>
public interface IMessageHandler<in TMessage>
    where TMessage : class, IMessage
{
    Task HandleAsync(TMessage message, MessageContext context, CancellationToken cancellationToken);
}

/// <summary>Acknowledgement held back by a stateful handler until the results derived from the message are durable downstream.</summary>
public interface IDeferredAcknowledgement
{
    /// <summary>Acknowledge the message now. Idempotent; a no-op if the delivery was lost meanwhile (it will be redelivered).</summary>
    void Acknowledge();
}

/// <summary>What a handler knows about the delivery it is handling.</summary>
public sealed class MessageContext
{
    // How the bus acknowledges later; null for a context made for a direct call.
    private readonly Func<IDeferredAcknowledgement>? _defer;
    private Deferral? _deferral;

    /// <summary>
    /// A delivery for calling a handler directly, without a bus (a handler's unit test, a tool): the handler publishes
    /// through <paramref name="publisher"/>, and an acknowledgement it defers goes nowhere but shows in
    /// <see cref="IsAcknowledgementDeferred"/> and <see cref="IsAcknowledgementPending"/>.
    /// </summary>
    /// <param name="queue">The queue the message would come from, e.g. <see cref="Topology.FusionGnssQueue"/>.</param>
    /// <param name="publisher">Where the handler's messages go, e.g. <see cref="PublishedMessages"/>; none: a handler that publishes fails, naming the queue.</param>
    /// <param name="deliveryCount">1 for a first delivery; more to test a redelivery.</param>
    public MessageContext(string queue, IMessagePublisher? publisher = null, int deliveryCount = 1)
        : this(queue, deliveryCount, publisher ?? new NoPublisher(queue), null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(deliveryCount, 1);
    }

    internal MessageContext(string queue, int deliveryCount, IMessagePublisher publisher, Func<IDeferredAcknowledgement>? defer)
    {
        Queue = queue;
        DeliveryCount = deliveryCount;
        Publisher = publisher;
        _defer = defer;
    }

    public string Queue { get; }

    /// <summary>The routing key the message was published with, e.g. tractor.&lt;id&gt;.uplink on the central broker; empty for a direct call.</summary>
    public string RoutingKey { get; init; } = "";

    /// <summary>When the publisher sent it (RabbitMQ: the AMQP timestamp, whole seconds of the publisher's clock); null when unknown.</summary>
    public DateTimeOffset? PublishedAt { get; init; }

    /// <summary>1 on first delivery.</summary>
    public int DeliveryCount { get; }

    public bool IsRedelivery => DeliveryCount > 1;

    /// <summary>Publishes with confirmation; publish downstream before returning so the ack follows the confirm.</summary>
    public IMessagePublisher Publisher { get; }

    /// <summary>The handler called <see cref="DeferAcknowledgement"/>: the message is not acknowledged when it returns.</summary>
    public bool IsAcknowledgementDeferred => _deferral is not null;

    /// <summary>The handler deferred the acknowledgement and has not acknowledged yet.</summary>
    public bool IsAcknowledgementPending => _deferral is { IsAcknowledged: false };

    /// <summary>
    /// Keep the message unacknowledged after the handler returns; the caller acknowledges it later. Used by
    /// stateful stages (fusion) whose output for a message is only published once later messages arrived.
    /// </summary>
    public IDeferredAcknowledgement DeferAcknowledgement() => _deferral ??= new Deferral(_defer?.Invoke());

    /// <summary>Remembers that the acknowledgement was given, then passes it on to the bus (none for a direct call).</summary>
    private sealed class Deferral(IDeferredAcknowledgement? bus) : IDeferredAcknowledgement
    {
        private volatile bool _acknowledged;

        public bool IsAcknowledged => _acknowledged;

        public void Acknowledge()
        {
            _acknowledged = true;
            bus?.Acknowledge();
        }
    }

    private sealed class NoPublisher(string queue) : IMessagePublisher
    {
        public Task PublishAsync(IMessage message, CancellationToken cancellationToken = default) =>
            throw new InvalidOperationException($"the handler of {queue} published a {message.GetType().Name}, but its MessageContext was made without a publisher");
    }
}

/// <summary>
/// Keeps what is published to it, in order, and confirms at once: a <see cref="MessageContext"/>'s publisher for calling
/// a handler directly and checking what it published.
/// </summary>
public sealed class PublishedMessages : IMessagePublisher, IReadOnlyList<IMessage>
{
    private readonly List<IMessage> _messages = [];

    public int Count
    {
        get
        {
            lock (_messages)
            {
                return _messages.Count;
            }
        }
    }

    public IMessage this[int index]
    {
        get
        {
            lock (_messages)
            {
                return _messages[index];
            }
        }
    }

    public Task PublishAsync(IMessage message, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_messages)
        {
            _messages.Add(message);
        }
        return Task.CompletedTask;
    }

    public IEnumerator<IMessage> GetEnumerator()
    {
        lock (_messages)
        {
            return _messages.ToList().GetEnumerator();
        }
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>Routes the messages of one queue to their handlers by type.</summary>
public sealed class MessageDispatcher
{
    private readonly Dictionary<Type, Func<IMessage, MessageContext, CancellationToken, Task>> _routes = [];
    private IMessageHandler<IMessage>? _otherwise;

    public MessageDispatcher On<TMessage>(IMessageHandler<TMessage> handler)
        where TMessage : class, IMessage
    {
        _routes[typeof(TMessage)] = (m, c, ct) => handler.HandleAsync((TMessage)m, c, ct);
        return this;
    }

    /// <summary>Every message type without a handler of its own goes to <paramref name="handler"/> (the central ingest takes all types and judges them itself).</summary>
    public MessageDispatcher Otherwise(IMessageHandler<IMessage> handler)
    {
        _otherwise = handler;
        return this;
    }

    public IReadOnlyCollection<Type> MessageTypes => _routes.Keys;

    public Task DispatchAsync(IMessage message, MessageContext context, CancellationToken cancellationToken) =>
        _routes.TryGetValue(message.GetType(), out var route) ? route(message, context, cancellationToken)
        : _otherwise is { } otherwise ? otherwise.HandleAsync(message, context, cancellationToken)
        : throw new MalformedMessageException($"queue {context.Queue} has no handler for {message.GetType().Name}");
}
