using System.CommandLine;
using System.Globalization;
using TreeScout.Fusion.Gnss;
using TreeScout.Fusion.Nmea;

namespace TreeScout.Cli.Commands;

/// <summary>`treescout gnss parse FILE [--json]`: what fusion's NMEA decoder makes of a receiver log.</summary>
public static class GnssCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "NMEA 0183 log (a receiver capture, a recording's gnss.nmea)" };
        var json = new Option<bool>("--json") { Description = "One JSON object per fix (time, lat, lon, mode, quality, speed, track) instead of a table" };
        var parse = new Command("parse", "Decode an NMEA log: each fix on stdout; lines read, decoded and rejected by reason on stderr.") { file, json };
        parse.SetAction(result =>
        {
            var path = Path.GetFullPath(result.GetValue(file)!);
            if (!File.Exists(path))
            {
                throw new CliException($"{path} not found", Cli.UsageError);
            }
            (IReadOnlyList<ReceiverFix> Fixes, NmeaStatistics Statistics, int Undated) decoded;
            try
            {
                decoded = NmeaFixJson.DecodeFile(path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new CliException($"cannot read {path}: {ex.Message}");
            }
            var asJson = result.GetValue(json);
            foreach (var fix in decoded.Fixes)
            {
                Console.WriteLine(asJson ? NmeaFixJson.Line(fix) : Row(fix));
            }
            Console.Error.WriteLine($"{Path.GetFileName(path)}: {decoded.Statistics.Summary()}"
                + (decoded.Undated > 0 ? $"; {decoded.Undated} fixes not printed: no date (no RMC/ZDA before them)" : ""));
            return 0;
        });
        return new Command("gnss", "GNSS receiver tools") { parse };
    }

    private static string Row(ReceiverFix fix) => string.Create(CultureInfo.InvariantCulture,
        $"{fix.TimeUtc:yyyy-MM-dd'T'HH:mm:ss.fff'Z'}  {fix.Latitude,13:F8} {fix.Longitude,13:F8}  {fix.Mode}D  {GnssFixes.Label(fix.Quality),-10} {fix.SpeedMps,7:F2} m/s {fix.CourseDeg,7:F2}°  {fix.Talker}");
}
