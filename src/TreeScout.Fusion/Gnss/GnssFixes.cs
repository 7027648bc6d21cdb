using Microsoft.Extensions.Logging;
using TreeScout.Contracts;
using TreeScout.Fusion.Nmea;
using TreeScout.Hosting;
using TreeScout.Messaging;

namespace TreeScout.Fusion.Gnss;

/// <summary>Turns a receiver fix into the bus message fusion consumes.</summary>
public static class GnssFixes
{
    /// <summary>
    /// The <see cref="GnssFix"/> for <paramref name="fix"/>, or null while its date is unknown (it cannot be placed in time).
    /// Uncertainty from GST when the receiver sends it, else assumed from the fix type. Without a host receive time
    /// (a recording without gnss-times.csv) ReceivedAtUtc equals TimeUtc, which fusion reads as "unknown".
    /// </summary>
    public static GnssFix? ToMessage(ReceiverFix fix, string runId, long sequence, GnssSigmaOptions sigma)
    {
        if (fix.TimeUtc is not { } time)
        {
            return null;
        }
        return new GnssFix
        {
            MessageId = MessageIds.For(runId, "fix", sequence),
            RunId = runId,
            Sequence = sequence,
            TimeUtc = time,
            ReceivedAtUtc = fix.ReceivedAtUtc ?? time,
            Latitude = fix.Latitude,
            Longitude = fix.Longitude,
            AltitudeM = fix.AltitudeM,
            Mode = fix.Mode,
            Quality = fix.Quality,
            SpeedMps = fix.SpeedMps,
            CourseDeg = fix.CourseDeg,
            HeadingDeg = fix.HeadingDeg,
            HorizontalSigmaM = fix.GstSigmaM ?? sigma.For(fix.Quality),
            Satellites = fix.Satellites,
            Hdop = fix.Hdop,
        };
    }

    /// <summary>
    /// Publishes one fix (confirmed). A fix the broker refuses or does not confirm in time is counted
    /// (<c>gnss_fixes_unpublished</c>) and logged, not retried: fusion interpolates across the missing fix.
    /// </summary>
    public static async Task PublishAsync(IMessagePublisher bus, GnssFix message, WorkerCounters counters, ILogger logger, CancellationToken cancellationToken)
    {
        try
        {
            await bus.PublishAsync(message, cancellationToken);
            counters.Add("gnss_fixes_published");
        }
        catch (Exception ex) when (ex is PublishRejectedException or TimeoutException)
        {
            counters.Add("gnss_fixes_unpublished");
            logger.LogWarning("GNSS fix {Time:O} for run {RunId} not published: {Reason}", message.TimeUtc, message.RunId, ex.Message);
        }
    }

    /// <summary>"rtk-fixed", "rtk-float", "dgps", "autonomous", ... as printed and stored.</summary>
    public static string Label(GnssQuality quality) => quality switch
    {
        GnssQuality.NoFix => "no-fix",
        GnssQuality.Autonomous => "autonomous",
        GnssQuality.Dgps => "dgps",
        GnssQuality.RtkFloat => "rtk-float",
        GnssQuality.RtkFixed => "rtk-fixed",
        GnssQuality.DeadReckoning => "dead-reckoning",
        GnssQuality.Manual => "manual",
        GnssQuality.Simulation => "simulation",
        GnssQuality.Pps => "pps",
        _ => quality.ToString().ToLowerInvariant(),
    };

    /// <summary>Rank for "worst quality used": lower is worse. Dead reckoning and manual input rank below autonomous.</summary>
    public static int Rank(GnssQuality quality) => quality switch
    {
        GnssQuality.RtkFixed => 6,
        GnssQuality.RtkFloat => 5,
        GnssQuality.Dgps or GnssQuality.Pps => 4,
        GnssQuality.Autonomous => 3,
        GnssQuality.Simulation => 2,
        GnssQuality.DeadReckoning or GnssQuality.Manual => 1,
        _ => 0,
    };
}
