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
    private readonly Func<IDeferredAcknowledgement> _defer;

    internal MessageContext(string queue, int deliveryCount, IMessagePublisher publisher, Func<IDeferredAcknowledgement> defer)
    {
        Queue = queue;
        DeliveryCount = deliveryCount;
        Publisher = publisher;
        _defer = defer;
    }

    public string Queue { get; }

    /// <summary>1 on first delivery.</summary>
    public int DeliveryCount { get; }

    public bool IsRedelivery => DeliveryCount > 1;

    /// <summary>Publishes with confirmation; publish downstream before returning so the ack follows the confirm.</summary>
    public IMessagePublisher Publisher { get; }

    internal IDeferredAcknowledgement? Deferred { get; private set; }

    /// <summary>
    /// Keep the message unacknowledged after the handler returns; the caller acknowledges it later. Used by
    /// stateful stages (fusion) whose output for a message is only published once later messages arrived.
    /// </summary>
    public IDeferredAcknowledgement DeferAcknowledgement() => Deferred ??= _defer();
}

/// <summary>Routes the messages of one queue to their handlers by type.</summary>
public sealed class MessageDispatcher
{
    private readonly Dictionary<Type, Func<IMessage, MessageContext, CancellationToken, Task>> _routes = [];

    public MessageDispatcher On<TMessage>(IMessageHandler<TMessage> handler)
        where TMessage : class, IMessage
    {
        _routes[typeof(TMessage)] = (m, c, ct) => handler.HandleAsync((TMessage)m, c, ct);
        return this;
    }

    public IReadOnlyCollection<Type> MessageTypes => _routes.Keys;

    public Task DispatchAsync(IMessage message, MessageContext context, CancellationToken cancellationToken) =>
        _routes.TryGetValue(message.GetType(), out var route)
            ? route(message, context, cancellationToken)
            : throw new MalformedMessageException($"queue {context.Queue} has no handler for {message.GetType().Name}");
}
