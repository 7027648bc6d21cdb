using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;
using TreeScout.Contracts;

namespace TreeScout.Messaging;

/// <summary>
/// RabbitMQ.Client 7 (async API) transport. One connection per worker with automatic connection and topology
/// recovery; one long-lived publish channel with publisher confirmations (a publish returns when the broker
/// confirmed it); one consume channel, manual acks after the handler (and its downstream publishes) finished,
/// prefetch per queue, failures retried up to the delivery limit then dead-lettered with the reason in headers.
/// </summary>
public sealed class RabbitMqMessageBus(BrokerOptions options, Topology topology, string worker, MessagingMetrics metrics, ILogger<RabbitMqMessageBus> logger) : IMessageBus
{
    private static readonly HashSet<string> MandatoryExchanges =
        [Topology.ControlExchange, Topology.FramesExchange, Topology.GnssExchange, Topology.DetectionsExchange, Topology.ObservationsExchange];

    private readonly List<(QueueSpec Queue, MessageDispatcher Dispatcher)> _subscriptions = [];
    private readonly TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _inFlightDrained = new(0);
    private readonly List<string> _consumerTags = [];
    private IConnection? _connection;
    private IChannel? _publishChannel;
    private IChannel? _consumeChannel;
    private Task? _connectLoop;
    private volatile bool _ready;
    private volatile string _state = "not started";
    private int _inFlight;

    public bool IsReady => _ready;

    public string State => _state;

    public void Subscribe(string queue, MessageDispatcher dispatcher)
    {
        if (_connectLoop is not null)
        {
            throw new InvalidOperationException("Subscribe before StartAsync.");
        }
        _subscriptions.Add((topology.Queue(queue), dispatcher));
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _connectLoop = Task.Run(() => ConnectLoopAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>Completes once connected with topology declared and consumers registered.</summary>
    public Task WhenConnectedAsync(CancellationToken cancellationToken) => _connected.Task.WaitAsync(cancellationToken);

    private async Task ConnectLoopAsync(CancellationToken stopping)
    {
        var factory = new ConnectionFactory
        {
            Uri = new Uri(options.Uri!),
            AutomaticRecoveryEnabled = true,
            TopologyRecoveryEnabled = true,
            NetworkRecoveryInterval = options.NetworkRecoveryInterval,
            RequestedHeartbeat = TimeSpan.FromSeconds(15),
            ClientProvidedName = $"treescout-{worker}@{Environment.MachineName}",
            ConsumerDispatchConcurrency = 1,
        };
        var delay = TimeSpan.FromMilliseconds(500);
        var attempts = 0;
        while (!stopping.IsCancellationRequested)
        {
            attempts++;
            try
            {
                _state = "connecting";
                var connection = await factory.CreateConnectionAsync(stopping);
                await SetUpAsync(connection, stopping);
                _connection = connection;
                _ready = true;
                _state = "ready";
                logger.LogInformation("Connected to broker {Broker} after {Attempts} attempt(s); consuming {Queues}", BrokerOptions.Redact(options.Uri), attempts, string.Join(", ", _subscriptions.Select(s => s.Queue.Name)));
                _connected.TrySetResult();
                return;
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                _state = $"broker unreachable: {Describe(ex)}";
                if (attempts == 1)
                {
                    // One clear line; the retries that follow are debug noise until it works.
                    logger.LogError("Broker {Broker} unreachable ({Reason}); retrying with backoff up to {MaxDelay}s, not ready until connected",
                        BrokerOptions.Redact(options.Uri), Describe(ex), options.MaxReconnectDelay.TotalSeconds);
                }
                else
                {
                    logger.LogDebug("Broker connection attempt {Attempt} failed: {Reason}", attempts, Describe(ex));
                }
                try
                {
                    await Task.Delay(delay, stopping);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                delay = TimeSpan.FromTicks(Math.Min(options.MaxReconnectDelay.Ticks, delay.Ticks * 2));
            }
        }
    }

    private async Task SetUpAsync(IConnection connection, CancellationToken cancellationToken)
    {
        connection.ConnectionShutdownAsync += (_, e) =>
        {
            _ready = false;
            _state = $"disconnected: {e.ReplyText}";
            if (!_stopping.IsCancellationRequested)
            {
                logger.LogWarning("Broker connection lost ({Code} {Reason}); recovering", e.ReplyCode, e.ReplyText);
            }
            return Task.CompletedTask;
        };
        connection.RecoverySucceededAsync += (_, _) =>
        {
            _ready = true;
            _state = "ready";
            logger.LogInformation("Broker connection recovered; consumers re-registered");
            return Task.CompletedTask;
        };
        connection.ConnectionRecoveryErrorAsync += (_, e) =>
        {
            logger.LogDebug("Broker recovery attempt failed: {Reason}", Describe(e.Exception));
            return Task.CompletedTask;
        };

        await using (var declare = await connection.CreateChannelAsync(cancellationToken: cancellationToken))
        {
            await RabbitMqTopology.EnsureAsync(declare, topology, options.DeclareTopology, cancellationToken);
        }

        _publishChannel = await connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true),
            cancellationToken);
        _publishChannel.BasicReturnAsync += (_, e) =>
        {
            logger.LogWarning("Broker returned an unroutable {Type} on {Exchange}/{RoutingKey}: {Reason}", e.BasicProperties.Type, e.Exchange, e.RoutingKey, e.ReplyText);
            return Task.CompletedTask;
        };

        if (_subscriptions.Count == 0)
        {
            return;
        }
        _consumeChannel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        foreach (var (queue, dispatcher) in _subscriptions)
        {
            var processor = new DeliveryProcessor(queue, worker, dispatcher, new IdempotencyFilter(), metrics, logger);
            await _consumeChannel.BasicQosAsync(0, (ushort)options.PrefetchFor(queue.Name), false, cancellationToken);
            var consumer = new AsyncEventingBasicConsumer(_consumeChannel);
            consumer.ReceivedAsync += (_, delivery) => OnDeliveryAsync(processor, delivery);
            _consumerTags.Add(await _consumeChannel.BasicConsumeAsync(queue.Name, autoAck: false, consumer, cancellationToken));
        }
    }

    /// <summary>Declares every exchange, quorum queue, binding, dead-letter exchange and queue. Idempotent.</summary>
    public static async Task DeclareTopologyAsync(IChannel channel, Topology topology, CancellationToken cancellationToken)
    {
        foreach (var exchange in Topology.Exchanges)
        {
            await channel.ExchangeDeclareAsync(exchange, ExchangeType.Topic, durable: true, autoDelete: false, cancellationToken: cancellationToken);
        }
        foreach (var queue in topology.Queues)
        {
            await channel.ExchangeDeclareAsync(queue.DeadLetterExchange, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: cancellationToken);
            await channel.QueueDeclareAsync(queue.DeadLetterQueue, durable: true, exclusive: false, autoDelete: false,
                arguments: new Dictionary<string, object?> { ["x-queue-type"] = "quorum" }, cancellationToken: cancellationToken);
            await channel.QueueBindAsync(queue.DeadLetterQueue, queue.DeadLetterExchange, "", cancellationToken: cancellationToken);

            await channel.QueueDeclareAsync(queue.Name, durable: true, exclusive: false, autoDelete: false, arguments: QueueArguments(queue), cancellationToken: cancellationToken);
            foreach (var binding in queue.Bindings)
            {
                await channel.QueueBindAsync(queue.Name, binding.Exchange, binding.RoutingKey, cancellationToken: cancellationToken);
            }
        }
    }

    public static Dictionary<string, object?> QueueArguments(QueueSpec queue)
    {
        var args = new Dictionary<string, object?>
        {
            ["x-queue-type"] = "quorum",
            ["x-delivery-limit"] = queue.DeliveryLimit,
            ["x-dead-letter-exchange"] = queue.DeadLetterExchange,
        };
        if (queue.Overflow == OverflowPolicy.RejectPublish)
        {
            args["x-overflow"] = "reject-publish";
            if (queue.MaxLength is { } max)
            {
                args["x-max-length"] = max;
            }
            if (queue.MaxLengthBytes is { } bytes)
            {
                args["x-max-length-bytes"] = bytes;
            }
        }
        return args;
    }

    private async Task OnDeliveryAsync(DeliveryProcessor processor, BasicDeliverEventArgs delivery)
    {
        var channel = _consumeChannel!;
        Interlocked.Increment(ref _inFlight);
        try
        {
            // The body buffer belongs to the client library and is reused once this callback returns.
            var envelope = ToEnvelope(delivery);
            var deliveryCount = DeliveryCount(delivery);
            var tag = delivery.DeliveryTag;
            var outcome = await processor.ProcessAsync(envelope, deliveryCount, this, () => new DeferredAck(logger, channel, tag, processor, envelope.MessageId), _stopping.Token);
            switch (outcome.Action)
            {
                case DeliveryAction.Ack:
                    await channel.BasicAckAsync(tag, multiple: false);
                    processor.Seen.Add(outcome.MessageId ?? envelope.MessageId);
                    break;
                case DeliveryAction.Defer:
                    break;
                case DeliveryAction.Retry:
                    await Task.Delay(DeliveryProcessor.RetryDelay(deliveryCount));
                    await channel.BasicNackAsync(tag, multiple: false, requeue: true);
                    break;
                case DeliveryAction.Release:
                    await channel.BasicNackAsync(tag, multiple: false, requeue: true);
                    break;
                case DeliveryAction.DeadLetter:
                    await PublishEnvelopeAsync(processor.Queue.DeadLetterExchange, processor.Queue.Name, envelope with { Headers = processor.DeadLetterHeaders(envelope, outcome, deliveryCount) }, mandatory: true, CancellationToken.None);
                    await channel.BasicAckAsync(tag, multiple: false);
                    metrics.DeadLettered(processor.Queue.Name);
                    break;
            }
        }
        catch (Exception ex) when (ex is AlreadyClosedException or OperationInterruptedException)
        {
            // The channel went away mid-delivery: the broker requeues the message and we see it again.
            logger.LogWarning("Delivery on {Queue} interrupted by connection loss; it will be redelivered", processor.Queue.Name);
        }
        finally
        {
            if (Interlocked.Decrement(ref _inFlight) == 0 && _stopping.IsCancellationRequested)
            {
                _inFlightDrained.Release();
            }
        }
    }

    private static MessageEnvelope ToEnvelope(BasicDeliverEventArgs delivery)
    {
        var props = delivery.BasicProperties;
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        if (props.Headers is not null)
        {
            foreach (var (key, value) in props.Headers)
            {
                if (HeaderText(value) is { } text)
                {
                    headers[key] = text;
                }
            }
        }
        _ = Guid.TryParse(props.MessageId, out var id);
        return new MessageEnvelope(id, props.Type ?? "", props.ContentType ?? "", headers, delivery.Body.ToArray());
    }

    private static string? HeaderText(object? value) => value switch
    {
        null => null,
        byte[] bytes => Encoding.UTF8.GetString(bytes),
        string s => s,
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => null,
    };

    /// <summary>Quorum queues count returned deliveries in x-delivery-count; 1 = first delivery.</summary>
    private static int DeliveryCount(BasicDeliverEventArgs delivery)
    {
        if (delivery.BasicProperties.Headers?.TryGetValue("x-delivery-count", out var raw) == true && HeaderText(raw) is { } text
            && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var previous))
        {
            return (int)Math.Min(int.MaxValue - 1, previous) + 1;
        }
        return delivery.Redelivered ? 2 : 1;
    }

    public Task PublishAsync(IMessage message, CancellationToken cancellationToken = default)
    {
        var route = Topology.RouteOf(message.GetType());
        return PublishEnvelopeAsync(route.Exchange, route.RoutingKey, MessageCodec.Encode(message), MandatoryExchanges.Contains(route.Exchange), cancellationToken);
    }

    private async Task PublishEnvelopeAsync(string exchange, string routingKey, MessageEnvelope envelope, bool mandatory, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.PublishTimeout);
        var properties = new BasicProperties
        {
            MessageId = envelope.MessageId.ToString(),
            Type = envelope.Type,
            ContentType = envelope.ContentType,
            DeliveryMode = DeliveryModes.Persistent,
            Timestamp = new AmqpTimestamp(DateTimeOffset.UtcNow.ToUnixTimeSeconds()),
            Headers = envelope.Headers.ToDictionary(h => h.Key, h => (object?)h.Value),
        };
        while (true)
        {
            try
            {
                await _connected.Task.WaitAsync(timeout.Token);
                await _publishChannel!.BasicPublishAsync(exchange, routingKey, mandatory, properties, envelope.Body, timeout.Token);
                metrics.Published(exchange);
                return;
            }
            catch (PublishException ex) when (!ex.IsReturn)
            {
                metrics.Rejected(exchange);
                throw new PublishRejectedException($"broker refused {envelope.Type} {envelope.MessageId} on {exchange} (queue full or unavailable)", ex);
            }
            catch (PublishException ex) when (ex.IsReturn)
            {
                throw new InvalidOperationException($"{envelope.Type} on {exchange}/{routingKey} reached no queue: is the topology declared?", ex);
            }
            catch (Exception ex) when (ex is AlreadyClosedException or OperationInterruptedException or IOException && !timeout.IsCancellationRequested)
            {
                // Connection down or recovering: wait and publish again. A copy may already be stored; consumers de-duplicate by id.
                logger.LogDebug("Publish of {Type} interrupted ({Reason}); retrying", envelope.Type, ex.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(250), timeout.Token);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"broker {BrokerOptions.Redact(options.Uri)} did not confirm {envelope.Type} within {options.PublishTimeout.TotalSeconds}s ({_state})");
            }
        }
    }

    public async Task<QueueDepth?> GetQueueDepthAsync(string queue, CancellationToken cancellationToken)
    {
        if (_connection is not { IsOpen: true } connection)
        {
            return null;
        }
        var spec = topology.Queue(queue);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        var main = await channel.QueueDeclarePassiveAsync(spec.Name, cancellationToken);
        var dead = await channel.QueueDeclarePassiveAsync(spec.DeadLetterQueue, cancellationToken);
        return new QueueDepth(spec.Name, main.MessageCount, dead.MessageCount, (int)main.ConsumerCount);
    }

    public async Task<IAsyncDisposable> ListenAsync(string exchange, string routingPattern, Func<MessageEnvelope, Task> onMessage, CancellationToken cancellationToken)
    {
        await _connected.Task.WaitAsync(cancellationToken);
        var channel = await _connection!.CreateChannelAsync(cancellationToken: cancellationToken);
        var queue = await channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true, cancellationToken: cancellationToken);
        await channel.QueueBindAsync(queue.QueueName, exchange, routingPattern, cancellationToken: cancellationToken);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, delivery) => onMessage(ToEnvelope(delivery));
        await channel.BasicConsumeAsync(queue.QueueName, autoAck: true, consumer, cancellationToken);
        return channel;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }
        await _stopping.CancelAsync();
        _ready = false;
        if (_consumeChannel is { IsOpen: true } consume)
        {
            foreach (var tag in _consumerTags)
            {
                try
                {
                    await consume.BasicCancelAsync(tag, cancellationToken: cancellationToken);
                }
                catch (Exception ex) when (ex is AlreadyClosedException or OperationInterruptedException)
                {
                    break;
                }
            }
        }
        // Let the handler in flight finish and ack before the channel closes.
        if (Volatile.Read(ref _inFlight) > 0)
        {
            await _inFlightDrained.WaitAsync(cancellationToken);
        }
        if (_connection is not null)
        {
            await _connection.CloseAsync(cancellationToken);
        }
        _state = "stopped";
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await StopAsync(timeout.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or AlreadyClosedException or OperationInterruptedException)
        {
            logger.LogDebug("Bus stop did not complete cleanly: {Reason}", ex.Message);
        }
        if (_connectLoop is not null)
        {
            await _connectLoop;
        }
        _connection?.Dispose();
        _stopping.Dispose();
        _inFlightDrained.Dispose();
    }

    private static string Describe(Exception ex)
    {
        var inner = ex;
        while (inner.InnerException is not null)
        {
            inner = inner.InnerException;
        }
        return inner == ex ? ex.Message : $"{ex.Message}: {inner.Message}";
    }

    /// <summary>Ack for a deferred delivery; a no-op if its channel was recovered meanwhile (the message is redelivered).</summary>
    private sealed class DeferredAck(ILogger logger, IChannel channel, ulong tag, DeliveryProcessor processor, Guid messageId) : IDeferredAcknowledgement
    {
        private int _done;

        public void Acknowledge()
        {
            if (Interlocked.Exchange(ref _done, 1) != 0)
            {
                return;
            }
            _ = AckAsync();
        }

        private async Task AckAsync()
        {
            try
            {
                await channel.BasicAckAsync(tag, multiple: false);
                processor.Seen.Add(messageId);
            }
            catch (Exception ex) when (ex is AlreadyClosedException or OperationInterruptedException)
            {
                logger.LogDebug("Deferred ack of {MessageId} lost with its channel; it will be redelivered", messageId);
            }
        }
    }
}
