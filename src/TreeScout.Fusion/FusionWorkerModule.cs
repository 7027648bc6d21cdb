using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using TreeScout.Contracts;
using TreeScout.Fusion.Gnss;
using TreeScout.Hosting;
using TreeScout.Messaging;

namespace TreeScout.Fusion;

/// <summary>Registers the Fusion worker's options, handlers and subscriptions (process and embedded mode alike).</summary>
public sealed class FusionWorkerModule : IWorkerModule
{
    /// <summary>
    /// Fusion acknowledges a frame's detections only once its clusters are published (deferred acks), so it must be
    /// allowed to hold a reorder window and a run's tail unacknowledged; with a small prefetch the queue would stall.
    /// </summary>
    public const int QueuePrefetch = 2000;

    public WorkerRole Role => WorkerRole.Fusion;

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<FusionOptions>(configuration, FusionOptions.Section);
        services.PostConfigure<BrokerOptions>(o =>
        {
            o.PrefetchByQueue.TryAdd(Topology.FusionDetectionsQueue, QueuePrefetch);
            o.PrefetchByQueue.TryAdd(Topology.FusionGnssQueue, QueuePrefetch);
        });
        services.AddValidatedOptions<GnssOptions>(configuration, GnssOptions.Section);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<WorkerGnssStatus>();
        services.AddSingleton(sp =>
        {
            var gnss = sp.GetRequiredService<IOptions<GnssOptions>>().Value;
            return new GnssRunTagger(gnss.PreRunBuffer, gnss.PostRunTail);
        });
        services.AddSingleton<FusionEngine>();
        services.AddSingleton<FusionHandlers>();
        services.AddSubscription(Topology.FusionDetectionsQueue, sp =>
        {
            var handlers = sp.GetRequiredService<FusionHandlers>();
            return new MessageDispatcher().On<RunStarted>(handlers).On<RunStopped>(handlers).On<FrameDetections>(handlers);
        });
        services.AddSubscription(Topology.FusionGnssQueue, sp => new MessageDispatcher().On<GnssFix>(sp.GetRequiredService<FusionHandlers>()));
        services.AddHostedService<GnssReaderService>();
        services.AddHostedService<FusionTickService>();
    }
}
