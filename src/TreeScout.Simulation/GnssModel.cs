using TreeScout.Contracts;

namespace TreeScout.Simulation;

/// <summary>
/// Error of one solution type: a first-order Gauss–Markov bias per axis (time-correlated, slowly wandering) plus
/// white noise. Horizontal RMS = √2·√(σb² + σw²): RTK fixed ≈ 1.5 cm, float ≈ 0.3 m, DGPS ≈ 0.7 m, autonomous ≈ 2.4 m.
/// </summary>
public sealed record GnssErrorLevel(GnssQuality Quality, double BiasSigmaM, double TimeConstantS, double WhiteSigmaM)
{
    /// <summary>1-σ error per horizontal axis (what GST reports as latitude/longitude sigma).</summary>
    public double AxisSigmaM => Math.Sqrt(BiasSigmaM * BiasSigmaM + WhiteSigmaM * WhiteSigmaM);

    public static readonly IReadOnlyList<GnssErrorLevel> All =
    [
        new(GnssQuality.RtkFixed, 0.009, 60, 0.006),
        new(GnssQuality.RtkFloat, 0.22, 30, 0.03),
        new(GnssQuality.Dgps, 0.50, 60, 0.10),
        new(GnssQuality.Autonomous, 1.70, 600, 0.30),
    ];

    public static GnssErrorLevel Of(GnssQuality quality) => All.First(l => l.Quality == quality);
}

/// <summary>One receiver epoch: the truth, the error the receiver made, and what it reports.</summary>
public sealed record GnssEpoch(
    double TimeS,
    DateTimeOffset TimeUtc,
    GnssQuality Quality,
    Enu TrueAntenna,
    Enu Error,
    double SigmaM,
    double TrueHeadingDeg,
    double MeasuredHeadingDeg,
    double MeasuredSpeedMps,
    double MeasuredCourseDeg,
    int Satellites,
    double Hdop,
    double? CorrectionAgeS)
{
    public bool HasFix => Quality != GnssQuality.NoFix;

    public Enu Measured => TrueAntenna + Error;
}

/// <summary>
/// The tractor's receiver: epochs at the output rate with the configured solution type, occasional degradations
/// (RTK fixed → float for a few seconds, DGPS → autonomous when corrections drop out), short dropouts and forced
/// outages. Every solution type's error process runs all the time, so a fix that returns to RTK jumps back to cm level.
/// </summary>
public static class GnssModel
{
    private sealed record Degradation(GnssQuality To, double RatePerS, double MinS, double MaxS);

    private static GnssQuality Nominal(GnssFixType type) => type switch
    {
        GnssFixType.Rtk => GnssQuality.RtkFixed,
        GnssFixType.Float => GnssQuality.RtkFloat,
        GnssFixType.Dgps => GnssQuality.Dgps,
        _ => GnssQuality.Autonomous,
    };

    private static IReadOnlyList<Degradation> DegradationsOf(GnssQuality nominal)
    {
        var dropout = new Degradation(GnssQuality.NoFix, 1.0 / 200, 0.3, 1.5);
        return nominal switch
        {
            GnssQuality.RtkFixed => [new(GnssQuality.RtkFloat, 1.0 / 90, 2, 8), dropout],
            GnssQuality.RtkFloat => [new(GnssQuality.Dgps, 1.0 / 150, 3, 10), dropout],
            GnssQuality.Dgps => [new(GnssQuality.Autonomous, 1.0 / 150, 5, 15), dropout],
            _ => [dropout],
        };
    }

    public static IReadOnlyList<GnssEpoch> Simulate(SimulationOptions options, Func<double, VehiclePose> pose, double durationS)
    {
        var random = SimRandom.For(options.Seed, "gnss");
        var dt = 1.0 / options.GnssRateHz;
        var nominal = Nominal(options.Gnss);
        var degradations = options.GnssEvents ? DegradationsOf(nominal) : [];
        var processes = GnssErrorLevel.All.ToDictionary(l => l.Quality, l => new ErrorProcess(l, random));
        var epochs = new List<GnssEpoch>();
        var episode = (Quality: nominal, Until: 0.0);
        var satellites = nominal == GnssQuality.Autonomous ? 10.0 : 18.0;
        var count = (int)Math.Floor(durationS / dt) + 1;
        for (var k = 0; k < count; k++)
        {
            var t = k * dt;
            foreach (var process in processes.Values)
            {
                process.Step(dt, random);
            }
            if (t >= episode.Until)
            {
                episode = (nominal, t);
                foreach (var d in degradations)
                {
                    if (random.NextDouble() < d.RatePerS * dt)
                    {
                        episode = (d.To, t + random.Uniform(d.MinS, d.MaxS));
                        break;
                    }
                }
            }
            var quality = options.GnssOutages.Any(o => t >= o.StartS && t < o.StartS + o.DurationS) ? GnssQuality.NoFix : episode.Quality;
            satellites = Math.Clamp(satellites + random.Gaussian() * 0.05, nominal == GnssQuality.Autonomous ? 7 : 12, 26);
            var sats = (int)Math.Round(satellites);
            var p = pose(t);
            var level = quality == GnssQuality.NoFix ? null : GnssErrorLevel.Of(quality);
            var error = level is null ? default : processes[quality].Current(random);
            var velocitySigma = quality is GnssQuality.RtkFixed or GnssQuality.RtkFloat ? 0.02 : 0.05;
            var speed = Math.Max(0, p.SpeedMps + random.Gaussian() * velocitySigma);
            var course = (p.HeadingDeg + random.Gaussian() * Math.Atan2(velocitySigma, Math.Max(p.SpeedMps, 0.1)) * 180 / Math.PI + 360) % 360;
            epochs.Add(new GnssEpoch(
                t,
                options.StartUtc.AddSeconds(t),
                quality,
                p.Antenna,
                error,
                level?.AxisSigmaM ?? 0,
                p.HeadingDeg,
                (p.HeadingDeg + random.Gaussian() * 0.15 + 360) % 360,
                speed,
                course,
                quality == GnssQuality.NoFix ? 0 : sats,
                Math.Round((nominal == GnssQuality.Autonomous ? 11.0 : 12.0) / sats, 2),
                quality switch
                {
                    GnssQuality.RtkFixed or GnssQuality.RtkFloat => 1.0 + (k % 10) * 0.1,
                    GnssQuality.Dgps => 3.0 + (k % 50) * 0.1,
                    _ => null,
                }));
        }
        return epochs;
    }

    /// <summary>First-order Gauss–Markov bias (east, north, up; up ×2) plus white noise, started from its stationary distribution.</summary>
    private sealed class ErrorProcess
    {
        private readonly GnssErrorLevel _level;
        private double _e;
        private double _n;
        private double _u;

        public ErrorProcess(GnssErrorLevel level, Random random)
        {
            _level = level;
            _e = random.Gaussian() * level.BiasSigmaM;
            _n = random.Gaussian() * level.BiasSigmaM;
            _u = random.Gaussian() * level.BiasSigmaM * 2;
        }

        public void Step(double dt, Random random)
        {
            var phi = Math.Exp(-dt / _level.TimeConstantS);
            var q = _level.BiasSigmaM * Math.Sqrt(1 - phi * phi);
            _e = phi * _e + q * random.Gaussian();
            _n = phi * _n + q * random.Gaussian();
            _u = phi * _u + 2 * q * random.Gaussian();
        }

        public Enu Current(Random random) => new(
            _e + random.Gaussian() * _level.WhiteSigmaM,
            _n + random.Gaussian() * _level.WhiteSigmaM,
            _u + random.Gaussian() * _level.WhiteSigmaM * 2);
    }
}
