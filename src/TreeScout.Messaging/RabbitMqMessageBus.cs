using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;
using TreeScout.Contracts;

namespace TreeScout.Messaging;

/// <summary>
/// RabbitMQ.Client 7 (async API) transport. One connection per worker; one long-lived publish channel with publisher
/// confirmations (a publish returns when the broker confirmed it); one consume channel per subscribed queue with its own
/// prefetch; manual acks after the handler (and its downstream publishes) finished; failures retried up to the delivery
/// limit, then dead-lettered with the reason in headers.
/// <para>
/// Recovery is this class's own loop, not the client library's: the first connect and every reconnect after a lost
/// connection run the same code (connect, declare the topology, open channels, register consumers, re-create listeners),
/// with backoff, and <see cref="IsReady"/> is true only while every consumer is registered (docs/adr/0002).
/// </para>
/// <para>
/// A broker outage of any length is waited out (docs/adr/0006): the loop keeps trying, <see cref="Outage"/> and
/// <see cref="State"/> say since when and why, a publish waits for the reconnect and publishes again, and listeners
/// keep their queues across it. Only the caller's cancellation ends a wait.
/// </para>
/// </summary>
public sealed class RabbitMqMessageBus : IMessageBus
{
    private readonly BrokerOptions options;
    private readonly string worker;
    private readonly MessagingMetrics metrics;
    private readonly ILogger<RabbitMqMessageBus> logger;

    // The queues this bus may consume and report on; their declarations are _declarations.
    private readonly IReadOnlyList<QueueSpec> _queues;

    /// <summary>A tractor worker's bus: it declares (or checks) the tractor <paramref name="topology"/> and consumes its queues.</summary>
    public RabbitMqMessageBus(BrokerOptions options, Topology topology, string worker, MessagingMetrics metrics, ILogger<RabbitMqMessageBus> logger)
        : this(options, new RabbitMqTopology(topology), topology.Queues, worker, metrics, logger)
    {
    }

    /// <summary>
    /// A bus on another broker (the central site's): it declares (or checks) <paramref name="declarations"/> and may
    /// consume <paramref name="queues"/>, e.g. <see cref="CentralTopology.IngestQueueSpec"/> with <see cref="RabbitMqTopology.Central"/>.
    /// </summary>
    public RabbitMqMessageBus(BrokerOptions options, RabbitMqTopology declarations, IReadOnlyList<QueueSpec> queues, string worker, MessagingMetrics metrics, ILogger<RabbitMqMessageBus> logger)
    {
        this.options = options;
        this.worker = worker;
        this.metrics = metrics;
        this.logger = logger;
        _queues = queues;
        _declarations = declarations;
        _broker = BrokerOptions.Redact(options.Uri);
        _boundedExchanges = [.. queues.Where(q => q.Overflow == OverflowPolicy.RejectPublish).SelectMany(q => q.Bindings).Select(b => b.Exchange)];
    }

    private static readonly HashSet<string> MandatoryExchanges =
        [Topology.ControlExchange, Topology.FramesExchange, Topology.GnssExchange, Topology.DetectionsExchange, Topology.ObservationsExchange];

    private readonly List<DeliveryProcessor> _subscriptions = [];
    private readonly List<Listener> _listeners = [];
    private readonly Lock _gate = new();
    private static readonly TimeSpan StopWait = TimeSpan.FromSeconds(10);

    private readonly CancellationTokenSource _stopping = new();

    // Cancelled only when a graceful stop runs out of time: until then the handler in flight finishes normally.
    private readonly CancellationTokenSource _abortHandlers = new();

    // One handler at a time per worker, as in the embedded bus: handlers need not be thread-safe.
    private readonly SemaphoreSlim _handlerGate = new(1, 1);
    private TaskCompletionSource<Session> _connected = NewConnectedSignal();
    private Session? _session;
    private Task? _connectLoop;
    private volatile bool _ready;
    private volatile bool _stopRequested;
    private volatile string _state = "not started";
    private volatile BrokerOutage? _outage;
    private readonly string _broker;

    // Exchanges that feed a queue with a length limit (frames): there a refused publish can mean "full", and is shed.
    private readonly HashSet<string> _boundedExchanges;

    private readonly RabbitMqTopology _declarations;

    public bool IsReady => _ready && _session is { Connection.IsOpen: true };

    public string State => _outage is { } outage && !_stopRequested ? outage.WaitingLine(outage.Lasted(DateTimeOffset.UtcNow)) : _state;

    public BrokerOutage? Outage => _outage;

    public void Subscribe(string queue, MessageDispatcher dispatcher)
    {
        if (_connectLoop is not null)
        {
            throw new InvalidOperationException("Subscribe before StartAsync.");
        }
        _subscriptions.Add(new DeliveryProcessor(Queue(queue), worker, dispatcher, new IdempotencyFilter(), metrics, logger));
    }

    private QueueSpec Queue(string name) =>
        _queues.FirstOrDefault(q => q.Name == name) ?? throw new ArgumentException($"'{name}' is not a queue of this bus.", nameof(name));

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _connectLoop ??= Task.Run(() => ConnectLoopAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>Completes once connected with topology declared and consumers registered.</summary>
    public Task WhenConnectedAsync(CancellationToken cancellationToken) => CurrentSessionAsync(cancellationToken);

    private Task<Session> CurrentSessionAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return _connected.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Connects, sets up, waits until the connection is lost, and starts over; until the bus stops.</summary>
    private async Task ConnectLoopAsync(CancellationToken stopping)
    {
        var factory = new ConnectionFactory
        {
            Uri = new Uri(options.Uri!),
            // Recovery is ours (one code path for the first connect and every reconnect); see the class remarks.
            AutomaticRecoveryEnabled = false,
            TopologyRecoveryEnabled = false,
            RequestedHeartbeat = TimeSpan.FromSeconds(10),
            RequestedConnectionTimeout = TimeSpan.FromSeconds(10),
            ClientProvidedName = $"treescout-{worker}@{Environment.MachineName}",
            ConsumerDispatchConcurrency = 1,
        };
        var delay = options.NetworkRecoveryInterval;
        var attempts = 0;
        var everConnected = false;
        while (!stopping.IsCancellationRequested)
        {
            attempts++;
            var attemptStarted = DateTimeOffset.UtcNow;
            Session? session = null;
            try
            {
                _state = everConnected ? "reconnecting" : "connecting";
                session = await ConnectAsync(factory, stopping);
                var outage = _outage;
                lock (_gate)
                {
                    _session = session;
                    _connected.TrySetResult(session);
                }
                _outage = null;
                _ready = true;
                _state = "ready";
                var consuming = _subscriptions.Count == 0 ? "nothing" : string.Join(", ", _subscriptions.Select(s => s.Queue.Name));
                if (everConnected)
                {
                    logger.LogInformation("Reconnected to broker {Broker} after {Attempts} attempt(s) in {Seconds} s; consuming {Queues}",
                        _broker, attempts, BrokerOutage.Seconds(outage?.Lasted(DateTimeOffset.UtcNow) ?? TimeSpan.Zero), consuming);
                }
                else
                {
                    logger.LogInformation("Connected to broker {Broker} after {Attempts} attempt(s); consuming {Queues}", _broker, attempts, consuming);
                }
                everConnected = true;
                attempts = 0;
                delay = options.NetworkRecoveryInterval;

                var reason = await session.Lost.Task.WaitAsync(stopping);
                _ready = false;
                lock (_gate)
                {
                    _connected = NewConnectedSignal();
                }
                _outage = new BrokerOutage(_broker, $"connection lost: {reason}", DateTimeOffset.UtcNow);
                _state = "reconnecting";
                logger.LogWarning("Broker connection lost ({Reason}); reconnecting. Unacknowledged messages will be redelivered", reason);
                // Not awaited: a handler still running on the old session may be waiting for the new one to publish.
                _ = session.DisposeAsync().AsTask();
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                _ready = false;
                if (session is not null)
                {
                    await session.DisposeAsync();
                }
                var (reason, refused) = Classify(ex);
                // The outage began with the first failed attempt (or the lost connection); later attempts update why.
                _outage = _outage is { } outage ? outage with { Reason = reason, Refused = refused } : new BrokerOutage(_broker, reason, attemptStarted, refused);
                if (attempts == 1)
                {
                    // One clear line per outage here; the waiting lines (BrokerOutageWatch) say how long it lasts.
                    logger.LogError("Broker {Broker} unreachable ({Reason}); retrying with backoff up to {MaxDelay}s, not ready until connected",
                        _broker, Describe(ex), options.MaxReconnectDelay.TotalSeconds);
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

    private async Task<Session> ConnectAsync(ConnectionFactory factory, CancellationToken cancellationToken)
    {
        var connection = await factory.CreateConnectionAsync(cancellationToken);
        var session = new Session(connection);
        try
        {
            connection.ConnectionShutdownAsync += (_, e) =>
            {
                if (e.Initiator != ShutdownInitiator.Application)
                {
                    session.Lost.TrySetResult($"{e.ReplyCode} {e.ReplyText}".Trim());
                }
                return Task.CompletedTask;
            };
            connection.ConnectionBlockedAsync += (_, e) =>
            {
                logger.LogWarning("Broker blocked publishing ({Reason}): publishes wait until it has resources again", e.Reason);
                return Task.CompletedTask;
            };

            await using (var declare = await connection.CreateChannelAsync(cancellationToken: cancellationToken))
            {
                await _declarations.EnsureAsync(declare, options.DeclareTopology, cancellationToken);
            }

            session.Publish = await OpenChannelAsync(session, new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), cancellationToken);
            session.Publish.BasicReturnAsync += (_, e) =>
            {
                logger.LogWarning("Broker returned an unroutable {Type} on {Exchange}/{RoutingKey}: {Reason}", e.BasicProperties.Type, e.Exchange, e.RoutingKey, e.ReplyText);
                return Task.CompletedTask;
            };

            foreach (var processor in _subscriptions)
            {
                var channel = await OpenChannelAsync(session, null, cancellationToken);
                await channel.BasicQosAsync(0, (ushort)options.PrefetchFor(processor.Queue.Name), false, cancellationToken);
                var consumer = new AsyncEventingBasicConsumer(channel);
                var unregistered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                consumer.ReceivedAsync += (_, delivery) => OnDeliveryAsync(processor, channel, delivery);
                consumer.UnregisteredAsync += (_, _) =>
                {
                    unregistered.TrySetResult();
                    if (!_stopRequested)
                    {
                        // The broker cancelled the consumer (e.g. its queue was deleted): not ready until set up again.
                        session.Lost.TrySetResult($"consumer of {processor.Queue.Name} cancelled by the broker");
                    }
                    return Task.CompletedTask;
                };
                var tag = await channel.BasicConsumeAsync(processor.Queue.Name, autoAck: false, consumer, cancellationToken);
                session.Consumers.Add(new Consumer(channel, tag, unregistered));
            }

            List<Listener> listeners;
            lock (_gate)
            {
                listeners = [.. _listeners];
            }
            foreach (var listener in listeners)
            {
                await AttachListenerAsync(session, listener, cancellationToken);
            }
            return session;
        }
        catch
        {
            await session.DisposeAsync();
            throw;
        }
    }

    /// <summary>A channel whose loss (closed by the broker, e.g. on a channel error) ends the session: the loop reconnects.</summary>
    private static async Task<IChannel> OpenChannelAsync(Session session, CreateChannelOptions? channelOptions, CancellationToken cancellationToken)
    {
        var channel = await session.Connection.CreateChannelAsync(channelOptions, cancellationToken);
        channel.ChannelShutdownAsync += (_, e) =>
        {
            if (e.Initiator != ShutdownInitiator.Application)
            {
                session.Lost.TrySetResult($"channel closed: {e.ReplyCode} {e.ReplyText}".Trim());
            }
            return Task.CompletedTask;
        };
        return channel;
    }

    private async Task OnDeliveryAsync(DeliveryProcessor processor, IChannel channel, BasicDeliverEventArgs delivery)
    {
        try
        {
            // The body buffer belongs to the client library and is reused once this callback returns: ToEnvelope copies it.
            var envelope = ToEnvelope(delivery);
            var deliveryCount = DeliveryCount(delivery);
            var received = new Delivery(envelope, delivery.RoutingKey, deliveryCount, PublishedAt(delivery.BasicProperties));
            var tag = delivery.DeliveryTag;
            await _handlerGate.WaitAsync(CancellationToken.None);
            DeliveryOutcome outcome;
            try
            {
                if (!channel.IsOpen)
                {
                    // Its channel closed while it waited behind the handler in flight (e.g. that one waited out a broker
                    // outage): the broker redelivers it, so handling this copy would only repeat the work.
                    logger.LogDebug("Delivery {MessageId} on {Queue} skipped: its channel closed, it will be redelivered", envelope.MessageId, processor.Queue.Name);
                    return;
                }
                outcome = await processor.ProcessAsync(received, this,
                    () => new DeferredAck(logger, channel, tag, processor, envelope.MessageId), _abortHandlers.Token);
            }
            finally
            {
                _handlerGate.Release();
            }
            switch (outcome.Action)
            {
                case DeliveryAction.Ack:
                    // The work is done and its results confirmed downstream: a redelivery (ack lost with the connection) is a duplicate.
                    processor.Seen.Add(outcome.MessageId ?? envelope.MessageId);
                    await channel.BasicAckAsync(tag, multiple: false);
                    break;
                case DeliveryAction.Defer:
                    break;
                case DeliveryAction.Retry:
                    await Task.Delay(DeliveryProcessor.RetryDelay(deliveryCount), _abortHandlers.Token);
                    await channel.BasicNackAsync(tag, multiple: false, requeue: true);
                    break;
                case DeliveryAction.Release:
                    await channel.BasicNackAsync(tag, multiple: false, requeue: true);
                    break;
                case DeliveryAction.DeadLetter when !channel.IsOpen:
                    // The delivery is already back in its queue (its channel closed, e.g. the broker went away): it is
                    // judged again when it returns, so a dead letter now would be a second copy.
                    logger.LogWarning("Delivery {MessageId} on {Queue} not dead-lettered: its channel closed, it will be redelivered", envelope.MessageId, processor.Queue.Name);
                    break;
                case DeliveryAction.DeadLetter:
                    // Published by us (not a broker nack) so the reason travels in headers; confirmed before the ack.
                    await PublishEnvelopeAsync(processor.Queue.DeadLetterExchange, processor.Queue.Name,
                        envelope with { Headers = processor.DeadLetterHeaders(received, outcome) }, mandatory: true, _abortHandlers.Token);
                    await channel.BasicAckAsync(tag, multiple: false);
                    metrics.DeadLettered(processor.Queue.Name, outcome.ReasonClass);
                    break;
            }
        }
        catch (Exception ex) when (ex is AlreadyClosedException or OperationInterruptedException or OperationCanceledException or TimeoutException)
        {
            // The channel went away mid-delivery (or the stop ran out of time): the broker requeues the message and it comes back.
            logger.LogWarning("Delivery on {Queue} not acknowledged ({Reason}); it will be redelivered", processor.Queue.Name, ex.Message);
        }
    }

    /// <summary>An envelope's AMQP properties as every TreeScout publisher sends them (persistent, id, type, headers).</summary>
    public static BasicProperties ToProperties(MessageEnvelope envelope) => new()
    {
        MessageId = envelope.MessageId.ToString(),
        Type = envelope.Type,
        ContentType = envelope.ContentType,
        DeliveryMode = DeliveryModes.Persistent,
        Timestamp = new AmqpTimestamp(DateTimeOffset.UtcNow.ToUnixTimeSeconds()),
        Headers = envelope.Headers.ToDictionary(h => h.Key, h => (object?)h.Value),
    };

    /// <summary>A delivery as the transport-neutral envelope <see cref="MessageCodec.Decode"/> reads.</summary>
    public static MessageEnvelope ToEnvelope(BasicDeliverEventArgs delivery) => ToEnvelope(delivery.BasicProperties, delivery.Body);

    /// <summary>A message as it came off a queue, for <see cref="MessageCodec.Decode"/> (also on the central broker, where the uplink delivers them unchanged).</summary>
    public static MessageEnvelope ToEnvelope(IReadOnlyBasicProperties props, ReadOnlyMemory<byte> body)
    {
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
        return new MessageEnvelope(id, props.Type ?? "", props.ContentType ?? "", headers, body.ToArray());
    }

    private static string? HeaderText(object? value) => value switch
    {
        null => null,
        byte[] bytes => Encoding.UTF8.GetString(bytes),
        string s => s,
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => null,
    };

    /// <summary>The AMQP timestamp every TreeScout publisher sets (<see cref="ToProperties"/>); null when absent.</summary>
    private static DateTimeOffset? PublishedAt(IReadOnlyBasicProperties props) =>
        props.IsTimestampPresent() ? DateTimeOffset.FromUnixTimeSeconds(props.Timestamp.UnixTime) : null;

    /// <summary>
    /// Quorum queues put the number of earlier returns of a message in x-delivery-count (absent on the first delivery).
    /// On RabbitMQ 3.10 every return counts: a nack, and also a consumer that died or closed its channel with the message unacknowledged.
    /// </summary>
    internal static int DeliveryCount(BasicDeliverEventArgs delivery)
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

    /// <summary>
    /// Publishes and returns once the broker confirmed. Waits through a broker outage of any length: a publish the outage
    /// interrupted is sent again on the next connection (consumers drop the copy that may already be stored by its
    /// message id). Ends otherwise only when the broker refuses the message, the bus stops, or the caller cancels.
    /// </summary>
    private async Task PublishEnvelopeAsync(string exchange, string routingKey, MessageEnvelope envelope, bool mandatory, CancellationToken cancellationToken)
    {
        var properties = ToProperties(envelope);
        var refusals = 0;
        while (true)
        {
            var session = await CurrentSessionAsync(cancellationToken);
            var pause = TimeSpan.FromMilliseconds(100);
            try
            {
                await session.Publish!.BasicPublishAsync(exchange, routingKey, mandatory, properties, envelope.Body, cancellationToken);
                metrics.Published(exchange);
                return;
            }
            catch (PublishException ex) when (!ex.IsReturn && _boundedExchanges.Contains(exchange) && !session.ElectingQueues)
            {
                metrics.Rejected(exchange);
                throw new PublishRejectedException($"broker refused {envelope.Type} {envelope.MessageId} on {exchange} (queue full)", ex);
            }
            catch (PublishException ex) when (!ex.IsReturn)
            {
                // No queue behind this exchange has a length limit, or the broker has only just come back: the queue is not
                // available yet (a quorum queue without its leader refuses publishes), so this is a wait like an outage.
                if (++refusals == 1)
                {
                    logger.LogWarning("Broker refused {Type} {MessageId} on {Exchange}: its queue is not available yet; publishing again", envelope.Type, envelope.MessageId, exchange);
                }
                pause = TimeSpan.FromMilliseconds(Math.Min(options.MaxReconnectDelay.TotalMilliseconds, 100 << Math.Min(refusals, 6)));
            }
            catch (PublishException ex) when (ex.IsReturn)
            {
                throw new InvalidOperationException($"{envelope.Type} on {exchange}/{routingKey} reached no queue: is the topology declared?", ex);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && Interrupted(ex, session))
            {
                if (_stopping.IsCancellationRequested)
                {
                    throw new InvalidOperationException($"the {worker} bus has stopped; {envelope.Type} {envelope.MessageId} was not published", ex);
                }
                logger.LogDebug("Publish of {Type} interrupted ({Reason}); publishing again once reconnected", envelope.Type, ex.Message);
            }
            // The lost session is being replaced, or the queue is not there yet: do not spin on it.
            await Task.Delay(pause, cancellationToken);
        }
    }

    /// <summary>
    /// The connection under a publish went away before its confirm: the client library reports that as closed or
    /// interrupted, as a socket error, or (channel already disposed by the reconnect) as disposed.
    /// </summary>
    private static bool Interrupted(Exception ex, Session session) =>
        ex is AlreadyClosedException or OperationInterruptedException or IOException or ObjectDisposedException
        || session.Lost.Task.IsCompleted
        || !session.Connection.IsOpen;

    public async Task<QueueDepth?> GetQueueDepthAsync(string queue, CancellationToken cancellationToken)
    {
        if (_session is not { Connection.IsOpen: true } session)
        {
            return null;
        }
        var spec = Queue(queue);
        try
        {
            await using var channel = await session.Connection.CreateChannelAsync(cancellationToken: cancellationToken);
            var main = await channel.QueueDeclarePassiveAsync(spec.Name, cancellationToken);
            var dead = await channel.QueueDeclarePassiveAsync(spec.DeadLetterQueue, cancellationToken);
            return new QueueDepth(spec.Name, main.MessageCount, dead.MessageCount, (int)main.ConsumerCount);
        }
        catch (Exception ex) when (ex is AlreadyClosedException or OperationInterruptedException)
        {
            return null;
        }
    }

    /// <summary>
    /// Reads the run ledger from its first entry up to a marker this call appends, so everything published before the call
    /// is in the result. Entries that do not decode are skipped with a warning (the ledger is shared history, not a queue).
    /// A connection lost mid-read starts the read again once reconnected.
    /// </summary>
    public async Task<IReadOnlyList<IMessage>> ReadRunLedgerAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var session = await CurrentSessionAsync(cancellationToken);
            try
            {
                return await ReadRunLedgerAsync(session, cancellationToken);
            }
            catch (Exception ex) when (ex is AlreadyClosedException or OperationInterruptedException or IOException)
            {
                logger.LogInformation("Reading the run ledger was interrupted ({Reason}); reading it again once reconnected", ex.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
            }
        }
    }

    private async Task<IReadOnlyList<IMessage>> ReadRunLedgerAsync(Session session, CancellationToken cancellationToken)
    {
        var mark = new RunLedgerMark { MessageId = Guid.NewGuid(), Reader = worker };
        var entries = new List<IMessage>();
        var reachedMark = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var channel = await session.Connection.CreateChannelAsync(cancellationToken: cancellationToken);
        channel.ChannelShutdownAsync += (_, e) =>
        {
            reachedMark.TrySetException(new AlreadyClosedException(e));
            return Task.CompletedTask;
        };
        // Streams need a prefetch and manual acknowledgements (they only advance the credit; nothing is removed).
        await channel.BasicQosAsync(0, 500, false, cancellationToken);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += async (_, delivery) =>
        {
            var envelope = ToEnvelope(delivery);
            if (envelope.MessageId == mark.MessageId)
            {
                reachedMark.TrySetResult();
            }
            else if (envelope.Type != MessageTypes.Of<RunLedgerMark>().Name)
            {
                try
                {
                    entries.Add(MessageCodec.Decode(envelope));
                }
                catch (MalformedMessageException ex)
                {
                    logger.LogWarning("Run ledger entry {MessageId} ({Type}) skipped: {Reason}", envelope.MessageId, envelope.Type, ex.Message);
                }
            }
            await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false);
        };
        await channel.BasicConsumeAsync(Topology.RunLedgerStream, autoAck: false, consumerTag: "", noLocal: false, exclusive: false,
            arguments: new Dictionary<string, object?> { ["x-stream-offset"] = "first" }, consumer, cancellationToken);
        await PublishAsync(mark, cancellationToken);
        await reachedMark.Task.WaitAsync(cancellationToken);
        return entries;
    }

    /// <summary>
    /// Listens on a server-named queue of its own (status and map notices, progress counts). The queue outlives a lost
    /// connection and a broker restart, so what is published while this client reconnects — a run's final map — waits for
    /// it; it is deleted when the listener is disposed, or by the broker once unused for <see cref="ListenerQueueExpiry"/>.
    /// </summary>
    public async Task<IAsyncDisposable> ListenAsync(string exchange, string routingPattern, Func<MessageEnvelope, Task> onMessage, CancellationToken cancellationToken)
    {
        var listener = new Listener(this, exchange, routingPattern, onMessage);
        lock (_gate)
        {
            _listeners.Add(listener);
        }
        try
        {
            while (true)
            {
                var session = await CurrentSessionAsync(cancellationToken);
                try
                {
                    await AttachListenerAsync(session, listener, cancellationToken);
                    return listener;
                }
                catch (Exception ex) when (ex is AlreadyClosedException or OperationInterruptedException)
                {
                    // Lost the connection meanwhile: the next session attaches every registered listener.
                    await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
                }
            }
        }
        catch
        {
            await listener.DisposeAsync();
            throw;
        }
    }

    /// <summary>How long the broker keeps a listener's queue that nobody consumes (its client is gone, or cut off from a running broker).</summary>
    public static readonly TimeSpan ListenerQueueExpiry = TimeSpan.FromMinutes(30);

    /// <summary>
    /// A listener's queue: durable (a broker restart keeps it and its binding), not exclusive (a lost connection does
    /// not delete it), classic (server-named), expiring when unused, and bounded (oldest notices dropped first).
    /// </summary>
    public static Dictionary<string, object?> ListenerQueueArguments() => new()
    {
        ["x-queue-type"] = "classic",
        ["x-expires"] = (long)ListenerQueueExpiry.TotalMilliseconds,
        ["x-max-length"] = 10_000,
    };

    private async Task AttachListenerAsync(Session session, Listener listener, CancellationToken cancellationToken)
    {
        lock (session.Listeners)
        {
            // A reconnect and ListenAsync may race to attach the same listener to a new session: only one does.
            if (!session.Listeners.Add(listener))
            {
                return;
            }
        }
        var channel = await OpenChannelAsync(session, null, cancellationToken);
        if (listener.Queue is not { } queue || !await QueueExistsAsync(session, queue, cancellationToken))
        {
            if (listener.Queue is not null)
            {
                logger.LogWarning("Listener queue {Queue} on {Exchange} expired while this client was away: what was published meanwhile is missed", listener.Queue, listener.Exchange);
            }
            var declared = await channel.QueueDeclareAsync("", durable: true, exclusive: false, autoDelete: false, arguments: ListenerQueueArguments(), cancellationToken: cancellationToken);
            await channel.QueueBindAsync(declared.QueueName, listener.Exchange, listener.RoutingPattern, cancellationToken: cancellationToken);
            listener.Queue = declared.QueueName;
        }
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += async (_, delivery) =>
        {
            try
            {
                await listener.OnMessage(ToEnvelope(delivery));
            }
            finally
            {
                // Acked after it was seen: a notice in flight when the connection drops comes again. A listener that
                // throws has still seen it (informational messages are not retried).
                await AckListenedAsync(channel, delivery.DeliveryTag);
            }
        };
        await channel.BasicConsumeAsync(listener.Queue, autoAck: false, consumer, cancellationToken);
        listener.Channel = channel;
    }

    private static async Task AckListenedAsync(IChannel channel, ulong tag)
    {
        try
        {
            await channel.BasicAckAsync(tag, multiple: false);
        }
        catch (Exception ex) when (ex is AlreadyClosedException or OperationInterruptedException)
        {
            // Redelivered on the next connection.
        }
    }

    /// <summary>Passive declare on a channel of its own: a missing queue closes that channel, not the session's.</summary>
    private static async Task<bool> QueueExistsAsync(Session session, string queue, CancellationToken cancellationToken)
    {
        await using var probe = await session.Connection.CreateChannelAsync(cancellationToken: cancellationToken);
        try
        {
            await probe.QueueDeclarePassiveAsync(queue, cancellationToken);
            return true;
        }
        catch (OperationInterruptedException ex) when (ex.ShutdownReason?.ReplyCode == Constants.NotFound)
        {
            return false;
        }
    }

    /// <summary>
    /// Graceful stop: cancels the consumers, lets the handler in flight and the deliveries already prefetched finish and be
    /// acknowledged (so they are not returned and counted as failed deliveries), then closes the connection. If
    /// <paramref name="cancellationToken"/> fires first, the handler in flight is cancelled and its message redelivered later.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stopRequested)
        {
            return;
        }
        _stopRequested = true;
        _ready = false;
        _state = "stopping";
        var session = _session;
        try
        {
            if (session is { Connection.IsOpen: true })
            {
                foreach (var consumer in session.Consumers)
                {
                    await consumer.Channel.BasicCancelAsync(consumer.Tag, cancellationToken: cancellationToken);
                }
                // The consumer's cancel-ok is dispatched after the deliveries that preceded it: once it arrived, they were handled.
                await Task.WhenAll(session.Consumers.Select(c => c.Unregistered.Task)).WaitAsync(cancellationToken);
            }
            else
            {
                // The broker is away: nothing can be acknowledged, so a handler waiting to publish gives up now; its
                // message is still in its queue and is redelivered.
                await _abortHandlers.CancelAsync();
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or AlreadyClosedException or OperationInterruptedException)
        {
            logger.LogWarning("Stopping before the messages in flight finished ({Reason}); they will be redelivered", ex.Message);
            await _abortHandlers.CancelAsync();
        }
        await _stopping.CancelAsync();
        lock (_gate)
        {
            // Publishers waiting for a reconnect that will not come fail now instead of at their timeout.
            _connected.TrySetException(new InvalidOperationException($"the {worker} bus has stopped"));
        }
        if (_connectLoop is not null)
        {
            // Bounded: a stop must never hang its host (a console test host once waited here for good after the
            // cancel, with the loop still awaiting its lost-connection signal).
            try
            {
                await _connectLoop.WaitAsync(StopWait, CancellationToken.None);
            }
            catch (TimeoutException)
            {
                logger.LogWarning("The {Worker} bus's connection loop did not end within {Seconds} s of the stop; closing its connection anyway", worker, StopWait.TotalSeconds);
            }
        }
        if (session is not null)
        {
            await session.DisposeAsync();
        }
        _state = "stopped";
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await StopAsync(timeout.Token);
        _stopping.Dispose();
        _abortHandlers.Dispose();
        _handlerGate.Dispose();
    }

    /// <summary>
    /// Why a connection attempt failed, in a few words ("connection refused"), and whether the broker refused this client
    /// (wrong password, no permission on the virtual host, no such virtual host) rather than being unreachable.
    /// </summary>
    public static (string Reason, bool Refused) Classify(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case AuthenticationFailureException auth:
                    return (auth.Message, true);
                case OperationInterruptedException { ShutdownReason: { ReplyCode: Constants.AccessRefused or Constants.NotAllowed } reason }:
                    return (reason.ReplyText, true);
                case SocketException socket:
                    return (socket.SocketErrorCode switch
                    {
                        SocketError.ConnectionRefused => "connection refused",
                        SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData => "host not found",
                        SocketError.TimedOut => "connection timed out",
                        SocketError.NetworkUnreachable or SocketError.HostUnreachable => "no route to the broker",
                        SocketError.ConnectionReset => "connection reset",
                        _ => socket.Message,
                    }, false);
            }
        }
        return (ex.GetBaseException().Message, false);
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

    private static TaskCompletionSource<Session> NewConnectedSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private sealed record Consumer(IChannel Channel, string Tag, TaskCompletionSource Unregistered);

    /// <summary>One connection and everything opened on it; replaced as a whole on reconnect.</summary>
    private sealed class Session(IConnection connection) : IAsyncDisposable
    {
        /// <summary>
        /// A broker that has just booted accepts connections before its quorum queues have elected their leaders (0.2-0.6 s
        /// later on a busy machine after a power cut, RabbitMQ 3.10) and refuses publishes to them meanwhile.
        /// </summary>
        private static readonly TimeSpan ElectionWindow = TimeSpan.FromSeconds(10);

        private readonly long _connectedAt = System.Diagnostics.Stopwatch.GetTimestamp();

        public IConnection Connection { get; } = connection;

        /// <summary>Connected so recently that a refused publish is taken for a queue still electing its leader, not a full one.</summary>
        public bool ElectingQueues => System.Diagnostics.Stopwatch.GetElapsedTime(_connectedAt) < ElectionWindow;

        public IChannel? Publish { get; set; }

        public List<Consumer> Consumers { get; } = [];

        public HashSet<Listener> Listeners { get; } = [];

        /// <summary>Completed with a reason when the connection or one of its channels is closed by anything but us.</summary>
        public TaskCompletionSource<string> Lost { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async ValueTask DisposeAsync()
        {
            try
            {
                if (Connection.IsOpen)
                {
                    await Connection.CloseAsync(TimeSpan.FromSeconds(5)).WaitAsync(TimeSpan.FromSeconds(10));
                }
                // Bounded: a stop must never hang on a connection that is already half gone.
                await Connection.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (Exception ex) when (ex is AlreadyClosedException or OperationInterruptedException or IOException or OperationCanceledException or TimeoutException)
            {
                // Already gone.
            }
        }
    }

    private sealed class Listener(RabbitMqMessageBus bus, string exchange, string routingPattern, Func<MessageEnvelope, Task> onMessage) : IAsyncDisposable
    {
        public string Exchange => exchange;

        public string RoutingPattern => routingPattern;

        public Func<MessageEnvelope, Task> OnMessage => onMessage;

        public IChannel? Channel { get; set; }

        /// <summary>Its server-named queue, kept across reconnects.</summary>
        public string? Queue { get; set; }

        public async ValueTask DisposeAsync()
        {
            lock (bus._gate)
            {
                bus._listeners.Remove(this);
            }
            if (Channel is { IsOpen: true } channel)
            {
                // Bounded: a broker that stopped answering must not hold up the client's exit (the queue expires anyway).
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                try
                {
                    await channel.QueueDeleteAsync(Queue!, cancellationToken: timeout.Token);
                    await channel.CloseAsync(timeout.Token);
                }
                catch (Exception ex) when (ex is AlreadyClosedException or OperationInterruptedException or OperationCanceledException)
                {
                    // The connection went first; the broker deletes the queue once it expires.
                }
            }
        }
    }

    /// <summary>Ack for a deferred delivery; a no-op if its channel was lost meanwhile (the message is redelivered).</summary>
    private sealed class DeferredAck(ILogger logger, IChannel channel, ulong tag, DeliveryProcessor processor, Guid messageId) : IDeferredAcknowledgement
    {
        private int _done;

        public void Acknowledge()
        {
            if (Interlocked.Exchange(ref _done, 1) != 0)
            {
                return;
            }
            // Acknowledge is called once the results derived from the message are durable: a redelivery is a duplicate.
            processor.Seen.Add(messageId);
            _ = AckAsync();
        }

        private async Task AckAsync()
        {
            try
            {
                await channel.BasicAckAsync(tag, multiple: false);
            }
            catch (Exception ex) when (ex is AlreadyClosedException or OperationInterruptedException)
            {
                logger.LogDebug("Deferred ack of {MessageId} lost with its channel; it will be redelivered and dropped as a duplicate", messageId);
            }
        }
    }
}
