namespace TreeScout.Fusion.Tests;

/// <summary>A decoded position to compare against gpsd's: UTC time (null when no date was known), position, 2D/3D mode.</summary>
public sealed record ComparableFix(DateTimeOffset? Time, double Latitude, double Longitude, int Mode);

/// <summary>
/// How many of gpsd's fixes a decoder reproduced: same UTC time, latitude and longitude within 1e-7°, same mode.
/// </summary>
public sealed record FixAgreement(int Expected, int Matched)
{
    public const double Tolerance = 1e-7;

    /// <summary>
    /// gpsd moves dates before 2017 forward by 1024 GPS weeks when it believes the receiver suffers the week-rollover bug;
    /// for the old captures in the suite that is gpsd's guess, not the receiver's data, so that exact shift counts as the same time.
    /// </summary>
    public static readonly TimeSpan GpsWeekRollover = TimeSpan.FromDays(7 * 1024);

    public double Ratio => Expected == 0 ? 1 : (double)Matched / Expected;

    /// <summary>Per gpsd report: each distinct TPV must be reproduced.</summary>
    public static FixAgreement Of(IReadOnlyList<GpsdTpv> expected, IReadOnlyList<ComparableFix> actual) =>
        OfEpochs(expected.Select(e => (IReadOnlyList<GpsdTpv>)[e]).ToList(), actual);

    /// <summary>Per epoch: reproduced when our fix for that epoch agrees with one of gpsd's reports of it.</summary>
    public static FixAgreement OfEpochs(IReadOnlyList<IReadOnlyList<GpsdTpv>> expected, IReadOnlyList<ComparableFix> actual)
    {
        var byTime = actual.ToLookup(f => Millis(f.Time));
        return new FixAgreement(expected.Count, expected.Count(epoch => epoch.Any(e => Reproduces(e, byTime, actual))));
    }

    private static bool Reproduces(GpsdTpv e, ILookup<long?, ComparableFix> byTime, IReadOnlyList<ComparableFix> actual) =>
        // gpsd reports a fix without time until a date arrives; any of our fixes with that position and mode reproduces it.
        (e.Time is null ? actual : byTime[Millis(e.Time)].Concat(byTime[Millis(e.Time - GpsWeekRollover)])).Any(a =>
            Math.Abs(a.Latitude - e.Latitude!.Value) <= Tolerance
            && Math.Abs(a.Longitude - e.Longitude!.Value) <= Tolerance
            && a.Mode == e.Mode);

    private static long? Millis(DateTimeOffset? time) => time?.UtcTicks / TimeSpan.TicksPerMillisecond;
}
