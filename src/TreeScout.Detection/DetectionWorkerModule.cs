using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using TreeScout.Hosting;
using TreeScout.Messaging;

namespace TreeScout.Detection;

/// <summary>Registers the Detection worker's options, handlers and subscriptions (process and embedded mode alike).</summary>
public sealed class DetectionWorkerModule : IWorkerModule
{
    public WorkerRole Role => WorkerRole.Detection;

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
    }
}
