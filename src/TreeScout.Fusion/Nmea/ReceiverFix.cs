using TreeScout.Contracts;

namespace TreeScout.Fusion.Nmea;

/// <summary>One position solution of the receiver: assembled from the NMEA sentences of one epoch (same UTC time of day), or read from gpsd.</summary>
public sealed record ReceiverFix
{
    /// <summary>Full UTC time, or null while no date is known (no RMC/ZDA yet and no host clock to borrow it from).</summary>
    public DateTimeOffset? TimeUtc { get; init; }

    /// <summary>The date came from the host clock because the receiver sends no RMC/ZDA (e.g. an RTK receiver set to GGA only).</summary>
    public bool DateFromHostClock { get; init; }

    /// <summary>When the host read the epoch's first sentence (host clock), when known.</summary>
    public DateTimeOffset? ReceivedAtUtc { get; init; }

    public required double Latitude { get; init; }

    public required double Longitude { get; init; }

    public double? AltitudeM { get; init; }

    /// <summary>2 = 2-D, 3 = 3-D (gpsd's convention).</summary>
    public required int Mode { get; init; }

    public required GnssQuality Quality { get; init; }

    public double? SpeedMps { get; init; }

    /// <summary>Course over ground, degrees true.</summary>
    public double? CourseDeg { get; init; }

    /// <summary>True heading (HDT/THS), degrees.</summary>
    public double? HeadingDeg { get; init; }

    /// <summary>1-sigma horizontal error from GST (semi-major axis of the error ellipse), metres.</summary>
    public double? GstSigmaM { get; init; }

    public int? Satellites { get; init; }

    public double? Hdop { get; init; }

    /// <summary>Talker of the sentence that gave the position (GP, GN, GL, ...).</summary>
    public string? Talker { get; init; }
}
