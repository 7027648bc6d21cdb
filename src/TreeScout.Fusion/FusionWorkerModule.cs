using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using TreeScout.Hosting;
using TreeScout.Messaging;

namespace TreeScout.Fusion;

/// <summary>Registers the Fusion worker's options, handlers and subscriptions (process and embedded mode alike).</summary>
public sealed class FusionWorkerModule : IWorkerModule
{
    public WorkerRole Role => WorkerRole.Fusion;

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
    }
}
