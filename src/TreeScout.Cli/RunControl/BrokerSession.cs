using Microsoft.Extensions.Logging.Abstractions;
using TreeScout.Contracts;
using TreeScout.Hosting;
using TreeScout.Messaging;
using TreeScout.RunControl;

namespace TreeScout.Cli.RunControl;

/// <summary>
/// The CLI's connection to the workers' RabbitMQ: `--broker`, else TREESCOUT__Broker__Uri. While the broker is
/// unreachable — before the first connect or in the middle of a command — it says so on stderr every few seconds
/// ("waiting for the broker at amqp://…@host:5672/ (connection refused), 12 s so far") and waits: as long as it takes,
/// or up to `--broker-wait`, after which the command ends with one line. A broker that refuses this client (login,
/// permissions, virtual host) ends it at once: waiting does not fix that.
/// </summary>
public sealed class BrokerSession : IAsyncDisposable
{
    public const string BrokerEnvironmentVariable = WorkerHost.EnvironmentPrefix + "Broker__Uri";

    /// <summary>"false" against a broker whose definitions own the topology (the tractor's, docs/adr/0050): as for the workers, the CLI's user may not declare it.</summary>
    public const string DeclareTopologyVariable = WorkerHost.EnvironmentPrefix + "Broker__DeclareTopology";

    /// <summary>Longest pause between connection attempts: a broker back from an outage is noticed within this.</summary>
    public static readonly TimeSpan MaxReconnectDelay = TimeSpan.FromSeconds(5);

    private readonly RabbitMqMessageBus _bus;
    private readonly TimeSpan? _wait;
    private readonly TextWriter _progress;
    private readonly CancellationTokenSource _gaveUp = new();
    private readonly CancellationTokenSource _stopWatching = new();
    private readonly Task _watching;
    private volatile string? _failure;

    private BrokerSession(RabbitMqMessageBus bus, BrokerOptions options, TimeSpan? wait, TextWriter progress)
    {
        _bus = bus;
        _wait = wait;
        _progress = progress;
        Broker = BrokerOptions.Redact(options.Uri);
        _watching = new BrokerOutageWatch(options.WaitReportInterval, wait).WatchAsync(() => bus.Outage, Report, TimeProvider.System, _stopWatching.Token);
    }

    public IMessageBus Bus => _bus;

    /// <summary>The broker URI without its password.</summary>
    public string Broker { get; }

    public static string ResolveUri(string? option)
    {
        var uri = string.IsNullOrWhiteSpace(option) ? Environment.GetEnvironmentVariable(BrokerEnvironmentVariable) : option;
        if (string.IsNullOrWhiteSpace(uri))
        {
            throw new CliException($"no broker: run control talks to the workers over RabbitMQ; pass --broker amqp://user:password@host:5672/ or set {BrokerEnvironmentVariable}", Cli.UsageError);
        }
        var options = new BrokerOptions { Uri = uri };
        if (options.Validate(new System.ComponentModel.DataAnnotations.ValidationContext(options)).FirstOrDefault() is { } invalid)
        {
            throw new CliException(invalid.ErrorMessage ?? $"invalid broker URI {BrokerOptions.Redact(uri)}", Cli.UsageError);
        }
        return uri;
    }

    /// <summary>Connects, waiting for an unreachable broker up to <paramref name="brokerWait"/> (null: as long as it takes), with the waiting lines on <paramref name="progress"/>.</summary>
    public static async Task<BrokerSession> ConnectAsync(string? brokerOption, TimeSpan? brokerWait, TextWriter progress, CancellationToken cancellationToken)
    {
        var options = new BrokerOptions
        {
            Uri = ResolveUri(brokerOption),
            MaxReconnectDelay = MaxReconnectDelay,
            DeclareTopology = !string.Equals(Environment.GetEnvironmentVariable(DeclareTopologyVariable), "false", StringComparison.OrdinalIgnoreCase),
        };
        var bus = new RabbitMqMessageBus(options, new Topology(options.Topology), "cli", new MessagingMetrics(), NullLogger<RabbitMqMessageBus>.Instance);
        var session = new BrokerSession(bus, options, brokerWait, progress);
        try
        {
            await bus.StartAsync(cancellationToken);
            await session.RunAsync(bus.WhenConnectedAsync, cancellationToken);
            return session;
        }
        catch
        {
            await session.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Runs <paramref name="operation"/> on this broker. It rides out outages (publishes wait and are sent again after the
    /// reconnect); when one lasts longer than `--broker-wait`, or the broker refuses this client, it is cancelled and the
    /// command ends with one line saying so.
    /// </summary>
    public async Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> operation, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _gaveUp.Token);
        try
        {
            return await operation(linked.Token);
        }
        catch (OperationCanceledException) when (_gaveUp.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new CliException(_failure ?? $"gave up on the broker at {Broker}");
        }
    }

    /// <inheritdoc cref="RunAsync{T}"/>
    public Task RunAsync(Func<CancellationToken, Task> operation, CancellationToken cancellationToken) =>
        RunAsync(async token =>
        {
            await operation(token);
            return true;
        }, cancellationToken);

    private void Report(BrokerOutageNotice notice)
    {
        if (notice.Kind == BrokerOutageNoticeKind.GaveUp)
        {
            GiveUp($"{notice.Text}; gave up (--broker-wait {BrokerOutage.Seconds(_wait!.Value)})");
        }
        else if (notice.Outage.Refused)
        {
            GiveUp($"the broker at {Broker} refused this client: {notice.Outage.Reason}");
        }
        else
        {
            _progress.WriteLine(notice.Text);
        }
    }

    private void GiveUp(string failure)
    {
        _failure = failure;
        _gaveUp.Cancel();
    }

    /// <summary>Collects worker heartbeats for <paramref name="window"/> (a bit more than one heartbeat interval); the latest per worker instance.</summary>
    public async Task<IReadOnlyList<WorkerStatus>> CollectHeartbeatsAsync(TimeSpan window, CancellationToken cancellationToken)
    {
        var latest = new Dictionary<string, WorkerStatus>(StringComparer.Ordinal);
        var gate = new Lock();
        await using (await Bus.ListenAsync(Topology.StatusExchange, "#", envelope =>
        {
            // A heartbeat from a newer or broken worker is skipped, not fatal: status must still show the others.
            if (Decode(envelope) is { } status)
            {
                lock (gate)
                {
                    if (!latest.TryGetValue(status.Instance, out var known) || known.AtUtc <= status.AtUtc)
                    {
                        latest[status.Instance] = status;
                    }
                }
            }
            return Task.CompletedTask;
        }, cancellationToken))
        {
            await Task.Delay(window, cancellationToken);
        }
        lock (gate)
        {
            return [.. latest.Values.OrderBy(s => s.Worker, StringComparer.Ordinal).ThenBy(s => s.Instance, StringComparer.Ordinal)];
        }
    }

    private static WorkerStatus? Decode(MessageEnvelope envelope)
    {
        try
        {
            return MessageCodec.Decode(envelope) as WorkerStatus;
        }
        catch (MalformedMessageException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopWatching.CancelAsync();
        await _watching;
        await _bus.DisposeAsync();
        _stopWatching.Dispose();
        _gaveUp.Dispose();
    }
}

/// <summary>The CLI's heartbeats: listens on the session for one window per question.</summary>
public sealed class HeartbeatWindow(BrokerSession session, TimeSpan window) : IHeartbeatSource
{
    public TimeSpan Window => window;

    public Task<IReadOnlyList<WorkerStatus>> LatestAsync(CancellationToken cancellationToken) => session.CollectHeartbeatsAsync(window, cancellationToken);
}
