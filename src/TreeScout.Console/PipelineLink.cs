using Microsoft.Extensions.Options;
using TreeScout.Contracts;
using TreeScout.Hosting;
using TreeScout.Messaging;
using TreeScout.RunControl;

namespace TreeScout.WebConsole;

/// <summary>
/// The console's one connection to the workers' broker, when one is configured (Broker:Uri): it listens to the
/// workers' heartbeats, map updates and GNSS fixes on its own listener queues, and publishes run control only. Without
/// a broker the console is a map viewer and <see cref="Bus"/> is null. A broker outage is waited out (the bus
/// reconnects and re-attaches its listeners); meanwhile <see cref="State"/> says so and the screens show it.
/// </summary>
public sealed class PipelineLink : BackgroundService, IHeartbeatSource, IAsyncDisposable
{
    public static readonly string ConsoleWorker = WorkerIdentity.NameOf(WorkerRole.Console);

    private RabbitMqMessageBus? _bus;
    private readonly ConsoleOptions _options;
    private readonly ILogger<PipelineLink> _logger;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, WorkerStatus> _heartbeats = new(StringComparer.Ordinal);
    private readonly Dictionary<string, WorkerStatus> _previous = new(StringComparer.Ordinal);
    private readonly Dictionary<string, MapUpdated> _maps = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private DateTimeOffset _listeningSince = DateTimeOffset.MaxValue;
    private GnssFix? _fix;
    private DateTimeOffset _fixHeardAt;

    public PipelineLink(IOptions<BrokerOptions> broker, IOptions<ConsoleOptions> options, MessagingMetrics metrics, ILogger<PipelineLink> logger, ILogger<RabbitMqMessageBus> busLogger, TimeProvider? time = null)
    {
        _options = options.Value;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        if (!broker.Value.IsEmbedded)
        {
            Broker = BrokerOptions.Redact(broker.Value.Uri);
            _bus = new RabbitMqMessageBus(broker.Value, new Topology(broker.Value.Topology), ConsoleWorker, metrics, busLogger);
        }
    }

    /// <summary>Raised for every map update a map writer announces (live and final).</summary>
    public event Action<MapUpdated>? MapUpdated;

    /// <summary>The bus run control publishes on; null without a broker.</summary>
    public IMessageBus? Bus => _bus;

    /// <summary>The broker URI without its password; null without a broker.</summary>
    public string? Broker { get; }

    public bool Connected => _bus is { IsReady: true };

    /// <summary>"ready", "waiting for the broker at … (connection refused), 12 s so far", or that run control is unavailable.</summary>
    public string State => _bus?.State ?? "no broker configured: run control is unavailable, the console shows the runs on this disk";

    public TimeSpan Window => _options.HeartbeatWindow;

    /// <summary>
    /// The latest fix the tractor's GNSS receiver gave (position, speed, solution) and when the console heard it (a
    /// replay's fixes carry the recording's clock, so their age is counted from here), null before the first.
    /// </summary>
    public (GnssFix Fix, DateTimeOffset HeardAtUtc)? LatestFix
    {
        get
        {
            lock (_gate)
            {
                return _fix is null ? null : (_fix, _fixHeardAt);
            }
        }
    }

    /// <summary>The latest map update of a run, null when none was heard.</summary>
    public MapUpdated? LatestMap(string runId)
    {
        lock (_gate)
        {
            return _maps.GetValueOrDefault(runId);
        }
    }

    /// <summary>The runs whose final map a map writer has announced.</summary>
    public IReadOnlyList<string> FinalMaps()
    {
        lock (_gate)
        {
            return [.. _maps.Values.Where(m => m.Final).Select(m => m.RunId)];
        }
    }

    /// <summary>
    /// The latest heartbeat of each worker instance heard within <see cref="Window"/>; right after the console started
    /// listening it first waits out one window, so a worker that is up is never missed.
    /// </summary>
    public async Task<IReadOnlyList<WorkerStatus>> LatestAsync(CancellationToken cancellationToken)
    {
        if (_bus is null)
        {
            return [];
        }
        await _listening.Task.WaitAsync(cancellationToken);
        var wait = _listeningSince + Window - _time.GetUtcNow();
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, _time, cancellationToken);
        }
        return Heartbeats();
    }

    /// <summary>What has been heard within the window, without waiting.</summary>
    public IReadOnlyList<WorkerStatus> Heartbeats()
    {
        var since = _time.GetUtcNow() - Window;
        lock (_gate)
        {
            return [.. _heartbeats.Values.Where(h => h.AtUtc >= since).OrderBy(h => h.Worker, StringComparer.Ordinal).ThenBy(h => h.Instance, StringComparer.Ordinal)];
        }
    }

    /// <summary>The instance's heartbeat before its latest (for rates such as frames per second), null when there is none.</summary>
    public WorkerStatus? PreviousHeartbeat(string instance)
    {
        lock (_gate)
        {
            return _previous.GetValueOrDefault(instance);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_bus is null)
        {
            return;
        }
        try
        {
            await _bus.StartAsync(stoppingToken);
            var listeners = new List<IAsyncDisposable>
            {
                await _bus.ListenAsync(Topology.StatusExchange, "#", e => Heard(e), stoppingToken),
                await _bus.ListenAsync(Topology.MapsExchange, "#", e => Heard(e), stoppingToken),
                await _bus.ListenAsync(Topology.GnssExchange, "#", e => Heard(e), stoppingToken),
            };
            _listeningSince = _time.GetUtcNow();
            _listening.TrySetResult();
            _logger.LogInformation("Listening to the workers' status, maps and GNSS on {Broker}", Broker);
            try
            {
                await Task.Delay(Timeout.Infinite, stoppingToken);
            }
            finally
            {
                foreach (var listener in listeners)
                {
                    await listener.DisposeAsync();
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    private Task Heard(MessageEnvelope envelope)
    {
        IMessage message;
        try
        {
            message = MessageCodec.Decode(envelope);
        }
        catch (MalformedMessageException ex)
        {
            // A newer or broken worker's notice is skipped: the screen must still show the others.
            _logger.LogDebug("Skipped an undecodable notice: {Reason}", ex.Message);
            return Task.CompletedTask;
        }
        MapUpdated? map = null;
        lock (_gate)
        {
            switch (message)
            {
                case WorkerStatus status:
                    if (_heartbeats.TryGetValue(status.Instance, out var known))
                    {
                        // Older, or the same heartbeat again (a redelivery after a reconnect): nothing new.
                        if (known.AtUtc >= status.AtUtc)
                        {
                            break;
                        }
                        _previous[status.Instance] = known;
                    }
                    _heartbeats[status.Instance] = status;
                    break;
                case MapUpdated update:
                    if (!_maps.TryGetValue(update.RunId, out var last) || last.UpdatedAtUtc <= update.UpdatedAtUtc)
                    {
                        _maps[update.RunId] = update;
                        map = update;
                    }
                    break;
                // A new run's fixes replace the last run's whatever their times (a replay's carry the recording's clock).
                case GnssFix fix when _fix is null || _fix.RunId != fix.RunId || _fix.ReceivedAtUtc <= fix.ReceivedAtUtc:
                    _fix = fix;
                    _fixHeardAt = _time.GetUtcNow();
                    break;
            }
        }
        if (map is not null)
        {
            MapUpdated?.Invoke(map);
        }
        return Task.CompletedTask;
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (_bus is not null)
        {
            await _bus.StopAsync(cancellationToken);
        }
    }

    // The host disposes its services asynchronously; a synchronous wait here could block the broker client's dispatch
    // thread that closing the connection needs (a test host disposed from a consumer continuation hung on it).
    public async ValueTask DisposeAsync()
    {
        if (_bus is not null)
        {
            await _bus.DisposeAsync();
            _bus = null;
        }
        base.Dispose();
        GC.SuppressFinalize(this);
    }

    public override void Dispose()
    {
        _bus?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _bus = null;
        base.Dispose();
    }
}
