using System.Globalization;
using System.Text;
using TreeScout.Contracts;

namespace TreeScout.Simulation;

/// <summary>
/// Formats receiver epochs as NMEA 0183 (GGA, RMC, VTG, GST, optional HDT) the way an RTK receiver emits them:
/// 7 decimals of arc minutes (sub-millimetre), checksums, empty fields and status V while there is no fix.
/// </summary>
public sealed class NmeaWriter(LocalTangentPlane plane, string talker, bool heading)
{
    /// <summary>Ground height of the simulated block above mean sea level (the Betuwe lies about at sea level).</summary>
    public const double GroundMslM = 9.5;

    /// <summary>Geoid–ellipsoid separation reported in GGA (about 46 m in the central Netherlands).</summary>
    public const double GeoidSeparationM = 46.2;

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public IReadOnlyList<string> Sentences(GnssEpoch epoch)
    {
        var time = epoch.TimeUtc.UtcDateTime.ToString("HHmmss.ff", Inv);
        var date = epoch.TimeUtc.UtcDateTime.ToString("ddMMyy", Inv);
        var sentences = new List<string>(5);
        if (!epoch.HasFix)
        {
            sentences.Add(Sentence($"{talker}GGA,{time},,,,,0,00,99.99,,,,,,"));
            sentences.Add(Sentence($"{talker}RMC,{time},V,,,,,,,{date},,,N"));
            sentences.Add(Sentence($"{talker}VTG,,T,,M,,N,,K,N"));
            return sentences;
        }
        var measured = epoch.Measured;
        var (lat, lon) = plane.ToWgs84(measured.E, measured.N);
        var latText = Angle(lat, 2, 'N', 'S');
        var lonText = Angle(lon, 3, 'E', 'W');
        var quality = GgaQuality(epoch.Quality);
        var altitude = GroundMslM + measured.U;
        var age = epoch.CorrectionAgeS is { } a ? a.ToString("0.0", Inv) : "";
        var station = epoch.CorrectionAgeS is null ? "" : "0000";
        sentences.Add(Sentence(string.Create(Inv,
            $"{talker}GGA,{time},{latText},{lonText},{quality},{epoch.Satellites:00},{epoch.Hdop:0.00},{altitude:0.000},M,{GeoidSeparationM:0.000},M,{age},{station}")));
        var knots = epoch.MeasuredSpeedMps * 3600 / 1852;
        var mode = Mode(epoch.Quality);
        sentences.Add(Sentence(string.Create(Inv,
            $"{talker}RMC,{time},A,{latText},{lonText},{knots:0.000},{epoch.MeasuredCourseDeg:0.00},{date},,,{mode}")));
        sentences.Add(Sentence(string.Create(Inv,
            $"{talker}VTG,{epoch.MeasuredCourseDeg:0.00},T,,M,{knots:0.000},N,{epoch.MeasuredSpeedMps * 3.6:0.000},K,{mode}")));
        // The receiver's own error estimate, consistent with the error model of the current solution type.
        var sigma = epoch.SigmaM;
        sentences.Add(Sentence(string.Create(Inv,
            $"{talker}GST,{time},{sigma * 1.2:0.000},{sigma * 1.1:0.000},{sigma * 0.9:0.000},{(epoch.TimeS * 3) % 180:0.0},{sigma:0.000},{sigma:0.000},{sigma * 2:0.000}")));
        if (heading)
        {
            sentences.Add(Sentence(string.Create(Inv, $"{talker}HDT,{epoch.MeasuredHeadingDeg:0.00},T")));
        }
        return sentences;
    }

    /// <summary>"$" + body + "*" + XOR of the body's bytes in two hex digits.</summary>
    public static string Sentence(string body) => $"${body}*{Checksum(body):X2}";

    public static byte Checksum(string body)
    {
        byte sum = 0;
        foreach (var b in Encoding.ASCII.GetBytes(body))
        {
            sum ^= b;
        }
        return sum;
    }

    /// <summary>GGA fix quality codes (NMEA 0183), which differ from the order of <see cref="GnssQuality"/>.</summary>
    public static int GgaQuality(GnssQuality quality) => quality switch
    {
        GnssQuality.Autonomous => 1,
        GnssQuality.Dgps => 2,
        GnssQuality.Pps => 3,
        GnssQuality.RtkFixed => 4,
        GnssQuality.RtkFloat => 5,
        GnssQuality.DeadReckoning => 6,
        GnssQuality.Manual => 7,
        GnssQuality.Simulation => 8,
        _ => 0,
    };

    private static string Mode(GnssQuality quality) => quality switch
    {
        GnssQuality.RtkFixed => "R",
        GnssQuality.RtkFloat => "F",
        GnssQuality.Dgps => "D",
        _ => "A",
    };

    /// <summary>ddmm.mmmmmmm,H (latitude) or dddmm.mmmmmmm,H (longitude).</summary>
    private static string Angle(double degrees, int degreeDigits, char positive, char negative)
    {
        var hemisphere = degrees >= 0 ? positive : negative;
        var abs = Math.Abs(degrees);
        var whole = (int)Math.Floor(abs);
        var minutes = Math.Round((abs - whole) * 60, 7);
        if (minutes >= 60)
        {
            whole++;
            minutes -= 60;
        }
        return string.Create(Inv, $"{whole.ToString(new string('0', degreeDigits), Inv)}{minutes:00.0000000},{hemisphere}");
    }
}
