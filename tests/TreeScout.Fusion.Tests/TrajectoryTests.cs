using TreeScout.Contracts;
using TreeScout.Fusion.Geometry;
using TreeScout.Orchard;

namespace TreeScout.Fusion.Tests;

/// <summary>The pose's heading is a direction in the UTM grid the positions are in, whatever the receiver sent it as.</summary>
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
            var time = start.AddSeconds(k * 0.1);
            trajectory.Add(new GnssFix
            {
                MessageId = Guid.NewGuid(),
                RunId = "trajectory",
                Sequence = k,
                TimeUtc = time,
                ReceivedAtUtc = time,
                Latitude = Latitude + k * 0.15 / 111_250.0,
                Longitude = Longitude,
                Mode = 3,
                Quality = GnssQuality.RtkFixed,
                SpeedMps = 1.5,
                CourseDeg = 0,
                HeadingDeg = withHeading ? 0 : null,
                HorizontalSigmaM = 0.02,
            });
        }
        return trajectory;
    }

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
}
