using TreeScout.Contracts;
using TreeScout.RunControl;

namespace TreeScout.WebConsole.Tests;

/// <summary>What the cab screen warns about GNSS, from the workers' heartbeats: fusion's word, not the age of the fix the console heard.</summary>
[Trait("Category", "Unit")]
public sealed class OperatorWarningsTests
{
    private static readonly DateTimeOffset Now = new(2026, 4, 12, 7, 30, 0, TimeSpan.Zero);
    private static readonly LiveDisk Disk = new(50_000, false);

    [Fact]
    public void A_replayed_run_whose_fixes_all_came_at_its_start_warns_of_nothing_about_GNSS()
    {
        // Fusion published the recording's fixes (RTK fixed) a minute ago and holds no frame: it raises no warning.
        var report = Report(Fusion(GnssQuality.RtkFixed));

        var warnings = OperatorWarnings.From(report, Disk, 4096);

        Assert.Empty(warnings);
        Assert.False(OperatorWarnings.SayGnssLost(warnings));
    }

    [Fact]
    public void Fusion_without_fixes_is_GNSS_lost_in_the_warning_and_in_the_tile_with_fusions_words()
    {
        const string Stale = "no GNSS fix for 12 s from gpsd at 127.0.0.1:2947: frames are held until fixes return";
        var report = Report(Fusion(GnssQuality.RtkFixed, Stale));

        var warnings = OperatorWarnings.From(report, Disk, 4096);

        var warning = Assert.Single(warnings);
        Assert.Equal(("gnss", "GNSS lost", $"fusion: {Stale}"), (warning.Kind, warning.Title, warning.Detail));
        Assert.True(OperatorWarnings.SayGnssLost(warnings));
    }

    [Fact]
    public void A_degraded_fix_is_a_GNSS_problem_not_GNSS_lost()
    {
        var report = Report(Fusion(GnssQuality.Autonomous, "GNSS fix quality is GPS: tree attribution needs RTK; observations are flagged low-confidence"));

        var warnings = OperatorWarnings.From(report, Disk, 4096);

        Assert.Equal(("gnss", "GNSS problem"), (Assert.Single(warnings).Kind, warnings[0].Title));
        Assert.False(OperatorWarnings.SayGnssLost(warnings));
    }

    private static RunStatusReport Report(WorkerStatus fusion) =>
        RunStatusReport.From("amqp://tractor", Now, [Worker("capture"), Worker("detection"), fusion, Worker("mapwriter")], [], TimeSpan.FromSeconds(6));

    private static WorkerStatus Fusion(GnssQuality quality, params string[] warnings) => Worker("fusion") with { GnssQuality = quality, Warnings = warnings };

    private static WorkerStatus Worker(string worker) => FakeCapture.Status(worker, $"{worker}@tractor-1", "20260412-071500-betuwe-demo-block-0a1b", new Dictionary<string, long>()) with { AtUtc = Now.AddSeconds(-1) };
}
