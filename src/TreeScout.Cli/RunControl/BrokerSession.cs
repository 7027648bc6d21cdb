using Microsoft.Extensions.Logging.Abstractions;
using TreeScout.Contracts;
using TreeScout.Hosting;
using TreeScout.Messaging;

namespace TreeScout.Cli.RunControl;

/// <summary>
/// The CLI's connection to the workers' RabbitMQ: `--broker`, else TREESCOUT__Broker__Uri. Fails within
/// <see cref="ConnectTimeout"/> with one line naming the broker and the reason, instead of hanging.
/// </summary>
public sealed class BrokerSession : IAsyncDisposable
{
    public const string BrokerEnvironmentVariable = WorkerHost.EnvironmentPrefix + "Broker__Uri";

    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    private BrokerSession(RabbitMqMessageBus bus, string redactedUri)
    {
        Bus = bus;
        Broker = redactedUri;
    }

    public IMessageBus Bus { get; }

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

    public static async Task<BrokerSession> ConnectAsync(string? brokerOption, CancellationToken cancellationToken)
    {
        var uri = ResolveUri(brokerOption);
        var options = new BrokerOptions { Uri = uri, PublishTimeout = TimeSpan.FromSeconds(15) };
        var bus = new RabbitMqMessageBus(options, new Topology(options.Topology), "cli", new MessagingMetrics(), NullLogger<RabbitMqMessageBus>.Instance);
        await bus.StartAsync(cancellationToken);
        try
        {
            await bus.WhenConnectedAsync(cancellationToken).WaitAsync(ConnectTimeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            var state = bus.State;
            await bus.DisposeAsync();
            throw new CliException($"cannot reach broker {BrokerOptions.Redact(uri)} within {ConnectTimeout.TotalSeconds:0}s ({state})");
        }
        return new BrokerSession(bus, BrokerOptions.Redact(uri));
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

    public ValueTask DisposeAsync() => Bus.DisposeAsync();
}
