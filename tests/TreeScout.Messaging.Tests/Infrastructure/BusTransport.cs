using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using TreeScout.Tests;

namespace TreeScout.Messaging.Tests.Infrastructure;

/// <summary>
/// One of the two buses, behind the same test surface, so every delivery-semantics test runs against the embedded
/// in-memory broker and the real RabbitMQ and proves they behave alike.
/// </summary>
public abstract class BusTransport(Topology topology, ILoggerFactory loggers) : IAsyncDisposable
{
    public const string Memory = "memory";
    public const string RabbitMq = "rabbitmq";

    private readonly List<IMessageBus> _buses = [];

    public Topology Topology => topology;

    /// <summary>The RabbitMQ virtual host of this test (null for the in-memory bus).</summary>
    public virtual TestVhost? Vhost => null;

    protected ILoggerFactory Loggers => loggers;

    public static async Task<BusTransport> CreateAsync(string kind, ILoggerFactory loggers, TopologyOptions? topologyOptions = null)
    {
        var topology = new Topology(topologyOptions ?? new TopologyOptions { DeliveryLimit = 3 });
        return kind switch
        {
            Memory => new MemoryTransport(topology, loggers),
            RabbitMq => new RabbitTransport(topology, loggers, await TestBroker.CreateVhostAsync("bus")),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
    }

    /// <summary>A started bus for <paramref name="worker"/> with the given subscriptions, connected and ready.</summary>
    public async Task<IMessageBus> StartBusAsync(string worker, Action<IMessageBus>? subscribe = null, BrokerOptions? options = null)
    {
        var bus = CreateBus(worker, options ?? new BrokerOptions());
        _buses.Add(bus);
        subscribe?.Invoke(bus);
        await bus.StartAsync(CancellationToken.None);
        await Wait.UntilAsync(() => bus.IsReady, TimeSpan.FromSeconds(30), $"bus of {worker} is ready");
        return bus;
    }

    protected abstract IMessageBus CreateBus(string worker, BrokerOptions options);

    /// <summary>Publishes an envelope as it is, bypassing the codec (to send what a broken or newer publisher would).</summary>
    public abstract Task PublishRawAsync(string exchange, string routingKey, MessageEnvelope envelope);

    /// <summary>Messages in the dead-letter queue of <paramref name="queue"/>, with their headers.</summary>
    public abstract Task<IReadOnlyList<MessageEnvelope>> DeadLettersAsync(string queue);

    /// <summary>Messages ready in <paramref name="queue"/> (not delivered to a consumer).</summary>
    public abstract Task<long> ReadyAsync(string queue);

    public async ValueTask DisposeAsync()
    {
        foreach (var bus in _buses)
        {
            await bus.DisposeAsync();
        }
        await DisposeTransportAsync();
        GC.SuppressFinalize(this);
    }

    protected virtual Task DisposeTransportAsync() => Task.CompletedTask;

    private sealed class MemoryTransport(Topology topology, ILoggerFactory loggers) : BusTransport(topology, loggers)
    {
        private readonly InMemoryBroker _broker = new(topology);

        protected override IMessageBus CreateBus(string worker, BrokerOptions options) =>
            new InMemoryMessageBus(_broker, worker, options, new MessagingMetrics(), Loggers.CreateLogger<InMemoryMessageBus>());

        public override Task PublishRawAsync(string exchange, string routingKey, MessageEnvelope envelope) => _broker.PublishAsync(exchange, routingKey, envelope);

        public override Task<IReadOnlyList<MessageEnvelope>> DeadLettersAsync(string queue) => Task.FromResult(_broker.DeadLetters(queue));

        public override Task<long> ReadyAsync(string queue) => Task.FromResult(_broker.Depth(queue).Ready);
    }

    private sealed class RabbitTransport(Topology topology, ILoggerFactory loggers, TestVhost vhost) : BusTransport(topology, loggers)
    {
        private IConnection? _connection;

        public override TestVhost Vhost => vhost;

        protected override IMessageBus CreateBus(string worker, BrokerOptions options)
        {
            options.Uri = vhost.Uri.ToString();
            options.Topology = Topology.Options;
            return new RabbitMqMessageBus(options, Topology, worker, new MessagingMetrics(), Loggers.CreateLogger<RabbitMqMessageBus>());
        }

        private async Task<IConnection> ConnectionAsync() =>
            _connection ??= await new ConnectionFactory { Uri = vhost.Uri, ClientProvidedName = "test-probe" }.CreateConnectionAsync();

        public override async Task PublishRawAsync(string exchange, string routingKey, MessageEnvelope envelope)
        {
            await using var channel = await (await ConnectionAsync()).CreateChannelAsync(new CreateChannelOptions(true, true));
            var props = new BasicProperties
            {
                MessageId = envelope.MessageId.ToString(),
                Type = envelope.Type,
                ContentType = envelope.ContentType,
                DeliveryMode = DeliveryModes.Persistent,
                Headers = envelope.Headers.ToDictionary(h => h.Key, h => (object?)h.Value),
            };
            await channel.BasicPublishAsync(exchange, routingKey, true, props, envelope.Body);
        }

        public override async Task<IReadOnlyList<MessageEnvelope>> DeadLettersAsync(string queue)
        {
            // Read without consuming: get each message and return it to the queue at the end (nack + requeue).
            await using var channel = await (await ConnectionAsync()).CreateChannelAsync();
            var result = new List<MessageEnvelope>();
            var spec = Topology.Queue(queue);
            while (await channel.BasicGetAsync(spec.DeadLetterQueue, autoAck: false) is { } got)
            {
                var headers = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var (key, value) in got.BasicProperties.Headers ?? new Dictionary<string, object?>())
                {
                    headers[key] = value switch
                    {
                        byte[] b => Encoding.UTF8.GetString(b),
                        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                        _ => value?.ToString() ?? "",
                    };
                }
                _ = Guid.TryParse(got.BasicProperties.MessageId, out var id);
                result.Add(new MessageEnvelope(id, got.BasicProperties.Type ?? "", got.BasicProperties.ContentType ?? "", headers, got.Body.ToArray()));
            }
            await channel.CloseAsync();
            return result;
        }

        public override async Task<long> ReadyAsync(string queue)
        {
            await using var channel = await (await ConnectionAsync()).CreateChannelAsync();
            return (await channel.QueueDeclarePassiveAsync(queue)).MessageCount;
        }

        protected override async Task DisposeTransportAsync()
        {
            if (_connection is not null)
            {
                await _connection.CloseAsync();
                _connection.Dispose();
            }
            await vhost.DisposeAsync();
        }
    }
}
