using System.Diagnostics;
using Microsoft.Extensions.Logging;
using TreeScout.Contracts;

namespace TreeScout.Messaging;

/// <summary>What to do with a delivery once its handler has run.</summary>
internal enum DeliveryAction
{
    Ack,
    Defer,
    Retry,
    DeadLetter,

    /// <summary>Shutting down mid-handler: give the message back without counting it as a failure.</summary>
    Release,
}

/// <summary>
/// One delivery as the transport hands it over: the envelope, the routing key it was published with, its delivery
/// count (1 on the first) and when it was published (null when the transport does not say).
/// </summary>
internal readonly record struct Delivery(MessageEnvelope Envelope, string RoutingKey, int Count, DateTimeOffset? PublishedAt);

internal readonly record struct DeliveryOutcome(DeliveryAction Action, string? Reason = null, string? ErrorType = null, Guid? MessageId = null)
{
    /// <summary>The dead-letter count's reason label.</summary>
    public string ReasonClass => ErrorType == DeadLetterReasons.Malformed ? DeadLetterReasons.Malformed : DeadLetterReasons.Failed;
}

/// <summary>
/// The consume path both buses share, so the embedded mode behaves like RabbitMQ: decode, drop duplicates,
/// dispatch, then ack / defer / retry / dead-letter with the reason.
/// </summary>
internal sealed class DeliveryProcessor(
    QueueSpec queue,
    string worker,
    MessageDispatcher dispatcher,
    IdempotencyFilter seen,
    MessagingMetrics metrics,
    ILogger logger)
{
    public QueueSpec Queue => queue;

    public IdempotencyFilter Seen => seen;

    public async Task<DeliveryOutcome> ProcessAsync(
        Delivery delivery,
        IMessagePublisher publisher,
        Func<IDeferredAcknowledgement> defer,
        CancellationToken cancellationToken)
    {
        var (envelope, deliveryCount) = (delivery.Envelope, delivery.Count);
        IMessage message;
        try
        {
            message = MessageCodec.Decode(envelope);
        }
        catch (MalformedMessageException ex)
        {
            logger.LogWarning("Dead-lettering malformed message {MessageId} ({Type}) from {Queue}: {Reason}", envelope.MessageId, envelope.Type, queue.Name, ex.Message);
            return new(DeliveryAction.DeadLetter, ex.Message, DeadLetterReasons.Malformed);
        }

        if (seen.Contains(message.MessageId))
        {
            metrics.Duplicate(queue.Name);
            logger.LogDebug("Skipping duplicate {MessageId} on {Queue}", message.MessageId, queue.Name);
            return new(DeliveryAction.Ack, MessageId: message.MessageId);
        }

        var context = new MessageContext(queue.Name, deliveryCount, publisher, defer) { RoutingKey = delivery.RoutingKey, PublishedAt = delivery.PublishedAt };
        var started = Stopwatch.GetTimestamp();
        using var scope = logger.BeginScope(new Dictionary<string, object> { ["RunId"] = message.RunId, ["MessageId"] = message.MessageId });
        try
        {
            await dispatcher.DispatchAsync(message, context, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return new(DeliveryAction.Release, MessageId: message.MessageId);
        }
        catch (MalformedMessageException ex)
        {
            logger.LogWarning("Dead-lettering {Type} {MessageId} from {Queue}: {Reason}", envelope.Type, message.MessageId, queue.Name, ex.Message);
            return new(DeliveryAction.DeadLetter, ex.Message, DeadLetterReasons.Malformed, message.MessageId);
        }
        catch (Exception ex)
        {
            var reason = $"{ex.GetType().Name}: {ex.Message}";
            if (deliveryCount >= queue.DeliveryLimit)
            {
                logger.LogError(ex, "Dead-lettering {Type} {MessageId} from {Queue} after {Attempts} failed deliveries: {Reason}", envelope.Type, message.MessageId, queue.Name, deliveryCount, reason);
                return new(DeliveryAction.DeadLetter, reason, ex.GetType().FullName, message.MessageId);
            }
            logger.LogWarning("Handler for {Type} {MessageId} on {Queue} failed (attempt {Attempt} of {Limit}), will retry: {Reason}", envelope.Type, message.MessageId, queue.Name, deliveryCount, queue.DeliveryLimit, reason);
            metrics.Retried(queue.Name);
            return new(DeliveryAction.Retry, reason, ex.GetType().FullName, message.MessageId);
        }

        metrics.Consumed(queue.Name, Stopwatch.GetElapsedTime(started).TotalSeconds);
        return context.IsAcknowledgementDeferred
            ? new(DeliveryAction.Defer, MessageId: message.MessageId)
            : new(DeliveryAction.Ack, MessageId: message.MessageId);
    }

    /// <summary>Headers a dead-lettered message carries besides its original ones.</summary>
    public Dictionary<string, string> DeadLetterHeaders(Delivery delivery, DeliveryOutcome outcome)
    {
        var headers = new Dictionary<string, string>(delivery.Envelope.Headers, StringComparer.Ordinal)
        {
            [WireHeaders.Error] = Reasons.OneLine(outcome.Reason ?? "unknown"),
            [WireHeaders.ErrorType] = outcome.ErrorType ?? "unknown",
            [WireHeaders.FailedQueue] = queue.Name,
            [WireHeaders.FailedWorker] = worker,
            [WireHeaders.DeliveryCount] = delivery.Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
            [WireHeaders.RoutingKey] = delivery.RoutingKey,
            [WireHeaders.FailedAt] = DateTimeOffset.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
        };
        return headers;
    }

    /// <summary>Short pause before a failed message goes back, so a failing dependency is not hammered.</summary>
    public static TimeSpan RetryDelay(int deliveryCount) => TimeSpan.FromMilliseconds(Math.Min(2000, 100 * (1 << Math.Min(deliveryCount, 5))));
}
