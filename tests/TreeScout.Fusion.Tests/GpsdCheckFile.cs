using System.Globalization;
using System.Text.Json;

namespace TreeScout.Fusion.Tests;

/// <summary>A fix as gpsd reported it: one TPV object of a regression log's expected output (*.chk).</summary>
public sealed record GpsdTpv(DateTimeOffset? Time, double? Latitude, double? Longitude, int Mode, int? Status)
{
    public bool IsFix => Mode >= 2 && Latitude is not null && Longitude is not null;

    /// <summary>Parses a gpsd JSON TPV line; null for other classes and non-JSON lines.</summary>
    public static GpsdTpv? TryParse(string line)
    {
        if (!line.StartsWith('{'))
        {
            return null;
        }
        using var doc = JsonDocument.Parse(line);
        var root = doc.RootElement;
        if (!root.TryGetProperty("class", out var cls) || cls.GetString() != "TPV")
        {
            return null;
        }
        return new GpsdTpv(
            root.TryGetProperty("time", out var t) ? DateTimeOffset.Parse(t.GetString()!, CultureInfo.InvariantCulture) : null,
            root.TryGetProperty("lat", out var lat) ? lat.GetDouble() : null,
            root.TryGetProperty("lon", out var lon) ? lon.GetDouble() : null,
            root.TryGetProperty("mode", out var mode) ? mode.GetInt32() : 0,
            root.TryGetProperty("status", out var status) ? status.GetInt32() : null);
    }

    /// <summary>
    /// gpsd's fixes (mode ≥ 2 with a position) in a log's .chk file. gpsd repeats the current fix after every sentence
    /// it reads (depth, wind, satellites ...); a repetition (same time, position and mode) is the same fix and counts once.
    /// </summary>
    public static IReadOnlyList<GpsdTpv> FixesIn(string chkPath) =>
        File.ReadLines(chkPath).Select(TryParse).OfType<GpsdTpv>().Where(t => t.IsFix)
            .DistinctBy(t => (t.Time, t.Latitude, t.Longitude, t.Mode)).ToList();

    /// <summary>
    /// <see cref="FixesIn"/> without the reports gpsd withdraws at once: an undated position from a sentence that flags it
    /// invalid (GGA quality 0 or empty) that gpsd's next report, once RMC says "V", turns into "no fix".
    /// </summary>
    public static IReadOnlyList<GpsdTpv> ConfirmedFixesIn(string chkPath)
    {
        var kept = new List<GpsdTpv>();
        var pending = new List<GpsdTpv>();
        foreach (var tpv in File.ReadLines(chkPath).Select(TryParse).OfType<GpsdTpv>())
        {
            if (tpv.Mode < 2)
            {
                pending.Clear();
            }
            else if (tpv.IsFix && tpv.Time is null)
            {
                pending.Add(tpv);
            }
            else if (tpv.IsFix)
            {
                kept.AddRange(pending);
                pending.Clear();
                kept.Add(tpv);
            }
        }
        kept.AddRange(pending);
        return kept.DistinctBy(t => (t.Time, t.Latitude, t.Longitude, t.Mode)).ToList();
    }

    /// <summary>
    /// gpsd's fixes grouped by epoch (UTC time). When the sentences of one epoch disagree (a relaying chart plotter),
    /// gpsd reports each in turn; any of them is gpsd's reading of that epoch. A report without time at the position of a
    /// dated one is the same fix reported before its date arrived (GGA before RMC) and joins that epoch.
    /// </summary>
    public static IReadOnlyList<IReadOnlyList<GpsdTpv>> EpochsIn(string chkPath)
    {
        var fixes = ConfirmedFixesIn(chkPath);
        var epochs = fixes.Where(f => f.Time is not null).GroupBy(f => f.Time).Select(g => g.ToList()).ToList();
        var undated = new List<List<GpsdTpv>>();
        foreach (var f in fixes.Where(f => f.Time is null))
        {
            var same = epochs.FirstOrDefault(e => e.Any(d => d.Latitude == f.Latitude && d.Longitude == f.Longitude));
            if (same is null)
            {
                undated.Add([f]);
            }
            else
            {
                same.Add(f);
            }
        }
        return [.. undated, .. epochs];
    }
}
