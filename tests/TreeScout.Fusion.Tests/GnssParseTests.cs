using System.Text.Json;
using TreeScout.Contracts;
using TreeScout.Fusion.Nmea;
using TreeScout.Tests;

namespace TreeScout.Fusion.Tests;

/// <summary>What `treescout gnss parse` prints for a real receiver capture (BU-353 GLONASS, SiRF III, from gpsd's suite).</summary>
[Trait("Category", "Unit")]
public sealed class GnssParseTests
{
    private static string Log => Path.Combine(RepoPaths.SharedData("gpsd-logs"), "bu353-glonass.log");

    [Fact]
    public void Real_log_decodes_to_the_fixes_gpsd_reports_with_lines_counted_by_reason()
    {
        var (fixes, statistics, undated) = NmeaFixJson.DecodeFile(Log);

        Assert.Equal(121, statistics.LinesRead);
        Assert.Equal(9, statistics.Fixes);
        Assert.Equal(9, fixes.Count);
        Assert.Equal(0, undated);
        // The 9 '#' header lines are not NMEA; GSA/GSV are well-formed but carry no position.
        Assert.Equal(9, statistics.RejectedByReason()["not_nmea"]);
        Assert.Equal(27, statistics.RejectedTotal);
        var first = fixes[0];
        Assert.Equal(new DateTimeOffset(2014, 5, 26, 8, 14, 11, TimeSpan.Zero), first.TimeUtc);
        // gpsd's TPV for the same epoch (bu353-glonass.log.chk): lat 55.686591667, lon 37.621453333, mode 3, speed 0.309, track 301.29.
        Assert.Equal(55.686591667, first.Latitude, 1e-7);
        Assert.Equal(37.621453333, first.Longitude, 1e-7);
        Assert.Equal(3, first.Mode);
        Assert.Equal(GnssQuality.Autonomous, first.Quality);
        Assert.Equal(0.309, first.SpeedMps!.Value, 1e-3);
        Assert.Equal(301.29, first.CourseDeg!.Value, 1e-6);
        // The position sentence's talker (the BU-353 mixes GNRMC/GNGGA and GPGGA), and the date from the log's RMC.
        Assert.Equal(["GN", "GP"], fixes.Take(2).Select(f => f.Talker));
        Assert.DoesNotContain(fixes, f => f.DateFromHostClock);
    }

    [Fact]
    public void Json_line_has_the_documented_fields_and_values()
    {
        var fix = NmeaFixJson.DecodeFile(Log).Fixes[0];

        using var json = JsonDocument.Parse(NmeaFixJson.Line(fix));
        var root = json.RootElement;

        Assert.Equal(["time", "lat", "lon", "mode", "quality", "speed", "track"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal("2014-05-26T08:14:11.000Z", root.GetProperty("time").GetString());
        Assert.Equal(55.686591667, root.GetProperty("lat").GetDouble(), 1e-9);
        Assert.Equal(37.621453333, root.GetProperty("lon").GetDouble(), 1e-9);
        Assert.Equal(3, root.GetProperty("mode").GetInt32());
        Assert.Equal("autonomous", root.GetProperty("quality").GetString());
        Assert.Equal(0.309, root.GetProperty("speed").GetDouble(), 1e-9);
        Assert.Equal(301.29, root.GetProperty("track").GetDouble(), 1e-9);
    }
}
