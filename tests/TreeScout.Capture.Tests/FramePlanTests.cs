using TreeScout.Contracts;
using TreeScout.Hosting;
using TreeScout.Messaging;

namespace TreeScout.Capture.Tests;

[Trait("Category", "Unit")]
public sealed class FramePlanTests
{
    private const string RunId = "20260421-093000-plan-0001";
    private static readonly DateTimeOffset Start = new(2026, 4, 21, 9, 30, 0, TimeSpan.Zero);

    /// <summary>The simulator's right camera (bench and samples): 1.6 m high, pitched up 3°, 0.25 m right of the antenna.</summary>
    private static readonly CameraMounting Rig = new()
    {
        CameraId = "cam-right", Side = CameraSide.Right, LeverArm = new LeverArm(-0.6, 0.25, -1.1), AntennaHeightM = 2.7, YawDeg = 90, PitchDeg = 3,
        ImageWidth = 1280, ImageHeight = 720, Fx = 500, Fy = 500, Cx = 640, Cy = 360,
    };

    [Fact]
    public void Frame_spacing_is_the_near_canopy_footprint_over_the_sightings_wanted()
    {
        // Near face 3.5/2 - 0.25 - 0.35 = 1.15 m; footprint 1.15 m x 1280 / 500 = 2.944 m along the row.
        Assert.Equal(2.944 / 6, FramePlanner.FrameSpacingM(Rig, 3.5, new FramePlanOptions())!.Value, 9);
        Assert.Equal(2.944 / 3, FramePlanner.FrameSpacingM(Rig, 3.5, new FramePlanOptions { SightingsPerCluster = 3 })!.Value, 9);
        // A camera that would stand in the canopy gives no plan: every frame is kept.
        Assert.Null(FramePlanner.FrameSpacingM(Rig, 1.2, new FramePlanOptions()));
    }

    [Theory]
    [InlineData(10.0, 57)] // 0.278 m a frame: 1 + floor(99 x 0.2778 / 0.4907)
    [InlineData(5.0, 29)] // 0.139 m a frame: 1 + floor(99 x 0.1389 / 0.4907)
    [InlineData(20.0, 100)] // 0.556 m a frame, more than the spacing: every frame is needed
    [InlineData(0.0, 1)] // standing still: nothing new after the first frame
    public void Frames_kept_at_a_ground_speed_give_every_cluster_its_sightings(double speedKmh, int expectedKept)
    {
        var plan = new FramePlanner([Rig], 3.5, new FramePlanOptions { Decimate = true });

        var kept = Enumerable.Range(0, 100).Count(i =>
        {
            plan.Speed.Observe(Fix(i, speedKmh / 3.6));
            return !plan.Decide(Rig.CameraId, Start.AddMilliseconds(100 * i), 100_000_000L * i).Decimated;
        });

        Assert.Equal(expectedKept, kept);
    }

    [Fact]
    public void Without_a_recent_ground_speed_every_frame_is_kept()
    {
        var plan = new FramePlanner([Rig], 3.5, new FramePlanOptions { Decimate = true });
        plan.Speed.Observe(Fix(0, 10 / 3.6));

        // The one fix is more than 2 s old (MaxSpeedAge) from frame 21 on: then no speed, no decimation.
        var decimated = Enumerable.Range(0, 40).Select(i => plan.Decide(Rig.CameraId, Start.AddMilliseconds(100 * i), 100_000_000L * i).Decimated).ToList();

        Assert.Contains(true, decimated[..21]);
        Assert.DoesNotContain(true, decimated[21..]);
    }

    [Fact]
    public void Ground_speed_comes_from_successive_positions_when_the_receiver_sends_none()
    {
        var speed = new GroundSpeed();
        speed.Observe(Fix(0, null) with { Latitude = 51.93 });
        // 0.0001° of latitude is 11.12 m; in 2 s that is 5.56 m/s.
        speed.Observe(Fix(20, null) with { Latitude = 51.9301 });

        Assert.Equal(5.56, speed.At(Start.AddSeconds(2), TimeSpan.FromSeconds(2))!.Value, 2);
        Assert.Null(speed.At(Start.AddSeconds(10), TimeSpan.FromSeconds(2)));
    }

    [Theory]
    [InlineData(3.5, null, null)] // 1.15 m from the canopy, +-36 deg of view: canopy from the top row to the bottom one
    [InlineData(6.0, 0, 668)] // the ground below 0.4 m shows in the last rows
    [InlineData(8.0, 103, 591)] // sky above 3.4 m and ground below 0.4 m: a third of the frame
    public void Canopy_band_is_where_the_canopy_can_be_seen_from_the_camera(double rowSpacingM, int? top, int? bottom)
    {
        var band = FramePlanner.Band(Rig, rowSpacingM, new FramePlanOptions());

        Assert.Equal(top is null ? null : new ImageRows(top.Value, bottom!.Value), band);
    }

    [Fact]
    public void A_camera_looking_obliquely_gets_no_band()
    {
        Assert.Null(FramePlanner.Band(Rig with { YawDeg = 60 }, 8.0, new FramePlanOptions()));
        Assert.NotNull(FramePlanner.Band(Rig with { YawDeg = -90 }, 8.0, new FramePlanOptions()));
    }

    [Fact]
    public void Settings_that_cannot_work_are_named_one_line_each()
    {
        Assert.Equal(["FramePlan:CanopyTopM (0.3 m) must be above FramePlan:CanopyBottomM (0.4 m)"], new FramePlanOptions { CanopyTopM = 0.3, CanopyBottomM = 0.4 }.Problems());
        var tooFew = Assert.Single(new FramePlanOptions { SightingsPerCluster = 2 }.Problems());
        Assert.StartsWith("FramePlan: ", tooFew, StringComparison.Ordinal);
        Assert.Contains("SightingsPerCluster must be between 3 and 1000", tooFew, StringComparison.Ordinal);
        Assert.Empty(new FramePlanOptions().Problems());
    }

    [Fact]
    public async Task Decimated_frames_are_published_without_their_image_and_counted_apart_from_shed_ones()
    {
        // The test recording's camera: 320 px wide, fx 125: the same 2.944 m footprint, 0.49 m between kept frames.
        using var recording = new TestRecording(20, TimeSpan.FromMilliseconds(100));
        await using var probe = await BusProbe.StartAsync();
        using var counters = new WorkerCounters();
        var plan = new FramePlanner(recording.Recording.ReadCameras().Cameras, 3.5, new FramePlanOptions { Decimate = true });
        plan.Speed.Observe(Fix(0, 10 / 3.6) with { ReceivedAtUtc = recording.Start.AddSeconds(1) });

        var result = await new RecordingPlayer(recording.Recording, probe.Bus, ReplayPace.AsFastAsAccepted, counters) { Plan = plan }.PlayAsync(RunId, CancellationToken.None);

        // 1 + floor(19 x 0.2778 / 0.4907) = 11 kept, 9 decimated; every sequence is published, so fusion's count closes.
        Assert.Equal((20L, 9L, 0L), (result.FramesPublished, result.FramesDecimated, result.FramesShed));
        Assert.Equal(Enumerable.Range(0, 20).Select(i => (long)i), probe.Frames.Select(f => f.Sequence));
        Assert.All(probe.Frames.Where(f => f.Decimated), f => Assert.Empty(f.Jpeg));
        Assert.All(probe.Frames.Where(f => !f.Decimated), f => Assert.Equal(File.ReadAllBytes(recording.FramePath((int)f.Sequence)), f.Jpeg));
        Assert.Equal(9, probe.Frames.Count(f => f.Decimated));
        var stopped = Assert.Single(probe.Stops);
        Assert.Equal((20L, 9L, 0L), (stopped.FramesPublished, stopped.FramesDecimated, stopped.FramesShed));
        Assert.Equal((9L, 20L), (counters[CaptureSession.FramesDecimated], counters[CaptureSession.FramesCaptured]));
    }

    private static GnssFix Fix(int tenth, double? speedMps) => new()
    {
        MessageId = Guid.NewGuid(),
        RunId = RunId,
        Sequence = tenth,
        TimeUtc = Start.AddMilliseconds(100 * tenth),
        ReceivedAtUtc = Start.AddMilliseconds(100 * tenth),
        Latitude = 51.93,
        Longitude = 5.70,
        Mode = 3,
        Quality = GnssQuality.RtkFixed,
        SpeedMps = speedMps,
        HorizontalSigmaM = 0.02,
    };
}
