using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using TreeScout.Fusion.Gnss;
using TreeScout.Fusion.Nmea;
using Xunit.Abstractions;

namespace TreeScout.Fusion.Tests;

/// <summary>
/// A real gpsd (Debian's gpsfake, which runs gpsd on a pseudo-terminal fed from a log) on 127.0.0.1, read through
/// <see cref="GpsdJsonSource"/> over gpsd's JSON protocol; the fixes must be the ones in the log's .chk.
/// </summary>
public sealed class GpsdIntegrationTests(ITestOutputHelper output)
{
    private const string GpsFake = "/usr/bin/gpsfake";

    private int _rejectedReports;

    [Fact]
    public async Task Fixes_read_from_a_real_gpsd_replaying_a_log_match_its_chk()
    {
        if (!File.Exists(GpsFake))
        {
            // In CI the packages are installed by .ci/run, so a missing gpsfake there is a failure, not a skip.
            Assert.False(Environment.GetEnvironmentVariable("CI") == "true", $"{GpsFake} not found: CI must install gpsd, gpsd-clients, python3-gps");
            output.WriteLine($"SKIPPED: {GpsFake} not installed (apt-get install gpsd gpsd-clients python3-gps)");
            return;
        }
        // A log gpsd decodes steadily when replayed live (its start-up sniffing eats the first sentences of any log).
        var log = Path.Combine(NmeaConformanceTests.LogDirectory, "haicom-305N.log");
        var expected = GpsdTpv.FixesIn(log + ".chk");
        var port = FreePort();
        using var gpsfake = Process.Start(new ProcessStartInfo("/usr/bin/python3")
        {
            // -1 once through the log, -c pace between sentences, -P gpsd's port; gpsfake waits for our client before feeding.
            ArgumentList = { GpsFake, "-1", "-q", "-c", "0.02", "-P", port.ToString(System.Globalization.CultureInfo.InvariantCulture), log },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        gpsfake.OutputDataReceived += (_, e) => { if (e.Data is not null) output.WriteLine($"gpsfake: {e.Data}"); };
        gpsfake.ErrorDataReceived += (_, e) => { if (e.Data is not null) output.WriteLine($"gpsfake: {e.Data}"); };
        gpsfake.BeginOutputReadLine();
        gpsfake.BeginErrorReadLine();
        try
        {
            var fixes = await ReadUntilQuietAsync(new GpsdJsonSource("127.0.0.1", port, TimeProvider.System), expected.Count);
            // Every fix read live must be one gpsd's regression run decoded from the same bytes (time, position within 1e-7°, mode).
            var unmatched = fixes.Where(f => FixAgreement.Of([ToTpv(f)], expected.Select(ToComparable).ToList()).Matched == 0).ToList();
            output.WriteLine($"gpsd on port {port}: {fixes.Count} fixes read, {fixes.Count - unmatched.Count} found in the .chk ({expected.Count} there)");
            Assert.True(fixes.Count >= 20, $"only {fixes.Count} fixes read from gpsd replaying {Path.GetFileName(log)}");
            Assert.True(unmatched.Count == 0, $"{unmatched.Count} fixes not in {Path.GetFileName(log)}.chk, first {unmatched.FirstOrDefault()}");
            Assert.All(fixes, f => Assert.InRange(f.Latitude, -27.22, -27.20));
            // SKY reports run to kilobytes; a reader cutting them at NMEA's line length would reject them.
            Assert.Equal(0, _rejectedReports);
            Assert.All(fixes, f => Assert.True(f.ReceivedAtUtc is not null, "a live source stamps each fix with the host receive time"));
        }
        finally
        {
            if (!gpsfake.HasExited)
            {
                gpsfake.Kill(entireProcessTree: true);
            }
            await gpsfake.WaitForExitAsync();
        }
    }

    // Live gpsd applies its GPS-week-rollover guess the other way round from the .chk's, so the roles are swapped here:
    // the live fix is the "expected" report and the .chk entries the candidates (FixAgreement accepts the 1024-week shift).
    private static GpsdTpv ToTpv(ReceiverFix f) => new(f.TimeUtc, f.Latitude, f.Longitude, f.Mode, null);

    private static ComparableFix ToComparable(GpsdTpv e) => new(e.Time, e.Latitude!.Value, e.Longitude!.Value, e.Mode);

    /// <summary>Connects (retrying while gpsd starts) and reads until the expected number of fixes or 3 s without one.</summary>
    private async Task<List<ReceiverFix>> ReadUntilQuietAsync(GpsdJsonSource source, int expected)
    {
        var fixes = new List<ReceiverFix>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (fixes.Count == 0 && DateTime.UtcNow < deadline)
        {
            using var quiet = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await foreach (var fix in source.ReadAsync(_ => _rejectedReports++, quiet.Token))
                {
                    fixes.Add(fix);
                    if (fixes.Count >= expected)
                    {
                        return fixes;
                    }
                    quiet.CancelAfter(TimeSpan.FromSeconds(3));
                }
            }
            catch (SocketException)
            {
                await Task.Delay(200);
            }
            catch (OperationCanceledException)
            {
                // quiet: gpsd has sent everything it will for this log
            }
        }
        return fixes;
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
