using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using TreeScout.Messaging;

namespace TreeScout.Hosting;

/// <summary>
/// How a worker plugs into a host: its options, handlers, subscriptions and background loops. The same module
/// is used by the worker's own process (<see cref="WorkerHost"/>) and by the embedded single-process mode
/// (<see cref="EmbeddedWorkers"/>), so both run the same handlers.
/// </summary>
public interface IWorkerModule
{
    WorkerRole Role { get; }

    void ConfigureServices(IServiceCollection services, IConfiguration configuration);
}
