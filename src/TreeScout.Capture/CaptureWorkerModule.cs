using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using TreeScout.Hosting;
using TreeScout.Messaging;

namespace TreeScout.Capture;

/// <summary>Registers the Capture worker's options, handlers and subscriptions (process and embedded mode alike).</summary>
public sealed class CaptureWorkerModule : IWorkerModule
{
    public WorkerRole Role => WorkerRole.Capture;

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<CaptureOptions>(configuration, CaptureOptions.Section);
        services.AddSingleton<CaptureController>();
        services.AddSingleton<RunStartedHandler>();
        services.AddSingleton<RunStopRequestedHandler>();
        services.AddHostedService<CaptureLoopService>();
        services.AddSubscription(Topology.CaptureControlQueue, sp => new MessageDispatcher()
            .On(sp.GetRequiredService<RunStartedHandler>())
            .On(sp.GetRequiredService<RunStopRequestedHandler>()));
    }
}
