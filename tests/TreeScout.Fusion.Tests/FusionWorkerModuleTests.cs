using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TreeScout.Contracts;
using TreeScout.Fusion.Gnss;
using TreeScout.Hosting;
using TreeScout.Messaging;

namespace TreeScout.Fusion.Tests;

/// <summary>The module as `treescout scan` starts it: inside EmbeddedWorkers, with no Gnss or Broker configuration at all.</summary>
[Trait("Category", "Unit")]
public sealed class FusionWorkerModuleTests
{
    private static async Task<EmbeddedWorkers> StartAsync(Dictionary<string, string?> settings) =>
        await EmbeddedWorkers.StartAsync([new FusionWorkerModule()], new ConfigurationBuilder().AddInMemoryCollection(settings).Build(), NullLoggerFactory.Instance, CancellationToken.None);

    [Fact]
    public async Task Without_configuration_no_receiver_is_opened_and_fusion_queues_get_the_prefetch_its_window_needs()
    {
        await using var workers = await StartAsync([]);
        var services = workers.Services[WorkerRole.Fusion];

        var gnss = services.GetRequiredService<IOptions<GnssOptions>>().Value;
        Assert.Equal(GnssSourceKind.None, gnss.Source);
        Assert.Null(GnssSources.Create(gnss, TimeProvider.System));
        var broker = services.GetRequiredService<IOptions<BrokerOptions>>().Value;
        Assert.Equal(2000, broker.PrefetchFor(Topology.FusionDetectionsQueue));
        Assert.Equal(2000, broker.PrefetchFor(Topology.FusionGnssQueue));
        Assert.Equal(16, broker.PrefetchFor(Topology.MapWriterObservationsQueue));
    }

    [Fact]
    public async Task A_prefetch_configured_below_the_held_window_is_raised_and_a_larger_one_kept()
    {
        await using var workers = await StartAsync(new()
        {
            ["Broker:PrefetchByQueue:treescout.fusion.detections"] = "16",
            ["Broker:PrefetchByQueue:treescout.fusion.gnss"] = "5000",
            ["Fusion:MaxHeldFrames"] = "3000",
        });
        var broker = workers.Services[WorkerRole.Fusion].GetRequiredService<IOptions<BrokerOptions>>().Value;

        Assert.Equal(3500, broker.PrefetchFor(Topology.FusionDetectionsQueue));
        Assert.Equal(5000, broker.PrefetchFor(Topology.FusionGnssQueue));
    }
}
