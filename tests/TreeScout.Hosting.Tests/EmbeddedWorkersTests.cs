using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TreeScout.Contracts;
using TreeScout.Messaging;
using TreeScout.TestWorker;
using TreeScout.Tests;
using Xunit.Abstractions;

namespace TreeScout.Hosting.Tests;

/// <summary>The embedded default: worker modules in one process, each with its own services, over one in-memory broker.</summary>
[Trait("Category", "Unit")]
public sealed class EmbeddedWorkersTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Modules_run_their_handlers_over_the_in_memory_broker_and_the_run_is_complete_when_the_broker_is_idle()
    {
        using var loggers = LoggerFactory.Create(b => b.AddProvider(new TestOutputLoggerProvider(output)));
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Broker:Prefetch"] = "4" }).Build();
        var fused = new ConcurrentQueue<FrameDetections>();

        await using var workers = await EmbeddedWorkers.StartAsync([new RelayWorkerModule(), new CollectModule(fused)], configuration, loggers, CancellationToken.None);
        await using var feeder = workers.Connect("cli", loggers);
        const string Run = "20260421-091200-noord-3-ab12";
        for (var i = 0; i < 25; i++)
        {
            await feeder.PublishAsync(Frame(Run, i));
        }
        await feeder.PublishAsync(Frame(Run, 7)); // a repeated frame (same id) is handled once
        await workers.Broker.WhenIdleAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(Enumerable.Range(0, 25).Select(i => (long)i), fused.Select(f => f.Sequence));
        Assert.All(fused, f => Assert.Equal(MessageIds.Derive(f.FrameMessageId, "detections"), f.MessageId));
        Assert.Equal(25, workers.Services[WorkerRole.Detection].GetRequiredService<WorkerCounters>()["frames_relayed"]);
        Assert.Equal(0, workers.Services[WorkerRole.Fusion].GetRequiredService<WorkerCounters>()["frames_relayed"]);
        Assert.Equal(0, workers.Broker.Depth(Topology.DetectionFramesQueue).Ready);
        Assert.Empty(workers.Broker.DeadLetters(Topology.DetectionFramesQueue));
    }

    [Fact]
    public async Task A_module_with_invalid_options_fails_the_start_naming_the_setting()
    {
        using var loggers = LoggerFactory.Create(_ => { });
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Broker:Prefetch"] = "0" }).Build();

        var ex = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(
            () => EmbeddedWorkers.StartAsync([new RelayWorkerModule()], configuration, loggers, CancellationToken.None));
        Assert.Contains("The field Prefetch must be between 1 and 65535.", ex.Message, StringComparison.Ordinal);
    }

    private static FrameCaptured Frame(string run, long sequence) => new()
    {
        MessageId = MessageIds.For(run, "frame", sequence),
        RunId = run,
        Sequence = sequence,
        CameraId = "cam-right",
        CapturedAtUtc = DateTimeOffset.UnixEpoch.AddMilliseconds(66 * sequence),
        MonotonicNs = sequence,
        Width = 8,
        Height = 8,
        Jpeg = [0xFF, 0xD8, 0xFF, 0xD9],
    };

    private sealed class CollectModule(ConcurrentQueue<FrameDetections> into) : IWorkerModule
    {
        public WorkerRole Role => WorkerRole.Fusion;

        public void ConfigureServices(IServiceCollection services, IConfiguration configuration) =>
            services.AddSubscription(Topology.FusionDetectionsQueue, _ => new MessageDispatcher().On(new Collect(into)));
    }

    private sealed class Collect(ConcurrentQueue<FrameDetections> into) : IMessageHandler<FrameDetections>
    {
        public Task HandleAsync(FrameDetections message, MessageContext context, CancellationToken cancellationToken)
        {
            into.Enqueue(message);
            return Task.CompletedTask;
        }
    }
}
