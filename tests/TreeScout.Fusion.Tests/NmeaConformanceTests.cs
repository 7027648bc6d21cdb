using System.Globalization;
using System.Text;
using TreeScout.Fusion.Nmea;
using TreeScout.Tests;
using Xunit.Abstractions;

namespace TreeScout.Fusion.Tests;

/// <summary>
/// Replays every real receiver capture of gpsd's regression suite (../shared/data/gpsd-logs) through the NMEA decoder
/// and compares the fixes with what gpsd decoded from the same bytes (*.chk, TPV objects with mode ≥ 2 and a position).
/// Two measures: per distinct gpsd report (gpsd re-reports after every sentence, so mid-epoch partial states count too),
/// and per fix = epoch (our fix for an epoch agrees with one of gpsd's reports of it; see <see cref="GpsdTpv.EpochsIn"/>).
/// </summary>
[Trait("Category", "Unit")]
public sealed class NmeaConformanceTests(ITestOutputHelper output)
{
    public static string LogDirectory => RepoPaths.SharedData("gpsd-logs");

    /// <summary>A log's lines as the bytes arrived (Latin-1 keeps binary bytes visible to the decoder).</summary>
    public static IEnumerable<string> LinesOf(string path) => Encoding.Latin1.GetString(File.ReadAllBytes(path)).Split('\n');

    public static ComparableFix Comparable(ReceiverFix f) => new(f.TimeUtc, f.Latitude, f.Longitude, f.Mode);

    [Fact]
    public void Every_gpsd_log_decodes_without_exception_and_reproduces_at_least_99_percent_of_gpsds_fixes()
    {
        var logs = Directory.GetFiles(LogDirectory, "*.log").Order(StringComparer.Ordinal).ToList();
        Assert.True(logs.Count >= 50, $"expected the gpsd regression logs in {LogDirectory}, found {logs.Count}");
        var table = new StringBuilder();
        table.AppendLine("| log | lines | decoded | rejected | fixes | gpsd fixes | reproduced | agreement | gpsd epochs | reproduced | agreement |");
        table.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        int expected = 0, matched = 0, expectedEpochs = 0, matchedEpochs = 0;
        var failures = new List<string>();
        foreach (var log in logs)
        {
            var decoder = new NmeaDecoder();
            var fixes = new List<ReceiverFix>();
            try
            {
                foreach (var line in LinesOf(log))
                {
                    decoder.Add(line, null, fixes);
                }
                decoder.Flush(fixes);
            }
            catch (Exception ex)
            {
                failures.Add($"{Path.GetFileName(log)}: {ex.GetType().Name}: {ex.Message}");
                continue;
            }
            var mine = fixes.Select(Comparable).ToList();
            var agreement = FixAgreement.Of(GpsdTpv.FixesIn(log + ".chk"), mine);
            var epochs = FixAgreement.OfEpochs(GpsdTpv.EpochsIn(log + ".chk"), mine);
            expected += agreement.Expected;
            matched += agreement.Matched;
            expectedEpochs += epochs.Expected;
            matchedEpochs += epochs.Matched;
            var s = decoder.Statistics;
            table.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {Path.GetFileName(log)} | {s.LinesRead} | {s.SentencesDecoded} | {s.RejectedTotal} | {s.Fixes} | {agreement.Expected} | {agreement.Matched} | {agreement.Ratio:P1} | {epochs.Expected} | {epochs.Matched} | {epochs.Ratio:P1} |"));
        }
        var overall = expected == 0 ? 0 : (double)matched / expected;
        var overallEpochs = expectedEpochs == 0 ? 0 : (double)matchedEpochs / expectedEpochs;
        table.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| **all {logs.Count} logs** | | | | | {expected} | {matched} | **{overall:P2}** | {expectedEpochs} | {matchedEpochs} | **{overallEpochs:P2}** |"));
        output.WriteLine(table.ToString());
        Assert.Empty(failures);
        Assert.True(overallEpochs >= 0.99, $"reproduced {matchedEpochs} of {expectedEpochs} gpsd fixes ({overallEpochs:P2}); need ≥ 99 %");
        // Per distinct gpsd report (partial reports mid-epoch included) the agreement is lower by construction; it must not regress.
        Assert.True(overall >= 0.94, $"reproduced {matched} of {expected} distinct gpsd reports ({overall:P2})");
    }
}
