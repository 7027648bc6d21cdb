using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using TreeScout.Hosting;
using TreeScout.Messaging;

namespace TreeScout.MapWriter;

/// <summary>Registers the MapWriter worker's options, handlers and subscriptions (process and embedded mode alike).</summary>
public sealed class MapWriterWorkerModule : IWorkerModule
{
    public WorkerRole Role => WorkerRole.MapWriter;

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
    }
}
