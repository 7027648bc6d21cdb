using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using TreeScout.Contracts;
using TreeScout.Hosting;
using TreeScout.Messaging;

namespace TreeScout.Central;

/// <summary>
/// Consumes <see cref="CentralTopology.IngestQueue"/> on the central broker, one delivery at a time in queue order:
/// <see cref="CentralIngest"/> writes it, and only after its transaction has committed is it acknowledged. A delivery
/// that can never be stored is published to the queue's dead-letter exchange with the reason (confirmed), then
/// acknowledged. While the database is unreachable the delivery is held and retried (its delivery count untouched, so
/// an outage never dead-letters observations); any other failure is retried <see cref="CentralOptions.DeliveryLimit"/>
/// times, then dead-lettered. The client's own recovery reconnects and re-registers the consumer after a broker outage;
/// what was unacknowledged then is redelivered and is a no-op where it was already stored. It consumes once connected
/// and the season store is migrated (<see cref="SeasonStoreReadiness"/>); as a health check it is ready while
/// connected with its consumer registered, else says what it waits for, without the password.
/// </summary>
public sealed class IngestConsumer(CentralIngest ingest, SeasonStoreReadiness store, IOptions<CentralOptions> options, ILogger<IngestConsumer> logger)
    : BackgroundService, IHealthCheck
{
    public const string DataKey = "broker";

    /// <summary>The ingest queue with the tractor workers' queue rules: quorum, delivery limit, dead-letter pair (docs/adr/0002).</summary>
    public static readonly QueueSpec Queue = CentralTopology.IngestQueueSpec(new TopologyOptions());

    private readonly string _broker = BrokerOptions.Redact(options.Value.Broker);
    private long _stored;
    private long _deadLettered;
    private volatile bool _consuming;
    private volatile string _waiting = $"connecting to the central broker at {BrokerOptions.Redact(options.Value.Broker)}";
    private volatile BrokerOutage? _outage;

    /// <summary>Deliveries written and acknowledged since start.</summary>
    public long Stored => Interlocked.Read(ref _stored);

    public long DeadLettered => Interlocked.Read(ref _deadLettered);

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var outage = _outage;
        var ready = _consuming && outage is null;
        var state = outage is not null ? outage.WaitingLine(outage.Lasted(DateTimeOffset.UtcNow), "the central broker")
            : ready ? "ready" : _waiting;
        return Task.FromResult(WorkerHealth.Readiness(context, ready, DataKey, state));
    }

    /// <summary>Declares (or checks) the central exchange, the ingest queue and its dead-letter exchange and queue.</summary>
    public static async Task EnsureTopologyAsync(IChannel channel, bool declare, CancellationToken cancellationToken)
    {
        if (!declare)
        {
            await channel.ExchangeDeclarePassiveAsync(CentralTopology.Exchange, cancellationToken);
            await channel.QueueDeclarePassiveAsync(Queue.Name, cancellationToken);
            await channel.QueueDeclarePassiveAsync(Queue.DeadLetterQueue, cancellationToken);
            return;
        }
        await channel.ExchangeDeclareAsync(CentralTopology.Exchange, ExchangeType.Topic, durable: true, autoDelete: false, cancellationToken: cancellationToken);
        await channel.ExchangeDeclareAsync(Queue.DeadLetterExchange, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: cancellationToken);
        await channel.QueueDeclareAsync(Queue.Name, durable: true, exclusive: false, autoDelete: false, arguments: RabbitMqTopology.QueueArguments(Queue), cancellationToken: cancellationToken);
        await channel.QueueDeclareAsync(Queue.DeadLetterQueue, durable: true, exclusive: false, autoDelete: false,
            arguments: new Dictionary<string, object?>(RabbitMqTopology.DeadLetterQueueArguments), cancellationToken: cancellationToken);
        await channel.QueueBindAsync(Queue.Name, CentralTopology.Exchange, CentralTopology.IngestBinding, cancellationToken: cancellationToken);
        await channel.QueueBindAsync(Queue.DeadLetterQueue, Queue.DeadLetterExchange, "", cancellationToken: cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var factory = new ConnectionFactory
        {
            Uri = new Uri(options.Value.Broker),
            AutomaticRecoveryEnabled = true,
            TopologyRecoveryEnabled = true,
            NetworkRecoveryInterval = TimeSpan.FromSeconds(2),
            RequestedHeartbeat = TimeSpan.FromSeconds(10),
            ClientProvidedName = $"treescout-{CentralWorker.Worker}@{Environment.MachineName}",
            ConsumerDispatchConcurrency = 1,
        };
        // The schema is migrated while the broker is connected; deliveries are taken once both are done.
        var migrated = store.MigrateAsync(stoppingToken);
        var connection = await ConnectAsync(factory, stoppingToken);
        _outage = null;
        _waiting = $"connected to the central broker at {_broker}; consuming once the season store is migrated";
        await using (connection)
        {
            connection.ConnectionShutdownAsync += (_, e) =>
            {
                if (e.Initiator != ShutdownInitiator.Application)
                {
                    _outage = new BrokerOutage(_broker, $"connection lost: {$"{e.ReplyCode} {e.ReplyText}".Trim()}", DateTimeOffset.UtcNow);
                }
                return Task.CompletedTask;
            };
            connection.ConnectionRecoveryErrorAsync += (_, e) =>
            {
                if (_outage is { } outage)
                {
                    _outage = outage with { Reason = RabbitMqMessageBus.Classify(e.Exception).Reason };
                }
                return Task.CompletedTask;
            };
            // Raised after the client's topology recovery has registered the consumer again.
            connection.RecoverySucceededAsync += (_, _) =>
            {
                _outage = null;
                return Task.CompletedTask;
            };
            await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), stoppingToken);
            await EnsureTopologyAsync(channel, options.Value.DeclareTopology, stoppingToken);
            await channel.BasicQosAsync(0, options.Value.Prefetch, global: false, stoppingToken);
            var consumer = new AsyncEventingBasicConsumer(channel);
            consumer.ReceivedAsync += (_, delivery) => HandleDeliveryAsync(channel, delivery, stoppingToken);
            await migrated;
            await channel.BasicConsumeAsync(Queue.Name, autoAck: false, consumer, stoppingToken);
            _consuming = true;
            logger.LogInformation("Consuming {Queue} on {Broker}", Queue.Name, _broker);
            try
            {
                await Task.Delay(Timeout.Infinite, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                // Stopping: the delivery in flight is not acknowledged and comes back to the next consumer.
            }
            _consuming = false;
        }
    }

    private async Task<IConnection> ConnectAsync(ConnectionFactory factory, CancellationToken stoppingToken)
    {
        var delay = TimeSpan.FromSeconds(1);
        while (true)
        {
            var attemptStarted = DateTimeOffset.UtcNow;
            try
            {
                return await factory.CreateConnectionAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is RabbitMQ.Client.Exceptions.BrokerUnreachableException or IOException)
            {
                var reason = RabbitMqMessageBus.Classify(ex).Reason;
                // The outage began with the first failed attempt; later attempts only say why.
                _outage = _outage is { } outage ? outage with { Reason = reason } : new BrokerOutage(_broker, reason, attemptStarted);
                logger.LogWarning("Waiting for the central broker at {Broker}: {Reason}", _broker, ex.GetBaseException().Message);
                await Task.Delay(delay, stoppingToken);
                delay = TimeSpan.FromSeconds(Math.Min(10, delay.TotalSeconds * 2));
            }
        }
    }

    private async Task HandleDeliveryAsync(IChannel channel, BasicDeliverEventArgs delivery, CancellationToken stoppingToken)
    {
        var envelope = RabbitMqMessageBus.ToEnvelope(delivery);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await ingest.HandleAsync(delivery.RoutingKey, envelope, stoppingToken);
                await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false, stoppingToken);
                Interlocked.Increment(ref _stored);
                return;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (MalformedMessageException ex)
            {
                await DeadLetterAsync(channel, delivery, envelope, ex.Message, "malformed", stoppingToken);
                return;
            }
            catch (Exception ex) when (IsDatabaseUnavailable(ex))
            {
                // Held, not returned: the delivery count stays, and later deliveries wait behind it (their order matters).
                logger.LogWarning("Season store unavailable ({Reason}); holding {Type} {MessageId} and retrying (attempt {Attempt})",
                    ex.GetBaseException().Message, envelope.Type, envelope.MessageId, attempt);
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(10, attempt)), stoppingToken);
            }
            catch (Exception ex)
            {
                var reason = $"{ex.GetType().Name}: {ex.Message}";
                if (attempt >= options.Value.DeliveryLimit)
                {
                    logger.LogError(ex, "Dead-lettering {Type} {MessageId} after {Attempts} failed attempts: {Reason}", envelope.Type, envelope.MessageId, attempt, reason);
                    await DeadLetterAsync(channel, delivery, envelope, reason, ex.GetType().FullName ?? "error", stoppingToken);
                    return;
                }
                logger.LogWarning("Storing {Type} {MessageId} failed (attempt {Attempt} of {Limit}), will retry: {Reason}", envelope.Type, envelope.MessageId, attempt, options.Value.DeliveryLimit, reason);
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(2000, 100 << attempt)), stoppingToken);
            }
        }
    }

    /// <summary>Publishes the delivery, with the reason in its headers, to the dead-letter exchange; acknowledges once confirmed.</summary>
    private async Task DeadLetterAsync(IChannel channel, BasicDeliverEventArgs delivery, MessageEnvelope envelope, string reason, string errorType, CancellationToken stoppingToken)
    {
        logger.LogWarning("Dead-lettering {Type} {MessageId} from {RoutingKey}: {Reason}", envelope.Type, envelope.MessageId, delivery.RoutingKey, reason);
        var headers = new Dictionary<string, string>(envelope.Headers, StringComparer.Ordinal)
        {
            [WireHeaders.Error] = Reasons.OneLine(reason),
            [WireHeaders.ErrorType] = errorType,
            [WireHeaders.FailedQueue] = Queue.Name,
            [WireHeaders.FailedWorker] = CentralWorker.Worker,
            [WireHeaders.FailedAt] = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture),
            ["x-treescout-routing-key"] = delivery.RoutingKey,
        };
        await channel.BasicPublishAsync(Queue.DeadLetterExchange, Queue.Name, mandatory: true, RabbitMqMessageBus.ToProperties(envelope with { Headers = headers }), envelope.Body, stoppingToken);
        await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false, stoppingToken);
        Interlocked.Increment(ref _deadLettered);
    }

    // Npgsql's own judgement: connection failures, server shutting down or out of resources, deadlocks.
    internal static bool IsDatabaseUnavailable(Exception ex) => ex is NpgsqlException { IsTransient: true } or TimeoutException;
}
