using RabbitMQ.Client;

namespace TreeScout.Messaging;

/// <summary>A durable exchange: "topic" for a stage, "fanout" for a queue's dead letters.</summary>
public sealed record ExchangeDeclaration(string Name, string Type);

/// <summary>A durable queue (quorum or stream) with exactly the arguments the broker holds it with.</summary>
public sealed record QueueDeclaration(string Name, IReadOnlyDictionary<string, object?> Arguments);

public sealed record BindingDeclaration(string Exchange, string Queue, string RoutingKey);

/// <summary>
/// <see cref="Topology"/> as RabbitMQ holds it: every exchange, queue with its arguments, and binding — the work queues,
/// their dead-letter pairs, the run ledger stream and its exchange. The one source of both the bus's declaration at
/// connect and the broker's boot definitions (`treescout deploy rabbitmq-definitions`, docs/adr/0050), so the two
/// cannot differ.
/// </summary>
public sealed class RabbitMqTopology
{
    public static readonly IReadOnlyDictionary<string, object?> DeadLetterQueueArguments = new Dictionary<string, object?> { ["x-queue-type"] = "quorum" };

    public RabbitMqTopology(Topology topology)
        : this(
            [
                .. Topology.Exchanges.Select(name => new ExchangeDeclaration(name, ExchangeType.Topic)),
                .. topology.Queues.Select(q => new ExchangeDeclaration(q.DeadLetterExchange, ExchangeType.Fanout)),
            ],
            [
                .. topology.Queues.SelectMany(WorkQueueDeclarations),
                new QueueDeclaration(Topology.RunLedgerStream, RunLedgerArguments(topology.Options)),
            ],
            [
                .. topology.Queues.SelectMany(WorkQueueBindings),
                .. Topology.RunLedgerBindings.Select(b => new BindingDeclaration(b.Exchange, Topology.RunLedgerStream, b.RoutingKey)),
            ])
    {
    }

    private RabbitMqTopology(IReadOnlyList<ExchangeDeclaration> exchanges, IReadOnlyList<QueueDeclaration> queues, IReadOnlyList<BindingDeclaration> bindings)
    {
        Exchanges = exchanges;
        Queues = queues;
        Bindings = bindings;
    }

    /// <summary>
    /// The central broker's topology (<see cref="CentralTopology"/>): its topic exchange and the ingest work queue with
    /// its dead-letter pair, declared like the tractor's work queues.
    /// </summary>
    public static RabbitMqTopology Central(TopologyOptions options)
    {
        var ingest = CentralTopology.IngestQueueSpec(options);
        return new(
            [new ExchangeDeclaration(CentralTopology.Exchange, ExchangeType.Topic), new ExchangeDeclaration(ingest.DeadLetterExchange, ExchangeType.Fanout)],
            WorkQueueDeclarations(ingest),
            [.. WorkQueueBindings(ingest)]);
    }

    public IReadOnlyList<ExchangeDeclaration> Exchanges { get; }

    /// <summary>Each work queue followed by its dead-letter queue, then the run ledger stream (on a tractor).</summary>
    public IReadOnlyList<QueueDeclaration> Queues { get; }

    /// <summary>Each work queue's bindings followed by its dead-letter binding, then the run ledger's.</summary>
    public IReadOnlyList<BindingDeclaration> Bindings { get; }

    private static QueueDeclaration[] WorkQueueDeclarations(QueueSpec queue) =>
        [new(queue.Name, QueueArguments(queue)), new(queue.DeadLetterQueue, DeadLetterQueueArguments)];

    private static IEnumerable<BindingDeclaration> WorkQueueBindings(QueueSpec queue) =>
        queue.Bindings.Select(b => new BindingDeclaration(b.Exchange, queue.Name, b.RoutingKey))
            .Append(new BindingDeclaration(queue.DeadLetterExchange, queue.DeadLetterQueue, ""));

    /// <summary>
    /// A work queue's arguments. Quorum, with the broker's delivery limit and a dead-letter exchange of its own;
    /// the broker's own dead-lettering (the delivery limit reached because consumers kept dying) is at-least-once: the
    /// message stays in this queue until its dead-letter queue confirmed it.
    /// </summary>
    public static Dictionary<string, object?> QueueArguments(QueueSpec queue)
    {
        var args = new Dictionary<string, object?>
        {
            ["x-queue-type"] = "quorum",
            ["x-dead-letter-exchange"] = queue.DeadLetterExchange,
            ["x-dead-letter-strategy"] = "at-least-once",
            // Not only for the length-limited queue: RabbitMQ honours at-least-once only with reject-publish overflow
            // (with a quorum queue's default, drop-head, 3.10 falls back to at-most-once and logs a warning). A queue
            // without a length limit never rejects a publish because of it.
            ["x-overflow"] = "reject-publish",
        };
        if (queue.BrokerDeliveryLimit is { } limit)
        {
            args["x-delivery-limit"] = limit;
        }
        if (queue.Overflow == OverflowPolicy.RejectPublish)
        {
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

    /// <summary>The run ledger's stream arguments: kept for a season, small segments (run facts are few and small).</summary>
    private static Dictionary<string, object?> RunLedgerArguments(TopologyOptions options) => new()
    {
        ["x-queue-type"] = "stream",
        ["x-max-age"] = $"{options.RunLedgerRetentionDays}D",
        ["x-max-length-bytes"] = 1_000_000_000L,
        ["x-stream-max-segment-size-bytes"] = 16_000_000,
    };

    /// <summary>Makes sure the broker has the topology before a worker opens its channels: declare it, or only check it.</summary>
    public Task EnsureAsync(IChannel channel, bool declare, CancellationToken cancellationToken) =>
        declare ? DeclareAsync(channel, cancellationToken) : VerifyAsync(channel, cancellationToken);

    /// <summary>Declares every exchange, queue and binding. Idempotent while the arguments are unchanged (else 406 PRECONDITION_FAILED).</summary>
    public async Task DeclareAsync(IChannel channel, CancellationToken cancellationToken)
    {
        foreach (var exchange in Exchanges)
        {
            await channel.ExchangeDeclareAsync(exchange.Name, exchange.Type, durable: true, autoDelete: false, cancellationToken: cancellationToken);
        }
        foreach (var queue in Queues)
        {
            await channel.QueueDeclareAsync(queue.Name, durable: true, exclusive: false, autoDelete: false,
                arguments: new Dictionary<string, object?>(queue.Arguments), cancellationToken: cancellationToken);
        }
        foreach (var binding in Bindings)
        {
            await channel.QueueBindAsync(binding.Queue, binding.Exchange, binding.RoutingKey, cancellationToken: cancellationToken);
        }
    }

    /// <summary>
    /// Passive declarations of every exchange and queue: they need no permission, change nothing, and fail with
    /// 404 NOT_FOUND naming the first missing one (the broker's definitions were not loaded). They do not compare
    /// arguments: a queue the broker holds with other arguments passes (docs/operations.md, "Change the topology").
    /// </summary>
    public async Task VerifyAsync(IChannel channel, CancellationToken cancellationToken)
    {
        foreach (var exchange in Exchanges)
        {
            await channel.ExchangeDeclarePassiveAsync(exchange.Name, cancellationToken);
        }
        foreach (var queue in Queues)
        {
            await channel.QueueDeclarePassiveAsync(queue.Name, cancellationToken);
        }
    }
}
