using System.Globalization;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using TreeScout.Contracts;
using TreeScout.Fusion.Nmea;

namespace TreeScout.Fusion.Gnss;

/// <summary>
/// gpsd over its JSON protocol (https://gpsd.io/gpsd_json.html): sends ?WATCH={"enable":true,"json":true} and turns TPV
/// reports into fixes, with the 1-sigma error from the GST report of the same epoch when gpsd has one.
/// </summary>
public sealed class GpsdJsonSource(string host, int port, TimeProvider clock) : IGnssSource
{
    public const string Watch = "?WATCH={\"enable\":true,\"json\":true}\n";

    /// <summary>gpsd's SKY reports list every satellite and run to several kilobytes, far past an NMEA line.</summary>
    public const int MaxReportLength = 64 * 1024;

    public string Description => $"gpsd {host}:{port}";

    public async IAsyncEnumerable<ReceiverFix> ReadAsync(Action<NmeaRejectReason> onRejected, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(host, port, cancellationToken);
        await using var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(Watch), cancellationToken);
        var reports = new GpsdReports();
        await foreach (var line in NmeaLineReader.ReadLinesAsync(stream, cancellationToken, MaxReportLength))
        {
            var fix = reports.Read(line, clock.GetUtcNow(), out var rejected);
            if (rejected)
            {
                onRejected(NmeaRejectReason.BadField);
            }
            if (fix is not null)
            {
                yield return fix;
            }
        }
    }
}

/// <summary>Decodes gpsd's JSON report lines; keeps the latest GST to attach its error estimate to the TPV of the same time.</summary>
public sealed class GpsdReports
{
    private (DateTimeOffset Time, double SigmaM)? _gst;

    /// <summary>A fix for a TPV line with mode ≥ 2 and a position; null for other reports. <paramref name="rejected"/> when the line is not JSON.</summary>
    public ReceiverFix? Read(string line, DateTimeOffset receivedAt, out bool rejected)
    {
        rejected = false;
        var text = line.Trim();
        if (text.Length == 0)
        {
            return null;
        }
        try
        {
            using var doc = JsonDocument.Parse(text);
            var root = doc.RootElement;
            var cls = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("class", out var c) ? c.GetString() : null;
            return cls switch
            {
                "TPV" => Tpv(root, receivedAt),
                "GST" => Gst(root),
                _ => null,
            };
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
        {
            rejected = true;
            return null;
        }
    }

    private ReceiverFix? Gst(JsonElement root)
    {
        if (Time(root) is { } time && (Number(root, "major") ?? Max(Number(root, "lat"), Number(root, "lon"))) is { } sigma and > 0)
        {
            _gst = (time, sigma);
        }
        return null;
    }

    private ReceiverFix? Tpv(JsonElement root, DateTimeOffset receivedAt)
    {
        var mode = (int)(Number(root, "mode") ?? 0);
        if (mode < 2 || Number(root, "lat") is not { } lat || Number(root, "lon") is not { } lon)
        {
            return null;
        }
        var time = Time(root);
        return new ReceiverFix
        {
            TimeUtc = time,
            ReceivedAtUtc = receivedAt,
            Latitude = lat,
            Longitude = lon,
            AltitudeM = Number(root, "altMSL") ?? Number(root, "alt"),
            Mode = mode,
            Quality = QualityOf((int?)Number(root, "status")),
            SpeedMps = Number(root, "speed"),
            CourseDeg = Number(root, "track"),
            GstSigmaM = _gst is { } gst && time is { } t && (gst.Time - t).Duration() < TimeSpan.FromMilliseconds(500) ? gst.SigmaM : null,
        };
    }

    /// <summary>gpsd TPV status: 1 normal, 2 DGPS, 3 RTK fixed, 4 RTK float, 5 DR, 6 GNSS+DR, 7 time only, 8 simulated, 9 P(Y).</summary>
    private static GnssQuality QualityOf(int? status) => status switch
    {
        2 => GnssQuality.Dgps,
        3 => GnssQuality.RtkFixed,
        4 => GnssQuality.RtkFloat,
        5 or 6 => GnssQuality.DeadReckoning,
        7 => GnssQuality.Manual,
        8 => GnssQuality.Simulation,
        9 => GnssQuality.Pps,
        _ => GnssQuality.Autonomous,
    };

    private static DateTimeOffset? Time(JsonElement root) =>
        root.TryGetProperty("time", out var t) && t.ValueKind == JsonValueKind.String
            ? DateTimeOffset.Parse(t.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal)
            : null;

    private static double? Number(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    private static double? Max(double? a, double? b) => a is null ? b : b is null ? a : Math.Max(a.Value, b.Value);
}
