using Microsoft.Extensions.DependencyInjection;
using TreeScout.Messaging;

namespace TreeScout.Hosting;

/// <summary>A queue a worker consumes and how to build the dispatcher for it from the worker's services.</summary>
public sealed record Subscription(string Queue, Func<IServiceProvider, MessageDispatcher> CreateDispatcher);

public static class SubscriptionServiceCollectionExtensions
{
    public static IServiceCollection AddSubscription(this IServiceCollection services, string queue, Func<IServiceProvider, MessageDispatcher> createDispatcher) =>
        services.AddSingleton(new Subscription(queue, createDispatcher));
}
