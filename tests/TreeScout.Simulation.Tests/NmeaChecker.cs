using System.Globalization;

namespace TreeScout.Simulation.Tests;

/// <summary>
/// A deliberately minimal NMEA sentence checker for these tests (the product's parser belongs to fusion):
/// framing, checksum, and the GGA fields the error statistics need.
/// </summary>
public static class NmeaChecker
{
    public static bool ChecksumValid(string line)
    {
        if (line.Length < 4 || line[0] != '$')
        {
            return false;
        }
        var star = line.LastIndexOf('*');
        if (star < 0 || star + 3 != line.Length)
        {
            return false;
        }
        byte sum = 0;
        for (var i = 1; i < star; i++)
        {
            sum ^= (byte)line[i];
        }
        return byte.TryParse(line.AsSpan(star + 1, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var expected) && expected == sum;
    }

    public static string[] Fields(string line) => line[1..line.LastIndexOf('*')].Split(',');

    /// <summary>(quality, latitude, longitude) of a GGA sentence; latitude/longitude null without a fix.</summary>
    public static (int Quality, double? Latitude, double? Longitude, double? Altitude) Gga(string line)
    {
        var f = Fields(line);
        Assert.EndsWith("GGA", f[0]);
        var quality = int.Parse(f[6], CultureInfo.InvariantCulture);
        if (f[2].Length == 0)
        {
            return (quality, null, null, null);
        }
        return (quality, Angle(f[2], 2, f[3]), Angle(f[4], 3, f[5]), double.Parse(f[9], CultureInfo.InvariantCulture));
    }

    private static double Angle(string value, int degreeDigits, string hemisphere)
    {
        var degrees = int.Parse(value[..degreeDigits], CultureInfo.InvariantCulture);
        var minutes = double.Parse(value[degreeDigits..], CultureInfo.InvariantCulture);
        var angle = degrees + minutes / 60;
        return hemisphere is "S" or "W" ? -angle : angle;
    }
}
