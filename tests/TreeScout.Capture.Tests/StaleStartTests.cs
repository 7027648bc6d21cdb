using Microsoft.Extensions.Logging.Abstractions;
using TreeScout.Contracts;
using TreeScout.Hosting;
using TreeScout.Messaging;

namespace TreeScout.Capture.Tests;

/// <summary>
/// A RunStarted can wait in capture's queue for days while no capture worker runs (a broker scan's start, a run stopped
/// meanwhile). Capture films only a live run that the run ledger still shows active.
/// </summary>
[Trait("Category", "Unit")]
public sealed class StaleStartTests
{
    [Fact]
    public async Task Only_a_live_run_the_ledger_shows_active_is_filmed()
    {
        var broker = new InMemoryBroker(new Topology(new TopologyOptions()));
        using var metrics = new MessagingMetrics();
        await using var bus = new InMemoryMessageBus(broker, "operator", new BrokerOptions(), metrics, NullLogger<InMemoryMessageBus>.Instance);
        var controller = new CaptureController(new ActiveRun(), NullLogger<CaptureController>.Instance);
        var handler = new RunStartedHandler(controller, bus, new WorkerWarnings(), NullLogger<RunStartedHandler>.Instance);

        var active = Started("20261207-080000-noord-3-0001", "live");
        var stopped = Started("20261207-070000-noord-3-0002", "live");
        var fused = Started("20261207-060000-noord-3-0003", "live");
        var replay = Started("20261207-050000-noord-3-0004", "replay:betuwe");
        foreach (var run in new[] { active, stopped, fused, replay })
        {
            await bus.PublishAsync(run);
        }
        await bus.PublishAsync(new RunStopped { MessageId = Guid.NewGuid(), RunId = stopped.RunId, StoppedAtUtc = DateTimeOffset.UtcNow, FramesPublished = 12, Reason = "operator" });
        await bus.PublishAsync(new RunFused
        {
            MessageId = Guid.NewGuid(), RunId = fused.RunId, ObservationsPublished = 3, FramesFused = 9, FramesWithoutPose = 0, FramesMissing = 0,
            Gnss = new GnssQualitySummary(9, 0, 0, 0, 0, 0),
        });

        foreach (var run in new[] { stopped, fused, replay, active })
        {
            var context = new MessageContext(Topology.CaptureControlQueue);
            await handler.HandleAsync(run, context, CancellationToken.None);
            Assert.False(context.IsAcknowledgementDeferred); // every start is acknowledged on return, filmed or not
        }

        Assert.True(controller.Starts.TryRead(out var start));
        Assert.Equal((active.RunId, false), (start.Run.RunId, start.Resumed));
        Assert.False(controller.Starts.TryRead(out _));
    }

    // Capture raises an interruption warning per run it found interrupted at its restart; the warning goes when the run
    // is stopped here, or when a later start finds the ledger showing the run finished (fusion's idle finish).
    [Fact]
    public async Task A_run_s_interruption_warning_goes_once_it_is_stopped_or_finished()
    {
        var broker = new InMemoryBroker(new Topology(new TopologyOptions()));
        using var metrics = new MessagingMetrics();
        await using var bus = new InMemoryMessageBus(broker, "operator", new BrokerOptions(), metrics, NullLogger<InMemoryMessageBus>.Instance);
        var controller = new CaptureController(new ActiveRun(), NullLogger<CaptureController>.Instance);
        var warnings = new WorkerWarnings();
        var starts = new RunStartedHandler(controller, bus, warnings, NullLogger<RunStartedHandler>.Instance);
        var stops = new RunStopRequestedHandler(controller, warnings);
        var finished = Started("20261207-060000-noord-3-0001", "live");
        var stopped = Started("20261207-070000-noord-3-0002", "live");
        var unfinished = Started("20261207-080000-noord-3-0003", "live");
        foreach (var run in new[] { finished, stopped, unfinished })
        {
            await bus.PublishAsync(run);
            warnings.Raise(CaptureLoopService.InterruptionWarning(run.RunId), $"run {run.RunId} was interrupted");
        }
        await bus.PublishAsync(new RunFused
        {
            MessageId = Guid.NewGuid(), RunId = finished.RunId, ObservationsPublished = 3, FramesFused = 9, FramesWithoutPose = 0, FramesMissing = 0,
            Gnss = new GnssQualitySummary(9, 0, 0, 0, 0, 0),
        });

        await stops.HandleAsync(new RunStopRequested { MessageId = Guid.NewGuid(), RunId = stopped.RunId, RequestedAtUtc = DateTimeOffset.UtcNow },
            new MessageContext(Topology.CaptureControlQueue), CancellationToken.None);
        Assert.Equal([$"run {finished.RunId} was interrupted", $"run {unfinished.RunId} was interrupted"], warnings.Snapshot());

        var next = Started("20261207-090000-noord-3-0004", "live");
        await bus.PublishAsync(next);
        await starts.HandleAsync(next, new MessageContext(Topology.CaptureControlQueue), CancellationToken.None);
        Assert.Equal([$"run {unfinished.RunId} was interrupted"], warnings.Snapshot());
    }

    private static RunStarted Started(string runId, string source) => new()
    {
        MessageId = MessageIds.For(runId, "run-started", 0),
        RunId = runId,
        StartedAtUtc = DateTimeOffset.UtcNow,
        Block = "Noord 3",
        Cameras = [],
        Source = source,
    };
}
