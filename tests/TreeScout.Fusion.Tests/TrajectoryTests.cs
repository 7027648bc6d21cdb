using TreeScout.Contracts;
using TreeScout.Fusion.Geometry;
using TreeScout.Orchard;

namespace TreeScout.Fusion.Tests;

/// <summary>The pose's heading is a direction in the UTM grid the positions are in, whatever the receiver sent it as.</summary>
[Trait("Category", "Unit")]
public sealed class TrajectoryTests
{
    // The Betuwe (zone 31, 2.4° east of its central meridian): grid north is ~1.9° east of true north.
    private const double Latitude = 51.9;
    private const double Longitude = 5.4;

    /// <summary>10 s due true north at 1.5 m/s, 10 fixes/s; <paramref name="withHeading"/>: a dual-antenna receiver's HDT (0°, true).</summary>
    private static Trajectory DriveDueTrueNorth(bool withHeading)
    {
        var trajectory = new Trajectory(UtmProjection.For(Latitude, Longitude), new FusionOptions().Trajectory());
        var start = new DateTimeOffset(2026, 4, 20, 10, 0, 0, TimeSpan.Zero);
        for (var k = 0; k <= 100; k++)
        {
            trajectory.Add(Fix(k, start.AddSeconds(k * 0.1), Latitude + k * 0.15 / 111_250.0, Longitude, 1.5, courseDeg: 0, headingDeg: withHeading ? 0 : null));
        }
        return trajectory;
    }

    /// <summary>An RTK fixed fix (2 cm) received the instant it was made.</summary>
    private static GnssFix Fix(long sequence, DateTimeOffset time, double latitude, double longitude, double speedMps, double? courseDeg, double? headingDeg) => new()
    {
        MessageId = Guid.NewGuid(),
        RunId = "trajectory",
        Sequence = sequence,
        TimeUtc = time,
        ReceivedAtUtc = time,
        Latitude = latitude,
        Longitude = longitude,
        Mode = 3,
        Quality = GnssQuality.RtkFixed,
        SpeedMps = speedMps,
        CourseDeg = courseDeg,
        HeadingDeg = headingDeg,
        HorizontalSigmaM = 0.02,
    };

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_true_north_drive_has_the_grid_heading_of_its_track(bool withHeading)
    {
        var trajectory = DriveDueTrueNorth(withHeading);
        var projection = trajectory.Projection!;
        var (e0, n0) = projection.ToUtm(Latitude, Longitude);
        var (e1, n1) = projection.ToUtm(Latitude + 100 * 0.15 / 111_250.0, Longitude);
        var gridCourse = Angles.Degrees(Math.Atan2(e1 - e0, n1 - n0));
        Assert.InRange(gridCourse, -2.0, -1.8);

        var (status, pose) = trajectory.PoseAt(new DateTimeOffset(2026, 4, 20, 10, 0, 5, TimeSpan.Zero), force: false);

        Assert.Equal(PoseStatus.Ok, status);
        Assert.Equal(gridCourse, Angles.Degrees(pose.HeadingRad), 0.05);
    }

    /// <summary>
    /// A drive in the UTM grid from (0, 0) at 10 fixes/s: <paramref name="velocity"/> gives the grid velocity (east, north,
    /// m/s) at each second; positions are its integral plus white noise of <paramref name="noiseM"/> (RTK fix-to-fix noise).
    /// <paramref name="heading"/>: a dual-antenna receiver's true heading per second, or none.
    /// </summary>
    private static Trajectory Drive(double seconds, Func<double, (double VE, double VN)> velocity, double noiseM = 0.005, Func<double, double?>? heading = null)
    {
        var projection = UtmProjection.For(Latitude, Longitude);
        var (e0, n0) = projection.ToUtm(Latitude, Longitude);
        var trajectory = new Trajectory(projection, new FusionOptions().Trajectory());
        var random = new Random(7);
        var (e, n) = (e0, n0);
        for (var k = 0; k <= seconds * 10; k++)
        {
            var t = k * 0.1;
            var (ve, vn) = velocity(t);
            if (k > 0)
            {
                (e, n) = (e + ve * 0.1, n + vn * 0.1);
            }
            var (lat, lon) = projection.ToWgs84(e + noiseM * Gaussian(random), n + noiseM * Gaussian(random));
            var trueHeading = heading?.Invoke(t) is { } gridHeading ? gridHeading - Angles.Degrees(projection.TrueNorthGridAzimuth(lat, lon, projection.ToUtm(lat, lon))) : (double?)null;
            trajectory.Add(Fix(k, Start.AddSeconds(t), lat, lon, Math.Sqrt(ve * ve + vn * vn), courseDeg: null, trueHeading));
        }
        return trajectory;
    }

    private static readonly DateTimeOffset Start = new(2026, 4, 20, 11, 0, 0, TimeSpan.Zero);

    private static double Gaussian(Random random) => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    /// <summary>Grid heading of the pose at <paramref name="t"/> seconds into the drive, degrees in [0, 360).</summary>
    private static double HeadingAt(Trajectory trajectory, double t)
    {
        var (status, pose) = trajectory.PoseAt(Start.AddSeconds(t), force: false);
        Assert.Equal(PoseStatus.Ok, status);
        return (Angles.Degrees(pose.HeadingRad) % 360 + 360) % 360;
    }

    /// <summary>Smallest angle between two headings, degrees.</summary>
    private static double Off(double heading, double expected) => Math.Abs(Angles.Degrees(Angles.Wrap(Angles.Radians(heading - expected))));

    // Forward north 10 s at 1.5 m/s, 2 s standstill, then backing up south at 1 m/s for 8 s: the tractor (and its side
    // camera) still points north while its course is south; while stopped the heading is held, not taken from noise.
    [Fact]
    public void Backing_up_after_a_stop_keeps_the_heading_the_tractor_points_in()
    {
        var trajectory = Drive(20, t => t < 10 ? (0, 1.5) : t < 12 ? (0, 0) : (0, -1.0));

        Assert.True(Off(HeadingAt(trajectory, 5), 0) < 1, "driving forward");
        Assert.True(Off(HeadingAt(trajectory, 11), 0) < 1, "stopped: heading held");
        Assert.True(Off(HeadingAt(trajectory, 15), 0) < 1, "reversing: course south, heading north");
        Assert.True(Off(HeadingAt(trajectory, 19), 0) < 1, "still reversing");
    }

    // A headland U-turn at speed (3 m radius, 1.5 m/s) is a turn, not a reversal: heading south afterwards.
    [Fact]
    public void A_headland_turn_at_speed_is_a_turn_not_a_reversal()
    {
        const double radius = 3, speed = 1.5;
        var turn = Math.PI * radius / speed;
        var trajectory = Drive(10 + turn + 8, t =>
        {
            if (t < 10)
            {
                return (0, speed);
            }
            if (t < 10 + turn)
            {
                var angle = (t - 10) * speed / radius; // heading turns from north through east to south
                return (speed * Math.Sin(angle), speed * Math.Cos(angle));
            }
            return (0, -speed);
        });

        Assert.True(Off(HeadingAt(trajectory, 8), 0) < 1);
        Assert.True(Off(HeadingAt(trajectory, 10 + turn / 2), 90) < 5, "mid-turn, heading east");
        Assert.True(Off(HeadingAt(trajectory, 10 + turn + 5), 180) < 1, "after the turn, heading south");
    }

    // Creeping at 0.4 m/s (just above the stop speed) with 1 cm fix noise: the course, fitted over at least a metre of travel,
    // holds the heading within 1.5° (0.8° measured; 2.5° over the fixed 1.2 s window);
    // at 0.1 m/s (below it) the heading of the last movement is held instead of following the noise.
    [Theory]
    [InlineData(0.4, 1.5)]
    [InlineData(0.1, 1.0)]
    public void A_slow_crawl_keeps_a_steady_heading(double crawlMps, double toleranceDeg)
    {
        var trajectory = Drive(20, t => t < 5 ? (0, 1.5) : (0, crawlMps), noiseM: 0.01);

        var worst = Enumerable.Range(0, 24).Max(k => Off(HeadingAt(trajectory, 7 + k * 0.5), 0));

        Assert.True(worst < toleranceDeg, $"worst heading error {worst:F2}° while crawling at {crawlMps} m/s");
    }

    // A dual-antenna heading decides forward or reverse outright, without a stop to detect the flip.
    [Fact]
    public void With_a_true_heading_reversing_needs_no_stop_to_be_recognised()
    {
        var trajectory = Drive(12, t => t < 6 ? (0, 1.0) : (0, -1.0), heading: _ => 0);

        Assert.True(Off(HeadingAt(trajectory, 3), 0) < 0.5);
        Assert.True(Off(HeadingAt(trajectory, 9), 0) < 0.5);
    }
}
