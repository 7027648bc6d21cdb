namespace TreeScout.Fusion.Nmea;

/// <summary>A decoded sentence of a type fusion uses. Absent fields are null.</summary>
public abstract record NmeaMessage(string Talker)
{
    /// <summary>UTC time of day the sentence refers to, when it carries one (it then belongs to that epoch).</summary>
    public virtual TimeSpan? TimeOfDay => null;
}

/// <summary>A sentence that reports a position.</summary>
public interface IPositionMessage
{
    double? Latitude { get; }

    double? Longitude { get; }

    /// <summary>Decimal places of the minutes as sent: receivers send GGA with more places than RMC, and the most precise wins.</summary>
    int Decimals { get; }
}

/// <summary>GGA: position, fix quality (0 invalid, 1 GPS, 2 DGPS, 3 PPS, 4 RTK fixed, 5 RTK float, 6 DR, 7 manual, 8 simulator), satellites, HDOP, altitude.</summary>
public sealed record GgaMessage(
    string Talker, TimeSpan? Time, double? Latitude, double? Longitude, int? FixQuality, int? Satellites, double? Hdop, double? AltitudeM)
    : NmeaMessage(Talker), IPositionMessage
{
    public int Decimals { get; init; }

    public override TimeSpan? TimeOfDay => Time;
}

/// <summary>RMC: status A/D valid, V invalid; speed over ground (knots), course over ground, date, FAA mode indicator (NMEA 2.3+).</summary>
public sealed record RmcMessage(
    string Talker, TimeSpan? Time, char? Status, double? Latitude, double? Longitude, double? SpeedKnots, double? CourseDeg, DateOnly? Date, char? Mode)
    : NmeaMessage(Talker), IPositionMessage
{
    public int Decimals { get; init; }

    public override TimeSpan? TimeOfDay => Time;
}

/// <summary>GLL: position and time; status A valid.</summary>
public sealed record GllMessage(string Talker, double? Latitude, double? Longitude, TimeSpan? Time, char? Status, char? Mode) : NmeaMessage(Talker), IPositionMessage
{
    public int Decimals { get; init; }

    public override TimeSpan? TimeOfDay => Time;
}

/// <summary>GNS: multi-constellation fix; mode indicators one character per constellation (N = no fix).</summary>
public sealed record GnsMessage(
    string Talker, TimeSpan? Time, double? Latitude, double? Longitude, string Modes, int? Satellites, double? Hdop, double? AltitudeM, char? NavStatus)
    : NmeaMessage(Talker), IPositionMessage
{
    public int Decimals { get; init; }

    public override TimeSpan? TimeOfDay => Time;
}

/// <summary>VTG: course over ground (true) and speed.</summary>
public sealed record VtgMessage(string Talker, double? CourseTrueDeg, double? SpeedKnots, double? SpeedKmh, char? Mode) : NmeaMessage(Talker);

/// <summary>GSA: fix type 1 = none, 2 = 2-D, 3 = 3-D; satellites used; DOPs.</summary>
public sealed record GsaMessage(string Talker, int? FixType, int SatellitesUsed, double? Pdop, double? Hdop, double? Vdop) : NmeaMessage(Talker);

/// <summary>GST: pseudorange error statistics, 1-sigma metres (error ellipse and per axis).</summary>
public sealed record GstMessage(
    string Talker, TimeSpan? Time, double? RmsM, double? SemiMajorM, double? SemiMinorM, double? LatitudeSigmaM, double? LongitudeSigmaM, double? AltitudeSigmaM)
    : NmeaMessage(Talker)
{
    public override TimeSpan? TimeOfDay => Time;
}

/// <summary>ZDA: UTC time and full date.</summary>
public sealed record ZdaMessage(string Talker, TimeSpan? Time, DateOnly? Date) : NmeaMessage(Talker)
{
    public override TimeSpan? TimeOfDay => Time;
}

/// <summary>HDT or THS: true heading of the vehicle (dual-antenna receiver or gyro); THS mode V = invalid.</summary>
public sealed record HeadingMessage(string Talker, double? HeadingDeg, char? Mode) : NmeaMessage(Talker);

/// <summary>Turns a verified sentence of a known type into a typed message.</summary>
public static class NmeaMessageDecoder
{
    /// <summary>Sentence types decoded; all others are <see cref="NmeaRejectReason.UnknownType"/>.</summary>
    public static readonly IReadOnlySet<string> Types = new HashSet<string>(StringComparer.Ordinal) { "GGA", "RMC", "GLL", "GNS", "VTG", "GSA", "GST", "ZDA", "HDT", "THS" };

    public static bool TryDecode(NmeaSentence sentence, out NmeaMessage? message, out NmeaRejectReason reason)
    {
        message = null;
        reason = default;
        if (sentence.Talker == "P" || !Types.Contains(sentence.Type))
        {
            reason = NmeaRejectReason.UnknownType;
            return false;
        }
        if (sentence.Fields.Count < MinimumFields(sentence.Type))
        {
            reason = NmeaRejectReason.Truncated;
            return false;
        }
        try
        {
            message = Decode(sentence);
            return true;
        }
        catch (NmeaFieldException)
        {
            reason = NmeaRejectReason.BadField;
            return false;
        }
    }

    /// <summary>Fields a sentence must have; optional trailing fields of newer NMEA versions are not required.</summary>
    private static int MinimumFields(string type) => type switch
    {
        "GGA" => 9,
        "RMC" => 9,
        "GLL" => 4,
        "GNS" => 9,
        "VTG" => 4,
        "GSA" => 17,
        "GST" => 8,
        "ZDA" => 4,
        "HDT" => 1,
        "THS" => 2,
        _ => 0,
    };

    private static NmeaMessage Decode(NmeaSentence s)
    {
        var f = s.Field;
        return s.Type switch
        {
            "GGA" => new GgaMessage(s.Talker, NmeaFields.TimeOfDay(f(0)), NmeaFields.Coordinate(f(1), f(2), true), NmeaFields.Coordinate(f(3), f(4), false),
                NmeaFields.Integer(f(5)), NmeaFields.Integer(f(6)), NmeaFields.Number(f(7)), NmeaFields.Number(f(8))) { Decimals = DecimalsOf(f(1)) },
            "RMC" => new RmcMessage(s.Talker, NmeaFields.TimeOfDay(f(0)), NmeaFields.Flag(f(1)), NmeaFields.Coordinate(f(2), f(3), true), NmeaFields.Coordinate(f(4), f(5), false),
                NmeaFields.Number(f(6)), NmeaFields.Number(f(7)), NmeaFields.DateDdMmYy(f(8)), NmeaFields.Flag(f(11))) { Decimals = DecimalsOf(f(2)) },
            "GLL" => new GllMessage(s.Talker, NmeaFields.Coordinate(f(0), f(1), true), NmeaFields.Coordinate(f(2), f(3), false),
                NmeaFields.TimeOfDay(f(4)), NmeaFields.Flag(f(5)), NmeaFields.Flag(f(6))) { Decimals = DecimalsOf(f(0)) },
            "GNS" => new GnsMessage(s.Talker, NmeaFields.TimeOfDay(f(0)), NmeaFields.Coordinate(f(1), f(2), true), NmeaFields.Coordinate(f(3), f(4), false),
                f(5), NmeaFields.Integer(f(6)), NmeaFields.Number(f(7)), NmeaFields.Number(f(8)), NmeaFields.Flag(f(12))) { Decimals = DecimalsOf(f(1)) },
            "VTG" => DecodeVtg(s),
            "GSA" => new GsaMessage(s.Talker, GsaFixType(f(1)), Enumerable.Range(2, 12).Count(i => f(i).Length > 0),
                NmeaFields.Number(f(14)), NmeaFields.Number(f(15)), NmeaFields.Number(f(16))),
            "GST" => new GstMessage(s.Talker, NmeaFields.TimeOfDay(f(0)), NmeaFields.Number(f(1)), NmeaFields.Number(f(2)), NmeaFields.Number(f(3)),
                NmeaFields.Number(f(5)), NmeaFields.Number(f(6)), NmeaFields.Number(f(7))),
            "ZDA" => DecodeZda(s),
            "HDT" or "THS" => new HeadingMessage(s.Talker, NmeaFields.Number(f(0)), s.Type == "THS" ? NmeaFields.Flag(f(1)) : null),
            _ => throw new InvalidOperationException($"no decoder for {s.Type}"),
        };
    }

    /// <summary>1 = no fix, 2 = 2-D, 3 = 3-D; anything else would become the fix's mode.</summary>
    private static int? GsaFixType(string field) =>
        NmeaFields.Integer(field) is var type && type is null or (>= 1 and <= 3) ? type : throw new NmeaFieldException($"'{field}' is not a GSA fix type 1-3");

    private static int DecimalsOf(string coordinate)
    {
        var dot = coordinate.IndexOf('.');
        return dot < 0 ? 0 : coordinate.Length - dot - 1;
    }

    private static VtgMessage DecodeVtg(NmeaSentence s)
    {
        // NMEA 2.3+: "course,T,course,M,knots,N,kmh,K[,mode]"; some old receivers omit the unit letters.
        var f = s.Field;
        return f(1) == "T" || f(1).Length == 0 && s.Fields.Count >= 8
            ? new VtgMessage(s.Talker, NmeaFields.Number(f(0)), NmeaFields.Number(f(4)), NmeaFields.Number(f(6)), NmeaFields.Flag(f(8)))
            : new VtgMessage(s.Talker, NmeaFields.Number(f(0)), NmeaFields.Number(f(2)), NmeaFields.Number(f(3)), null);
    }

    private static ZdaMessage DecodeZda(NmeaSentence s)
    {
        var f = s.Field;
        var time = NmeaFields.TimeOfDay(f(0));
        if (f(1).Length == 0 && f(2).Length == 0 && f(3).Length == 0)
        {
            return new ZdaMessage(s.Talker, time, null);
        }
        var day = NmeaFields.Integer(f(1)) ?? throw new NmeaFieldException("ZDA day missing");
        var month = NmeaFields.Integer(f(2)) ?? throw new NmeaFieldException("ZDA month missing");
        var year = NmeaFields.Integer(f(3)) ?? throw new NmeaFieldException("ZDA year missing");
        return new ZdaMessage(s.Talker, time, NmeaFields.Date(year, month, day, $"{f(1)},{f(2)},{f(3)}"));
    }
}
