using RabbitMQ.Client;

namespace TreeScout.Messaging;

/// <summary>Makes sure the broker has the topology before a worker opens its channels: declare it, or only check it.</summary>
public static class RabbitMqTopology
{
    public static Task EnsureAsync(IChannel channel, Topology topology, bool declare, CancellationToken cancellationToken) =>
        declare ? RabbitMqMessageBus.DeclareTopologyAsync(channel, topology, cancellationToken) : VerifyAsync(channel, topology, cancellationToken);

    /// <summary>
    /// Passive declarations of every exchange, queue and dead-letter pair: they need no permission, change nothing,
    /// and fail with 404 NOT_FOUND naming the first missing one (the broker's definitions were not loaded).
    /// </summary>
    public static async Task VerifyAsync(IChannel channel, Topology topology, CancellationToken cancellationToken)
    {
        foreach (var exchange in Topology.Exchanges)
        {
            await channel.ExchangeDeclarePassiveAsync(exchange, cancellationToken);
        }
        foreach (var queue in topology.Queues)
        {
            await channel.ExchangeDeclarePassiveAsync(queue.DeadLetterExchange, cancellationToken);
            await channel.QueueDeclarePassiveAsync(queue.DeadLetterQueue, cancellationToken);
            await channel.QueueDeclarePassiveAsync(queue.Name, cancellationToken);
        }
    }
}
