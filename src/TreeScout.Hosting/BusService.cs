using Microsoft.Extensions.Hosting;
using TreeScout.Messaging;

namespace TreeScout.Hosting;

/// <summary>
/// Owns the bus for the worker's lifetime: subscribes the registered handlers, starts (the broker may still be
/// unreachable: the bus keeps retrying and /readyz stays false), and on shutdown lets the in-flight message finish
/// and be acknowledged before the connection closes.
/// </summary>
public sealed class BusService(IMessageBus bus, IEnumerable<Subscription> subscriptions, IServiceProvider services) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var subscription in subscriptions)
        {
            bus.Subscribe(subscription.Queue, subscription.CreateDispatcher(services));
        }
        return bus.StartAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => bus.StopAsync(cancellationToken);
}
