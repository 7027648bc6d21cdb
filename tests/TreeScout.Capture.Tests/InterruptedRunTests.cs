using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TreeScout.Contracts;
using TreeScout.Hosting;
using TreeScout.Messaging;

namespace TreeScout.Capture.Tests;

/// <summary>
/// Capture restarting after a power cut finds in the run ledger a live run it was filming: the interruption (from the
/// last frame capture's progress says was confirmed, to now) goes into the ledger and the warnings, and the run resumes
/// when the camera is live; a recorded source cannot resume, so the run is left for the operator's stop.
/// </summary>
[Trait("Category", "Unit")]
public sealed class InterruptedRunTests
{
    private const string RunId = "20261207-080000-noord-3-0001";

    // The camera here cannot be opened, so the resumed capture ends at once (source lost): the interruption's warning,
    // raised while it resumed, goes with it; the ledger keeps the interruption for `run status`.
    [Fact]
    public async Task A_live_run_resumes_and_the_ledger_and_warnings_say_for_how_long_it_was_interrupted()
    {
        var (interruption, warnings, resumed) = await RestartCaptureAsync("/dev/treescout-no-such-camera", lastConfirmedAgo: TimeSpan.FromMinutes(12), untilStopped: true);

        Assert.True(interruption.Resumed);
        Assert.InRange(interruption.NoticedAtUtc - interruption.InterruptedAtUtc, TimeSpan.FromMinutes(12), TimeSpan.FromMinutes(12.5));
        var warning = RunInterruptions.Describe(interruption);
        Assert.StartsWith($"run {RunId} was interrupted for 12 min (no frame from ", warning, StringComparison.Ordinal);
        Assert.Contains("filming resumed at", warning, StringComparison.Ordinal);
        Assert.Equal(1, resumed);
        Assert.Empty(warnings);
    }

    [Fact]
    public async Task A_recorded_source_does_not_resume_and_the_warning_tells_the_operator_to_stop_the_run()
    {
        using var recording = new TestRecording(3, TimeSpan.FromMilliseconds(100));
        var (interruption, warnings, resumed) = await RestartCaptureAsync(recording.Directory, lastConfirmedAgo: TimeSpan.FromSeconds(40));

        Assert.False(interruption.Resumed);
        var gap = interruption.NoticedAtUtc - interruption.InterruptedAtUtc;
        Assert.InRange(gap, TimeSpan.FromSeconds(40), TimeSpan.FromSeconds(59));
        Assert.Equal($"run {RunId} was interrupted at {interruption.InterruptedAtUtc.UtcDateTime:HH:mm:ss} UTC and capture came back {gap.TotalSeconds:F0} s later; " +
            $"its recorded source cannot resume: stop it with `treescout run stop --run {RunId}`, or fusion finishes it when idle", Assert.Single(warnings));
        Assert.Equal(0, resumed);
    }

    [Fact]
    public async Task A_second_interruption_is_a_second_ledger_entry_and_each_is_counted_once()
    {
        var broker = new InMemoryBroker(new Topology(new TopologyOptions()));
        await using var bus = BusProbe.Connect(broker, "operator");
        var started = DateTimeOffset.UtcNow.AddHours(-1);
        var first = new RunInterrupted { MessageId = MessageIds.For(RunId, "interrupted", 0), RunId = RunId, InterruptedAtUtc = started.AddMinutes(5), NoticedAtUtc = started.AddMinutes(9), Resumed = true };
        await bus.PublishAsync(Started(started));
        await bus.PublishAsync(first);
        await bus.PublishAsync(first); // a capture crash after publishing it: appended again, the same interruption
        Assert.Single((await RunBook.ReadAsync(bus, CancellationToken.None)).Find(RunId)!.Interruptions);

        await bus.PublishAsync(new RunCaptureProgress { MessageId = Guid.NewGuid(), RunId = RunId, ConfirmedAtUtc = started.AddMinutes(30), FramesPublished = 9000, FirstSequence = 540_000 });
        var (second, _, _) = await RestartCaptureAsync("/dev/treescout-no-such-camera", broker);

        var run = (await RunBook.ReadAsync(bus, CancellationToken.None)).Find(RunId)!;
        Assert.Equal([first.MessageId, MessageIds.For(RunId, "interrupted", 1)], run.Interruptions.Select(i => i.MessageId));
        Assert.Equal(started.AddMinutes(30), second.InterruptedAtUtc);
    }

    [Theory]
    [InlineData(0, "0 s")]
    [InlineData(59.4, "59 s")]
    [InlineData(60, "1 min")]
    [InlineData(12 * 60 + 20, "12 min")]
    [InlineData(3569, "59 min")]
    [InlineData(3571, "1 h 00 min")]
    [InlineData(2 * 3600 + 5 * 60, "2 h 05 min")]
    public void Interruptions_are_told_in_seconds_minutes_or_hours(double seconds, string told) =>
        Assert.Equal(told, RunInterruptions.Duration(TimeSpan.FromSeconds(seconds)));

    [Fact]
    public async Task While_filming_capture_appends_its_progress_to_the_ledger()
    {
        using var recording = new TestRecording(9, TimeSpan.FromMilliseconds(100));
        var broker = new InMemoryBroker(new Topology(new TopologyOptions()));
        await using var bus = BusProbe.Connect(broker, "capture");
        await bus.PublishAsync(Started(DateTimeOffset.UtcNow));
        using var source = new RecordingFrameSource(recording.Recording);
        var before = DateTimeOffset.UtcNow;

        // Every frame's progress, as with a long interval over a long run.
        await new CaptureSession(source, bus, ReplayPace.AsFastAsAccepted, []) { FirstSequence = 70, ProgressInterval = TimeSpan.Zero }.RunAsync(RunId, CancellationToken.None);

        var progress = (await RunBook.ReadAsync(bus, CancellationToken.None)).Find(RunId)!.CaptureProgress!;
        Assert.Equal((9L, 70L), (progress.FramesPublished, progress.FirstSequence));
        Assert.InRange(progress.ConfirmedAtUtc, before, DateTimeOffset.UtcNow);
    }

    private static async Task<(RunInterrupted Interruption, IReadOnlyList<string> Warnings, long Resumed)> RestartCaptureAsync(string source, TimeSpan lastConfirmedAgo, bool untilStopped = false)
    {
        var broker = new InMemoryBroker(new Topology(new TopologyOptions()));
        await using var bus = BusProbe.Connect(broker, "operator");
        var now = DateTimeOffset.UtcNow;
        await bus.PublishAsync(Started(now.AddHours(-1)));
        await bus.PublishAsync(new RunCaptureProgress { MessageId = Guid.NewGuid(), RunId = RunId, ConfirmedAtUtc = now - lastConfirmedAgo, FramesPublished = 420 });
        return await RestartCaptureAsync(source, broker, untilStopped);
    }

    /// <summary>
    /// A capture worker's loop starting on <paramref name="broker"/>, stopped once it has told the ledger about the
    /// interruption — or, <paramref name="untilStopped"/>, once the ledger also shows the run's capture stopped.
    /// </summary>
    private static async Task<(RunInterrupted Interruption, IReadOnlyList<string> Warnings, long Resumed)> RestartCaptureAsync(string source, InMemoryBroker broker, bool untilStopped = false)
    {
        await using var bus = BusProbe.Connect(broker, "capture");
        var counters = new WorkerCounters();
        var warnings = new WorkerWarnings();
        var before = (await RunBook.ReadAsync(bus, CancellationToken.None)).Find(RunId)!.Interruptions.Count;
        var loop = new CaptureLoopService(new CaptureController(new ActiveRun(), NullLogger<CaptureController>.Instance), bus,
            Options.Create(new CaptureOptions { Source = source }), Options.Create(new FramePlanOptions()), counters, warnings, NullLogger<CaptureLoopService>.Instance);
        await loop.StartAsync(CancellationToken.None);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        IReadOnlyList<RunInterrupted> interruptions;
        RunRecord run;
        while ((interruptions = (run = (await RunBook.ReadAsync(bus, CancellationToken.None)).Find(RunId)!).Interruptions).Count == before || (untilStopped && run.Stopped is null))
        {
            Assert.True(DateTime.UtcNow < deadline, "capture did not record the interruption within 30 s");
            await Task.Delay(50);
        }
        await loop.StopAsync(CancellationToken.None);
        return (interruptions[^1], warnings.Snapshot().Where(w => w.Contains("interrupted", StringComparison.Ordinal)).ToList(), counters["runs_resumed"]);
    }

    private static RunStarted Started(DateTimeOffset at) => new()
    {
        MessageId = MessageIds.For(RunId, "run-started", 0),
        RunId = RunId,
        StartedAtUtc = at,
        Block = "Noord 3",
        Cameras = [],
        Source = "live",
    };
}
