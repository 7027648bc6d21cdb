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
    public WorkerRole Role => WorkerRole.Fusion;

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<FusionOptions>(configuration, FusionOptions.Section);
        services.AddValidatedOptions<GnssOptions>(configuration, GnssOptions.Section);
        // Embedded scans configure no broker; a process may configure too little. Either way fusion's queues get at least
        // the prefetch its held window needs (with the bus default of 16 the run would stall).
        services.AddOptions<BrokerOptions>().PostConfigure<IOptions<FusionOptions>>((broker, fusion) =>
        {
            foreach (var queue in new[] { Topology.FusionDetectionsQueue, Topology.FusionGnssQueue })
            {
                broker.PrefetchByQueue[queue] = Math.Max(broker.PrefetchFor(queue), fusion.Value.RequiredPrefetch);
            }
        });
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
        services.AddHostedService<GnssRecordingReplayService>();
        services.AddHostedService<FusionTickService>();
    }
}
