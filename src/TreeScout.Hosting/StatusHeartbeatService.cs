using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TreeScout.Contracts;
using TreeScout.Messaging;

namespace TreeScout.Hosting;

public sealed class StatusOptions
{
    public const string Section = "Status";

    [Range(typeof(TimeSpan), "00:00:00.200", "00:10:00")]
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(2);
}

/// <summary>Publishes the worker's counters, warnings and readiness on the status exchange for `treescout run status`.</summary>
public sealed class StatusHeartbeatService(
    IMessageBus bus,
    WorkerIdentity identity,
    WorkerCounters counters,
    WorkerWarnings warnings,
    ActiveRun activeRun,
    MessagingMetrics metrics,
    IOptions<StatusOptions> options,
    ILogger<StatusHeartbeatService> logger,
    WorkerGnssStatus? gnss = null) : BackgroundService
{
    /// <summary>Messages this worker moved to a dead-letter queue (handler failures past the limit, malformed messages).</summary>
    public const string DeadLetteredCounter = "dead_lettered";

    private long _sequence;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.HeartbeatInterval);
        try
        {
            do
            {
                if (bus.IsReady)
                {
                    await PublishOnceAsync(stoppingToken);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    private async Task PublishOnceAsync(CancellationToken stoppingToken)
    {
        // A publish waits through a broker outage; a heartbeat is worth nothing late, so it waits one interval at most.
        using var beat = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        beat.CancelAfter(options.Value.HeartbeatInterval);
        try
        {
            await bus.PublishAsync(Build(), beat.Token);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            logger.LogDebug("Status heartbeat not published: {Reason}", ex.Message);
        }
    }

    public WorkerStatus Build() => new()
    {
        MessageId = MessageIds.For(identity.Instance, "status", Interlocked.Increment(ref _sequence)),
        RunId = activeRun.RunId ?? WorkerStatus.IdleRunId,
        Worker = identity.Worker,
        Instance = identity.Instance,
        Version = identity.Version,
        AtUtc = DateTimeOffset.UtcNow,
        Ready = bus.IsReady,
        Counters = new Dictionary<string, long>(counters.Snapshot(), StringComparer.Ordinal) { [DeadLetteredCounter] = metrics.DeadLetteredTotal },
        Warnings = warnings.Snapshot(),
        GnssQuality = gnss?.Latest,
    };
}

/// <summary>Who this process is: stamped on logs, heartbeats and dead-letter headers.</summary>
public sealed record WorkerIdentity(string Worker, string Instance, string Version)
{
    public static WorkerIdentity For(WorkerRole role) => Named(NameOf(role));

    /// <summary>A process that is no <see cref="WorkerRole"/> of the tractor, e.g. "central-ingest".</summary>
    public static WorkerIdentity Named(string worker) => new(
        worker,
        $"{worker}@{Environment.MachineName}-{Environment.ProcessId}",
        typeof(WorkerIdentity).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion ?? "0.0.0");

    /// <summary>The worker name heartbeats, logs and broker users carry, e.g. "mapwriter".</summary>
    public static string NameOf(WorkerRole role) => role.ToString().ToLowerInvariant();
}
