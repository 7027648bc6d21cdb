using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using TreeScout.Contracts;
using TreeScout.Hosting;
using TreeScout.Messaging;

namespace TreeScout.Capture.Tests;

/// <summary>The Capture worker module in the embedded host: control messages in, frames and RunStopped out.</summary>
[Trait("Category", "Unit")]
public sealed class CaptureWorkerTests
{
    private static async Task<(EmbeddedWorkers Workers, BusProbe Probe, IMessageBus Operator)> StartAsync(string source, double speedup)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Capture:Source"] = source,
            ["Capture:Speedup"] = speedup.ToString(System.Globalization.CultureInfo.InvariantCulture),
        }).Build();
        var workers = await EmbeddedWorkers.StartAsync([new CaptureWorkerModule()], configuration, NullLoggerFactory.Instance, CancellationToken.None);
        var probe = await BusProbeOn(workers.Broker);
        var control = workers.Connect("operator", NullLoggerFactory.Instance);
        await control.StartAsync(CancellationToken.None);
        return (workers, probe, control);
    }

    private static Task<BusProbe> BusProbeOn(InMemoryBroker broker) => BusProbe.ListenOn(broker);

    private static RunStarted Started(string runId) => new()
    {
        MessageId = MessageIds.For(runId, "run-started", 0),
        RunId = runId,
        StartedAtUtc = DateTimeOffset.UtcNow,
        Block = "test",
        Cameras = [],
        Source = "live",
    };

    [Fact]
    public async Task Run_started_captures_the_configured_recording_and_announces_run_stopped()
    {
        using var recording = new TestRecording(9, TimeSpan.FromMilliseconds(100));
        var (workers, probe, control) = await StartAsync(recording.Directory, 0);
        await using (workers)
        await using (probe)
        await using (control)
        {
            await control.PublishAsync(Started("run-a"));
            await control.PublishAsync(Started("run-a")); // redelivered or repeated: captured once
            var stopped = await probe.Stopped.Task.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal((9L, "end-of-recording"), (stopped.FramesPublished, stopped.Reason));
            await Task.Delay(200);
            Assert.Equal(9, probe.Frames.Count);
            Assert.Single(probe.Stops);
            var counters = workers.Services[WorkerRole.Capture].GetRequiredService<WorkerCounters>();
            Assert.Equal(9, counters[CaptureSession.FramesCaptured]);
        }
    }

    [Fact]
    public async Task Run_stop_requested_ends_the_capture_with_what_was_published()
    {
        using var recording = new TestRecording(200, TimeSpan.FromMilliseconds(100)); // 20 s at recorded pace
        var (workers, probe, control) = await StartAsync(recording.Directory, 1);
        await using (workers)
        await using (probe)
        await using (control)
        {
            await control.PublishAsync(Started("run-b"));
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (probe.Frames.Count < 3 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }
            await control.PublishAsync(new RunStopRequested { MessageId = Guid.NewGuid(), RunId = "run-b", RequestedAtUtc = DateTimeOffset.UtcNow });
            var stopped = await probe.Stopped.Task.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal("operator", stopped.Reason);
            Assert.InRange(stopped.FramesPublished, 3, 199);
            Assert.Equal(stopped.FramesPublished, probe.Frames.Count);
        }
    }

    [Fact]
    public async Task A_source_that_cannot_be_opened_ends_the_run_and_raises_a_warning()
    {
        var (workers, probe, control) = await StartAsync("/nonexistent/camera.mp4", 1);
        await using (workers)
        await using (probe)
        await using (control)
        {
            await control.PublishAsync(Started("run-c"));
            var stopped = await probe.Stopped.Task.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(("source-lost", 0L), (stopped.Reason, stopped.FramesPublished));
            var warnings = workers.Services[WorkerRole.Capture].GetRequiredService<WorkerWarnings>().Snapshot();
            Assert.Contains(warnings, w => w.Contains("/nonexistent/camera.mp4", StringComparison.Ordinal));
        }
    }
}
