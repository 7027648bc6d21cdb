using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using OpenCvSharp;
using TreeScout.Contracts;
using TreeScout.Hosting;
using TreeScout.Messaging;

namespace TreeScout.Capture.Tests;

[Trait("Category", "Unit")]
public sealed class ReplayTests
{
    private const string RunId = "20260421-093000-test-0001";

    [Fact]
    public async Task Replay_publishes_every_frame_in_order_with_deterministic_ids_and_then_run_stopped()
    {
        using var recording = new TestRecording(12, TimeSpan.FromMilliseconds(100));
        await using var probe = await BusProbe.StartAsync();
        using var counters = new WorkerCounters();

        var result = await new RecordingPlayer(recording.Recording, probe.Bus, ReplayPace.AsFastAsAccepted, counters).PlayAsync(RunId, CancellationToken.None);

        Assert.Equal(12, result.FramesPublished);
        Assert.Equal(Enumerable.Range(0, 12).Select(i => (long)i), probe.Frames.Select(f => f.Sequence));
        for (var i = 0; i < 12; i++)
        {
            var frame = probe.Frames[i];
            Assert.Equal(MessageIds.For(RunId, "frame:" + TestRecording.CameraId, i), frame.MessageId);
            Assert.Equal(RunId, frame.RunId);
            Assert.Equal(recording.Start.AddMilliseconds(100 * i), frame.CapturedAtUtc);
            Assert.Equal(1_000_000_000L + i * 100_000_000L, frame.MonotonicNs);
            Assert.Equal((320, 240), (frame.Width, frame.Height));
            Assert.Equal(TestRecording.MountRotationDeg, frame.MountRotationDeg);
            // JPEG files pass through untouched.
            Assert.Equal(File.ReadAllBytes(recording.FramePath(i)), frame.Jpeg);
        }
        var stopped = Assert.Single(probe.Stops);
        Assert.Equal((12L, 0L, 0L, "end-of-recording"), (stopped.FramesPublished, stopped.FramesShed, stopped.FramesUnreadable, stopped.Reason));
        Assert.Equal(MessageIds.For(RunId, "run-stopped", 0), stopped.MessageId);
        Assert.Equal(12, counters[CaptureSession.FramesCaptured]);
    }

    [Fact]
    public async Task Unreadable_frames_are_counted_reported_and_skipped()
    {
        using var recording = new TestRecording(6, TimeSpan.FromMilliseconds(100));
        var bytes = File.ReadAllBytes(recording.FramePath(2));
        File.WriteAllBytes(recording.FramePath(2), bytes[..(bytes.Length / 2)]); // truncated by a power cut
        File.Delete(recording.FramePath(4));
        await using var probe = await BusProbe.StartAsync();
        using var counters = new WorkerCounters();

        var result = await new RecordingPlayer(recording.Recording, probe.Bus, ReplayPace.AsFastAsAccepted, counters).PlayAsync(RunId, CancellationToken.None);

        Assert.Equal((4L, 2L), (result.FramesPublished, result.FramesUnreadable));
        Assert.Equal([0L, 1, 3, 5], probe.Frames.Select(f => f.Sequence));
        Assert.Equal(2, counters[CaptureSession.FramesUnreadable]);
        var stopped = Assert.Single(probe.Stops);
        Assert.Equal((4L, 2L), (stopped.FramesPublished, stopped.FramesUnreadable));
    }

    [Fact]
    public async Task Recorded_timing_is_kept_divided_by_the_speedup_and_max_rate_does_not_wait()
    {
        using var recording = new TestRecording(6, TimeSpan.FromMilliseconds(400)); // 2.0 s recorded
        await using var probe = await BusProbe.StartAsync();

        var paced = Stopwatch.StartNew();
        await new RecordingPlayer(recording.Recording, probe.Bus, ReplayPace.Faster(2)).PlayAsync(RunId, CancellationToken.None);
        paced.Stop();
        // Never faster than the recording allows (a lower bound is robust on a busy machine; an upper bound is not).
        Assert.True(paced.Elapsed >= TimeSpan.FromMilliseconds(950), $"speedup 2 replay of 2.0 s took {paced.Elapsed.TotalMilliseconds:F0} ms");

        var fast = Stopwatch.StartNew();
        await new RecordingPlayer(recording.Recording, probe.Bus, ReplayPace.AsFastAsAccepted).PlayAsync(RunId + "b", CancellationToken.None);
        fast.Stop();
        Assert.True(fast.Elapsed < paced.Elapsed, $"max rate {fast.Elapsed.TotalMilliseconds:F0} ms vs paced {paced.Elapsed.TotalMilliseconds:F0} ms");
        Assert.Equal(12, probe.Frames.Count);
    }

    [Fact]
    public async Task A_full_frames_queue_sheds_frames_at_recorded_pace_but_holds_a_max_rate_replay_back()
    {
        using var recording = new TestRecording(15, TimeSpan.FromMilliseconds(1));
        // Nobody consumes the frames queue (limit 10): a paced replay (like a live camera) must shed, not block.
        await using (var probe = await BusProbe.StartAsync(new TopologyOptions { FramesMaxLength = 10 }))
        {
            using var counters = new WorkerCounters();
            var shed = await new RecordingPlayer(recording.Recording, probe.Bus, ReplayPace.Faster(10), counters).PlayAsync(RunId, CancellationToken.None);
            // Like a RabbitMQ quorum queue, the limit rejects publishes once the queue is over it: 10 + 1 accepted.
            Assert.Equal((11L, 4L), (shed.FramesPublished, shed.FramesShed));
            Assert.Equal(4, counters[CaptureSession.FramesShed]);
            Assert.Equal(4L, Assert.Single(probe.Stops).FramesShed);
        }

        // With a slow detection consumer, a max-rate replay waits for room and loses nothing.
        await using (var probe = await BusProbe.StartAsync(new TopologyOptions { FramesMaxLength = 10 }))
        {
            var detected = 0;
            await using var detection = BusProbe.Connect(probe.Broker, "detection");
            detection.Subscribe(Topology.DetectionFramesQueue, new MessageDispatcher().On(new SlowDetector(() => Interlocked.Increment(ref detected))));
            await detection.StartAsync(CancellationToken.None);
            var all = await new RecordingPlayer(recording.Recording, probe.Bus, ReplayPace.AsFastAsAccepted).PlayAsync(RunId, CancellationToken.None);
            Assert.Equal((15L, 0L), (all.FramesPublished, all.FramesShed));
            // (The broker never goes idle here: RunStopped also waits in fusion's queue, which nobody consumes.)
            var waited = Stopwatch.StartNew();
            while (Volatile.Read(ref detected) < 15 && waited.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(20);
            }
            Assert.Equal(15, Volatile.Read(ref detected));
        }
    }

    [Fact]
    public async Task A_video_file_written_by_opencv_is_replayed_frame_by_frame()
    {
        using var recording = new TestRecording(8, TimeSpan.FromMilliseconds(100), asVideo: true);
        await using var probe = await BusProbe.StartAsync();

        var result = await new RecordingPlayer(recording.Recording, probe.Bus, ReplayPace.AsFastAsAccepted).PlayAsync(RunId, CancellationToken.None);

        Assert.Equal(8, result.FramesPublished);
        for (var i = 0; i < 8; i++)
        {
            var frame = probe.Frames[i];
            Assert.Equal(i, frame.Sequence);
            using var image = Cv2.ImDecode(frame.Jpeg, ImreadModes.Grayscale);
            Assert.Equal((320, 240), (image.Width, image.Height));
            Assert.InRange(Cv2.Mean(image).Val0, TestRecording.Brightness(i) - 4, TestRecording.Brightness(i) + 4);
        }
    }

    [Fact]
    public async Task A_video_source_through_the_opencv_path_is_stamped_by_position()
    {
        using var recording = new TestRecording(5, TimeSpan.FromMilliseconds(100), asVideo: true);
        await using var probe = await BusProbe.StartAsync();
        using var source = new OpenCvFrameSource(recording.Recording.PathOf(TestRecording.CameraId + ".avi"), "cam-left", 10, 90);

        var result = await new CaptureSession(source, probe.Bus, ReplayPace.Recorded, [], logger: NullLogger.Instance).RunAsync(RunId, CancellationToken.None);

        Assert.Equal(5, result.FramesPublished);
        Assert.All(probe.Frames, f => Assert.Equal("cam-left", f.CameraId));
        Assert.Equal("end-of-source", probe.Stops.Single().Reason);
        Assert.True(probe.Frames[4].CapturedAtUtc > probe.Frames[0].CapturedAtUtc);
    }

    [Fact]
    public async Task The_bundled_sample_replays_completely()
    {
        var sample = new TreeScout.Orchard.Recording(Path.Combine(TreeScout.Tests.RepoPaths.Samples, "betuwe-rtk-2x12"));
        await using var probe = await BusProbe.StartAsync();

        var result = await new RecordingPlayer(sample, probe.Bus, ReplayPace.AsFastAsAccepted).PlayAsync(RunId, CancellationToken.None);

        Assert.Equal((173L, 0L, 0L), (result.FramesPublished, result.FramesShed, result.FramesUnreadable));
        Assert.All(probe.Frames, f => Assert.Equal((1280, 720), (f.Width, f.Height)));
        Assert.Equal(sample.ReadFrames().Select(f => f.HostTimeUtc), probe.Frames.Select(f => f.CapturedAtUtc));
    }

    [Fact]
    public void Opening_a_source_that_does_not_exist_names_it()
    {
        var ex = Assert.Throws<IOException>(() => new OpenCvFrameSource("/nonexistent/camera.mp4", "cam-right", 10, 90));
        Assert.Contains("/nonexistent/camera.mp4", ex.Message, StringComparison.Ordinal);
    }

    private sealed class SlowDetector(Action seen) : IMessageHandler<FrameCaptured>
    {
        public async Task HandleAsync(FrameCaptured message, MessageContext context, CancellationToken cancellationToken)
        {
            await Task.Delay(20, cancellationToken);
            seen();
        }
    }
}
