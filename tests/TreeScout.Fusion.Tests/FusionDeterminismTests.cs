using TreeScout.Contracts;
using TreeScout.Fusion.Geometry;
using TreeScout.Fusion.Runs;
using TreeScout.Messaging;
using TreeScout.Simulation;
using TreeScout.Tests;

namespace TreeScout.Fusion.Tests;

/// <summary>
/// A run fused again (a crash replays what was not acknowledged; the fix and detection queues interleave differently
/// every time) must give the same observations: the map writer de-duplicates by ObservationId, so a different track or a
/// moved position on replay would count a cluster twice or move it.
/// </summary>
[Trait("Category", "Unit")]
public sealed class FusionDeterminismTests
{
    [Fact]
    public void A_frames_clock_offset_depends_only_on_fixes_received_before_it()
    {
        var clock = new ClockOffsetEstimator(TimeSpan.FromMilliseconds(50), window: 300);
        var start = new DateTimeOffset(2026, 4, 21, 9, 30, 0, TimeSpan.Zero);
        // Host clock 300 ms ahead of GNSS, each fix read 50 ms after its epoch, +-4 ms of scheduling jitter.
        for (var i = 0; i < 20; i++)
        {
            var fixTime = start.AddSeconds(i * 0.1);
            clock.Add(fixTime.AddMilliseconds(350 + (i % 3 - 1) * 4), fixTime);
        }
        var frame = start.AddSeconds(1.0).AddMilliseconds(300);
        var before = clock.EstimateAt(frame);
        // Later fixes, read with a larger delay (a busy host), arrive before the frame is fused.
        for (var i = 20; i < 60; i++)
        {
            var fixTime = start.AddSeconds(i * 0.1);
            clock.Add(fixTime.AddMilliseconds(380), fixTime);
        }
        Assert.Equal(300, before!.Value.TotalMilliseconds, 1e-9);
        Assert.Equal(before, clock.EstimateAt(frame));
        Assert.Equal(330, clock.Estimate!.Value.TotalMilliseconds, 1e-9);
    }

    [Fact]
    public async Task Fixes_arriving_before_or_after_the_frames_give_the_same_observations()
    {
        var directory = Path.Combine(Path.GetTempPath(), "treescout-fusion-tests", $"determinism-{Guid.NewGuid():N}");
        try
        {
            var scan = SimulatedScan.Create(FusionAccuracyTests.Base(21) with { TreesPerRow = 5 }, directory, DetectionNoise.Realistic, "sim-determinism");
            // Each frame right after the fixes up to its capture (live), or every fix before the first frame (a fix
            // queue far ahead, as on a replay after a crash). The fix retention is shorter than the run (≈ 20 s), so fixes
            // are pruned and acknowledged while it goes: the fixes-first order must not lose the early frames' fixes.
            var options = new FusionOptions { FixRetention = TimeSpan.FromSeconds(5) };
            var (live, liveProgress, _) = await FuseAsync(scan, scan.ArrivalOrder(TimeSpan.Zero), options);
            var (fixesFirst, fixesFirstProgress, _) = await FuseAsync(scan, scan.ArrivalOrder(TimeSpan.FromMinutes(10)), options);

            Assert.True(live.Count > 100, $"{live.Count} observations");
            Assert.Equal(0, liveProgress.FramesWithoutPose);
            Assert.Equal(0, fixesFirstProgress.FramesWithoutPose);
            Assert.Equal(liveProgress.FramesFused, fixesFirstProgress.FramesFused);
            Assert.Equal(Summary(live), Summary(fixesFirst));
        }
        finally
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    [Fact]
    public async Task Decimated_frames_close_the_run_by_its_count_and_age_no_track()
    {
        var directory = Path.Combine(Path.GetTempPath(), "treescout-fusion-tests", $"decimated-{Guid.NewGuid():N}");
        try
        {
            var scan = SimulatedScan.Create(FusionAccuracyTests.Base(21) with { TreesPerRow = 5 }, directory, DetectionNoise.Realistic, "sim-decimated");
            // Capture's plan at 10 fps and 6 km/h keeps about every other frame: odd frames come as decimated.
            static bool Skipped(FrameDetections f) => f.Sequence % 2 == 1;
            var order = scan.ArrivalOrder(TimeSpan.Zero).ToList();
            var decimated = order.Select(m => m is FrameDetections f && Skipped(f) ? f with { Decimated = true, Detections = [] } : m);
            var stopped = scan.Stopped with { FramesDecimated = scan.Frames.Count(Skipped) };
            var (withDecimated, progress, fused) = await FuseAsync(scan, decimated.Select(m => m is RunStopped ? stopped : m), new FusionOptions());
            // The same frames with the odd ones never sent: the tracker sees exactly the same frames.
            var (withoutThem, _, notClosed) = await FuseAsync(scan, order.Where(m => m is not FrameDetections f || !Skipped(f)), new FusionOptions());

            Assert.NotNull(fused);
            Assert.Equal((0L, (long)scan.Frames.Count), (fused.FramesMissing, progress.FramesReceived));
            // The lane counts a decimated frame with the fused ones: every frame of the run is accounted for.
            Assert.Equal(scan.Frames.Count, fused.FramesFused + fused.FramesWithoutPose);
            Assert.Null(notClosed);
            Assert.True(withDecimated.Count > 50, $"{withDecimated.Count} observations");
            Assert.Equal(Summary(withoutThem), Summary(withDecimated));
        }
        finally
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    private static List<(Guid, string?, double, double, double, bool)> Summary(List<BlossomClusterObservation> observations) =>
        [.. observations.OrderBy(o => o.ObservationId).Select(o => (o.ObservationId, o.TreeId, o.Latitude, o.Longitude, o.PositionSigmaM, o.LowConfidence))];

    /// <summary>
    /// Feeds one run's messages to <see cref="RunFusion"/> in the given order, moving it forward after each, as the engine
    /// does; <c>ClosedByCount</c> is the RunFused published before the quiet timeout had to end the run, if one was.
    /// </summary>
    private static async Task<(List<BlossomClusterObservation> Observations, RunProgress Progress, RunFused? ClosedByCount)> FuseAsync(SimulatedScan scan, IEnumerable<IMessage> messages, FusionOptions options)
    {
        var (rows, projection) = scan.PlanRows();
        var now = scan.Started.StartedAtUtc;
        var fusion = new RunFusion(scan.Started, options, rows, projection, now);
        var publisher = new Collector();
        foreach (var message in messages)
        {
            switch (message)
            {
                case GnssFix fix:
                    fusion.AddFix(fix, Ack.None, now);
                    break;
                case FrameDetections frame:
                    fusion.AddFrame(frame, Ack.None, now);
                    break;
                case RunStopped stopped:
                    fusion.Stop(stopped, now);
                    break;
            }
            await fusion.AdvanceAsync(publisher, now, (_, _) => { }, CancellationToken.None);
        }
        var closedByCount = publisher.Fused;
        // No more fixes: after the quiet timeout the held frames are released and the run is closed.
        Assert.True(await fusion.AdvanceAsync(publisher, now + options.QuietTimeout, (_, _) => { }, CancellationToken.None) || publisher.Fused is not null, $"run not fused: {fusion.Progress.FramesReceived} frames received, {fusion.HeldFrames} held, {publisher.Observations.Count} observations");
        return (publisher.Observations, fusion.Progress, closedByCount);
    }

    private sealed class Ack : IDeferredAcknowledgement
    {
        public static readonly Ack None = new();

        public void Acknowledge()
        {
        }
    }

    private sealed class Collector : IMessagePublisher
    {
        public List<BlossomClusterObservation> Observations { get; } = [];

        public RunFused? Fused { get; private set; }

        public Task PublishAsync(IMessage message, CancellationToken cancellationToken = default)
        {
            if (message is TreeObservations batch)
            {
                Observations.AddRange(batch.Observations);
            }
            Fused ??= message as RunFused;
            return Task.CompletedTask;
        }
    }
}
