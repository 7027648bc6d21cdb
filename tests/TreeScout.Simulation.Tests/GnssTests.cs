using System.Globalization;
using TreeScout.Contracts;
using TreeScout.Orchard;

namespace TreeScout.Simulation.Tests;

[Trait("Category", "Unit")]
public sealed class GnssTests
{
    private static GroundTruth SimulateGnssOnly(string dir, GnssFixType type, bool events, params GnssOutage[] outages)
    {
        var options = SimulatedRuns.Small(21) with { Gnss = type, GnssEvents = events, GnssOutages = outages, RenderFrames = false, TreesPerRow = 20, Heading = true };
        ScanSimulator.Run(options, dir);
        return GroundTruth.Load(Path.Combine(dir, Recording.TruthJsonFile));
    }

    [Theory]
    [InlineData(GnssFixType.Rtk, 4)]
    [InlineData(GnssFixType.Float, 5)]
    [InlineData(GnssFixType.Dgps, 2)]
    [InlineData(GnssFixType.Autonomous, 1)]
    public void Nmea_has_valid_checksums_and_reports_the_truth_plus_the_recorded_error(GnssFixType type, int ggaQuality)
    {
        var dir = SimulatedRuns.TempDirectory("nmea");
        try
        {
            var truth = SimulateGnssOnly(dir, type, events: false);
            var lines = File.ReadAllLines(Path.Combine(dir, Recording.NmeaFile));
            Assert.All(lines, l => Assert.True(NmeaChecker.ChecksumValid(l), $"bad checksum: {l}"));
            Assert.Equal(truth.Gnss.Count * 5, lines.Length); // GGA, RMC, VTG, GST, HDT per epoch
            var plane = new Simulation.LocalTangentPlane(truth.Gnss[0].TrueLatitude, truth.Gnss[0].TrueLongitude);
            foreach (var fix in truth.Gnss)
            {
                var gga = NmeaChecker.Gga(lines[fix.Line - 1]);
                Assert.Equal(ggaQuality, gga.Quality);
                var (e, n) = plane.ToLocal(gga.Latitude!.Value, gga.Longitude!.Value);
                var (te, tn) = plane.ToLocal(fix.TrueLatitude, fix.TrueLongitude);
                // 7 decimals of arc minutes resolve 0.2 mm.
                Assert.Equal(fix.ErrorEastM, e - te, 0.001);
                Assert.Equal(fix.ErrorNorthM, n - tn, 0.001);
                var gst = NmeaChecker.Fields(lines[fix.Line + 2]);
                Assert.EndsWith("GST", gst[0]);
                Assert.Equal(fix.SigmaM, double.Parse(gst[6], CultureInfo.InvariantCulture), 0.001);
                Assert.Equal(GnssErrorLevel.Of(fix.Quality).AxisSigmaM, fix.SigmaM, 0.0005);
            }
            Assert.StartsWith("$GNHDT,", lines[4], StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Theory]
    [InlineData(GnssFixType.Rtk, 0.01, 0.02)]
    [InlineData(GnssFixType.Float, 0.2, 0.5)]
    [InlineData(GnssFixType.Dgps, 0.5, 1.0)]
    [InlineData(GnssFixType.Autonomous, 2.0, 3.0)]
    public void Error_statistics_per_fix_type_fall_in_the_stated_ranges_and_are_time_correlated(GnssFixType type, double minRms, double maxRms)
    {
        // Eight hours at 1 Hz of one solution type: long enough for the slow autonomous bias to average out.
        var options = new SimulationOptions { Seed = 5, Gnss = type, GnssEvents = false, GnssRateHz = 1 };
        var epochs = GnssModel.Simulate(options, t => new VehiclePose(t, new Enu(0, t, 2.7), 0, 1, 0), 8 * 3600);
        var horizontal = epochs.Select(e => e.Error.E * e.Error.E + e.Error.N * e.Error.N).ToArray();
        var rms = Math.Sqrt(horizontal.Average());
        Assert.InRange(rms, minRms, maxRms);
        // Not white noise: the error 10 s later is strongly correlated (a wandering bias).
        var east = epochs.Select(e => e.Error.E).ToArray();
        Assert.True(Correlation(east, 10) > 0.5, $"lag-10 s autocorrelation of the {type} error is {Correlation(east, 10):F2}");
    }

    [Fact]
    public void Rtk_degrades_to_float_for_seconds_and_drops_out_occasionally()
    {
        var options = new SimulationOptions { Seed = 9, Gnss = GnssFixType.Rtk, GnssRateHz = 10 };
        var epochs = GnssModel.Simulate(options, t => new VehiclePose(t, new Enu(0, t, 2.7), 0, 1, 0), 3600);
        var floatShare = epochs.Count(e => e.Quality == GnssQuality.RtkFloat) / (double)epochs.Count;
        var dropouts = epochs.Count(e => e.Quality == GnssQuality.NoFix);
        Assert.InRange(floatShare, 0.01, 0.15);
        Assert.InRange(dropouts, 1, epochs.Count / 50);
        // Episodes last seconds, not single epochs.
        var episodes = 0;
        for (var i = 1; i < epochs.Count; i++)
        {
            episodes += epochs[i].Quality == GnssQuality.RtkFloat && epochs[i - 1].Quality != GnssQuality.RtkFloat ? 1 : 0;
        }
        Assert.InRange(floatShare * epochs.Count / episodes, 15, 100);
    }

    [Fact]
    public void Forced_outage_reports_no_fix_for_its_duration()
    {
        var dir = SimulatedRuns.TempDirectory("outage");
        try
        {
            var truth = SimulateGnssOnly(dir, GnssFixType.Rtk, events: false, new GnssOutage(10, 3));
            var lines = File.ReadAllLines(Path.Combine(dir, Recording.NmeaFile));
            var start = truth.Gnss[0].TimeUtc;
            foreach (var fix in truth.Gnss)
            {
                var t = (fix.TimeUtc - start).TotalSeconds;
                var gga = NmeaChecker.Gga(lines[fix.Line - 1]);
                var inOutage = t >= 10 - 1e-9 && t < 13 - 1e-9;
                Assert.Equal(inOutage ? 0 : 4, gga.Quality);
                Assert.Equal(inOutage, gga.Latitude is null);
                if (inOutage)
                {
                    Assert.Equal("V", NmeaChecker.Fields(lines[fix.Line])[2]);
                }
            }
            Assert.Equal(30, truth.Gnss.Count(f => f.Quality == GnssQuality.NoFix));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static double Correlation(double[] x, int lag)
    {
        var mean = x.Average();
        double num = 0, den = 0;
        for (var i = 0; i < x.Length; i++)
        {
            den += (x[i] - mean) * (x[i] - mean);
            if (i + lag < x.Length)
            {
                num += (x[i] - mean) * (x[i + lag] - mean);
            }
        }
        return num / den;
    }
}
