using System.Text;
using System.Text.Json;
using TreeScout.Fusion.Gnss;

namespace TreeScout.Fusion.Nmea;

/// <summary>
/// Decodes a whole NMEA file and prints its fixes as `treescout gnss parse` does: one JSON object per fix
/// (time ISO-8601 UTC, lat, lon, mode, quality, speed m/s, track deg).
/// </summary>
public static class NmeaFixJson
{
    /// <summary>The dated fixes of <paramref name="path"/> and the decoder's counts. Fixes whose date never became known are counted in <c>undated</c>.</summary>
    public static (IReadOnlyList<ReceiverFix> Fixes, NmeaStatistics Statistics, int Undated) DecodeFile(string path)
    {
        var (fixes, statistics) = NmeaDecoder.DecodeFile(path);
        var dated = fixes.Where(f => f.TimeUtc is not null).ToList();
        return (dated, statistics, fixes.Count - dated.Count);
    }

    /// <summary>One line of JSON for a dated fix; speed and track are null when the receiver did not send them.</summary>
    public static string Line(ReceiverFix fix)
    {
        var time = fix.TimeUtc ?? throw new ArgumentException("the fix has no date", nameof(fix));
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("time", time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture));
            json.WriteNumber("lat", Math.Round(fix.Latitude, 9));
            json.WriteNumber("lon", Math.Round(fix.Longitude, 9));
            json.WriteNumber("mode", fix.Mode);
            json.WriteString("quality", GnssFixes.Label(fix.Quality));
            WriteOptional(json, "speed", fix.SpeedMps, 3);
            WriteOptional(json, "track", fix.CourseDeg, 2);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteOptional(Utf8JsonWriter json, string name, double? value, int digits)
    {
        if (value is { } v)
        {
            json.WriteNumber(name, Math.Round(v, digits));
        }
        else
        {
            json.WriteNull(name);
        }
    }
}
