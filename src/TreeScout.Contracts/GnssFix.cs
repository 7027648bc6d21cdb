namespace TreeScout.Contracts;

/// <summary>One position solution from the tractor's GNSS receiver.</summary>
public sealed record GnssFix : IMessage
{
    public const int CurrentSchemaVersion = 1;

    public required Guid MessageId { get; init; }

    public required string RunId { get; init; }

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;

    public required long Sequence { get; init; }

    /// <summary>Time of the fix in GNSS (UTC) time.</summary>
    public required DateTimeOffset TimeUtc { get; init; }

    /// <summary>When the host read the fix, on the host clock (the same clock that stamps frames on a single-node tractor).</summary>
    public required DateTimeOffset ReceivedAtUtc { get; init; }

    public required double Latitude { get; init; }

    public required double Longitude { get; init; }

    /// <summary>Height above mean sea level, metres, when the receiver reports it.</summary>
    public double? AltitudeM { get; init; }

    /// <summary>2 = 2-D fix, 3 = 3-D fix (gpsd's convention).</summary>
    public required int Mode { get; init; }

    public required GnssQuality Quality { get; init; }

    public double? SpeedMps { get; init; }

    /// <summary>Course over ground, degrees true.</summary>
    public double? CourseDeg { get; init; }

    /// <summary>True heading from a dual-antenna receiver (HDT/THS), degrees.</summary>
    public double? HeadingDeg { get; init; }

    /// <summary>1-sigma horizontal position uncertainty, metres (from GST, or assumed from the fix type).</summary>
    public required double HorizontalSigmaM { get; init; }

    public int? Satellites { get; init; }

    public double? Hdop { get; init; }
}
