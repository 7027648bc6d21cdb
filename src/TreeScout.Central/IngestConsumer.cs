using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TreeScout.Contracts;
using TreeScout.Hosting;
using TreeScout.Messaging;

namespace TreeScout.Central;

/// <summary>
/// Consumes <see cref="CentralTopology.IngestQueue"/> on the central broker through the tractor workers' own
/// <see cref="RabbitMqMessageBus"/> (its reconnect loop, one delivery at a time, acknowledgement after the handler,
/// duplicates by message id, retries up to the delivery limit, dead-lettering with the reason and routing key in
/// headers): <see cref="CentralIngest"/> writes each message, and the bus acknowledges it once the transaction has
/// committed. While PostgreSQL is unreachable the delivery is held here and tried again (its delivery count untouched,
/// so an outage never dead-letters observations); any other failure goes back to the bus, which retries it
/// <see cref="CentralOptions.DeliveryLimit"/> times and then dead-letters it. Nothing is written before the season
/// store is migrated (<see cref="SeasonStoreReadiness"/>). As a health check it is ready while connected with its
/// consumer registered, else says what it waits for, without the password.
/// </summary>
public sealed class IngestConsumer : BackgroundService, IHealthCheck, IMessageHandler<IMessage>, IAsyncDisposable
{
    public const string DataKey = "broker";

    /// <summary>How often the ingest queue's depth is read for /metrics (two passive declarations).</summary>
    private static readonly TimeSpan DepthPoll = TimeSpan.FromSeconds(10);

    private readonly CentralIngest _ingest;
    private readonly SeasonStoreReadiness _store;
    private readonly IngestMetrics _metrics;
    private readonly MessagingMetrics _messaging;
    private readonly TimeProvider _clock;
    private readonly ILogger<IngestConsumer> _logger;
    private readonly RabbitMqMessageBus _bus;
    private readonly string _broker;

    public IngestConsumer(CentralIngest ingest, SeasonStoreReadiness store, IngestMetrics metrics, MessagingMetrics messaging,
        IOptions<CentralOptions> options, TimeProvider clock, ILoggerFactory logs)
    {
        (_ingest, _store, _metrics, _messaging, _clock, _logger) = (ingest, store, metrics, messaging, clock, logs.CreateLogger<IngestConsumer>());
        var o = options.Value;
        _broker = BrokerOptions.Redact(o.Broker);
        Queue = QueueOf(o);
        _bus = new RabbitMqMessageBus(
            new BrokerOptions { Uri = o.Broker, Prefetch = o.Prefetch, DeclareTopology = o.DeclareTopology },
            RabbitMqTopology.Central(Topology(o)), [Queue], CentralWorker.Worker, messaging, logs.CreateLogger<RabbitMqMessageBus>());
        _bus.Subscribe(Queue.Name, new MessageDispatcher().Otherwise(this));
    }

    /// <summary>The ingest queue with the tractor workers' queue rules: quorum, delivery limit, dead-letter pair (docs/adr/0002).</summary>
    public QueueSpec Queue { get; }

    /// <summary>Deliveries written and acknowledged since start (copies the store found already there included).</summary>
    public long Stored => _messaging.ConsumedTotal;

    /// <summary>Copies of deliveries this consumer had already stored, acknowledged by the bus without writing again.</summary>
    public long Duplicates => _messaging.DuplicateTotal;

    public long DeadLettered => _messaging.DeadLetteredTotal;

    /// <summary>Deliveries done with: stored, acknowledged as copies, or dead-lettered.</summary>
    public long Settled => Stored + Duplicates + DeadLettered;

    public static QueueSpec QueueOf(CentralOptions options) => CentralTopology.IngestQueueSpec(Topology(options));

    // Only the delivery limit differs from the definitions' queue; the broker's own limit stays above it.
    private static TopologyOptions Topology(CentralOptions options) => new() { DeliveryLimit = options.DeliveryLimit };

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var ready = _bus.IsReady;
        var state = _bus.Outage is { } outage ? outage.WaitingLine(outage.Lasted(_clock.GetUtcNow()), "the central broker")
            : ready ? "ready"
            : _bus.State is "stopping" or "stopped" ? _bus.State
            : $"connecting to the central broker at {_broker}";
        return Task.FromResult(WorkerHealth.Readiness(context, ready, DataKey, state));
    }

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await _bus.StartAsync(cancellationToken);
        await base.StartAsync(cancellationToken);
    }

    /// <summary>Migrates the season store, then reads the queue's depth for /metrics until stopped.</summary>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await _store.MigrateAsync(stoppingToken);
            _logger.LogInformation("Season store migrated; consuming {Queue} on {Broker}", Queue.Name, _broker);
            while (true)
            {
                _metrics.Polled(await _bus.GetQueueDepthAsync(Queue.Name, stoppingToken));
                await Task.Delay(DepthPoll, _clock, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    /// <summary>Stops taking deliveries and lets the one in flight commit and be acknowledged (else it comes again).</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await _bus.StopAsync(cancellationToken);
        await base.StopAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await _bus.DisposeAsync();
        Dispose();
    }

    /// <summary>One delivery into the store; the bus acknowledges it when this returns.</summary>
    public async Task HandleAsync(IMessage message, MessageContext context, CancellationToken cancellationToken)
    {
        await _store.Migrated.WaitAsync(cancellationToken);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var outcome = await _ingest.HandleAsync(context.RoutingKey, message, cancellationToken);
                _metrics.Committed(outcome, context.PublishedAt, _clock.GetUtcNow());
                return;
            }
            catch (Exception ex) when (SeasonStoreReadiness.IsUnavailable(ex) && !cancellationToken.IsCancellationRequested)
            {
                // Held, not returned: the delivery count stays, and the deliveries behind it wait (one handler at a time).
                _metrics.DatabaseUnavailable();
                _logger.LogWarning("Season store unavailable ({Reason}); holding {Type} {MessageId} and retrying (attempt {Attempt})",
                    ex.GetBaseException().Message, message.GetType().Name, message.MessageId, attempt);
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(10, attempt)), _clock, cancellationToken);
            }
        }
    }
}
