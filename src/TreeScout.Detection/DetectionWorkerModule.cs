using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using TreeScout.Contracts;
using TreeScout.Hosting;
using TreeScout.Messaging;

namespace TreeScout.Detection;

/// <summary>Registers the Detection worker's options, handlers and subscriptions (process and embedded mode alike).</summary>
public sealed class DetectionWorkerModule : IWorkerModule
{
    /// <summary>Frames a replica holds unacknowledged: small, so that competing replicas share the queue evenly.</summary>
    public const int FramesPrefetch = 2;

    public WorkerRole Role => WorkerRole.Detection;

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<DetectionOptions>(configuration, DetectionOptions.Section);
        services.AddSingleton<DetectionModels>();
        services.AddSingleton<IValidateOptions<DetectionOptions>, OpenCvValidation>();
        services.AddSingleton<IValidateOptions<DetectionOptions>, ModelCardValidation>();
        services.AddSingleton<OrientationMonitor>();
        services.AddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<DetectionOptions>>().Value;
            return new ReviewSampler(o.ReviewEveryNth, o.ReviewWindowFrames, o.ReviewUncertaintyFloor);
        });
        services.AddSingleton<FrameDetectionHandler>();
        services.PostConfigure<BrokerOptions>(o => o.PrefetchByQueue.TryAdd(Topology.DetectionFramesQueue, FramesPrefetch));
        services.AddSubscription(Topology.DetectionFramesQueue, sp => new MessageDispatcher().On<FrameCaptured>(sp.GetRequiredService<FrameDetectionHandler>()));
    }
}
