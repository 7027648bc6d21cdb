using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using TreeScout.Fusion.Gnss;
using TreeScout.Fusion.Nmea;
using TreeScout.Hosting;
using TreeScout.Messaging;
using TreeScout.Tests;
using Xunit.Abstractions;

namespace TreeScout.Fusion.Tests;

/// <summary>
/// The live receiver transports on real connections: a TCP port on 127.0.0.1 (an RTK receiver's NMEA output) and a
/// serial line (a pseudo-terminal pair from Debian's socat, opened through System.IO.Ports). A real receiver's log
/// (haicom-305N, gpsd's suite) with damaged lines mixed in must come out as exactly the fixes the file replay decodes.
/// </summary>
public sealed class GnssSourceTests(ITestOutputHelper output)
{
    private const string Socat = "/usr/bin/socat";

    private static readonly string LogPath = RepoPaths.SharedData("gpsd-logs", "haicom-305N.log");

    /// <summary>The log's lines with a binary burst, a corrupted checksum and a line cut by a dropped byte mixed in.</summary>
    private static readonly string[] Damaged = Damage(File.ReadAllLines(LogPath, Encoding.Latin1));

    private static string[] Damage(string[] lines)
    {
        var gga = Array.FindIndex(lines, l => l.StartsWith("$GPGGA", StringComparison.Ordinal) && l.Split(',')[6] != "0");
        var units = lines[gga].IndexOf(",M,", StringComparison.Ordinal);
        var corrupted = lines[gga][..units] + ",N," + lines[gga][(units + 3)..]; // one character changed: checksum no longer matches
        var cut = lines[gga + 5][..20];
        return [.. lines.Take(gga + 3), "\u0001\u00ff\u0000\u0080binary", corrupted, cut, .. lines.Skip(gga + 3)];
    }

    /// <summary>What the decoder makes of the damaged lines read from a file: the reference for every transport.</summary>
    private static async Task<(List<ReceiverFix> Fixes, List<NmeaRejectReason> Rejected)> FromFileAsync()
    {
        var path = Path.Combine(Path.GetTempPath(), $"treescout-gnss-{Guid.NewGuid():N}.nmea");
        await File.WriteAllLinesAsync(path, Damaged, Encoding.Latin1);
        try
        {
            var rejected = new List<NmeaRejectReason>();
            var fixes = new List<ReceiverFix>();
            await foreach (var fix in new FileNmeaSource(path, realTime: false, TimeProvider.System).ReadAsync(rejected.Add, CancellationToken.None))
            {
                fixes.Add(fix);
            }
            return (fixes, rejected);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Trait("Category", "Unit")]
    [Fact]
    public async Task A_tcp_nmea_port_delivers_the_fixes_of_its_stream_however_it_is_segmented()
    {
        var (expected, expectedRejected) = await FromFileAsync();
        Assert.True(expected.Count > 50, $"{expected.Count} fixes in the reference");
        Assert.Contains(NmeaRejectReason.Binary, expectedRejected);
        Assert.Contains(NmeaRejectReason.Checksum, expectedRejected);

        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var serving = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync();
            await using var stream = client.GetStream();
            // Segments of 1 to 200 bytes: sentences arrive split across reads, as from a receiver's serial-to-TCP bridge.
            var bytes = Encoding.Latin1.GetBytes(string.Join("\r\n", Damaged) + "\r\n");
            var random = new Random(3);
            for (var offset = 0; offset < bytes.Length;)
            {
                var n = Math.Min(random.Next(1, 200), bytes.Length - offset);
                await stream.WriteAsync(bytes.AsMemory(offset, n));
                await stream.FlushAsync();
                offset += n;
            }
        });

        var rejected = new List<NmeaRejectReason>();
        var fixes = new List<ReceiverFix>();
        var source = new TcpNmeaSource("127.0.0.1", port, TimeProvider.System);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await foreach (var fix in source.ReadAsync(rejected.Add, timeout.Token))
        {
            fixes.Add(fix);
        }
        await serving;

        output.WriteLine($"{source.Description}: {fixes.Count} fixes, rejected {string.Join(", ", rejected.GroupBy(r => r).Select(g => $"{g.Key} {g.Count()}"))}");
        AssertSameFixes(expected, fixes);
        Assert.Equal(expectedRejected, rejected);
        Assert.All(fixes, f => Assert.NotNull(f.ReceivedAtUtc));
    }

    [Trait("Category", "Integration")]
    [Fact]
    public async Task A_serial_port_delivers_the_fixes_its_receiver_sends()
    {
        if (!DebianTool.IsInstalled(Socat, "socat", output))
        {
            return;
        }
        var (expected, expectedRejected) = await FromFileAsync();
        var directory = Directory.CreateTempSubdirectory("treescout-serial-").FullName;
        var (receiver, computer) = (Path.Combine(directory, "receiver"), Path.Combine(directory, "ttyGNSS"));
        using var socat = Process.Start(new ProcessStartInfo(Socat)
        {
            // A null-modem pair of pseudo-terminals: what the receiver writes to one end, the port reads from the other.
            ArgumentList = { "-d", "-d", $"pty,raw,echo=0,link={receiver}", $"pty,raw,echo=0,link={computer}" },
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (!(File.Exists(receiver) && File.Exists(computer)) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
            Assert.True(File.Exists(computer), "socat did not create the pseudo-terminal pair");
            var options = new GnssOptions { Source = GnssSourceKind.Serial, SerialPort = computer, BaudRate = 38400 };
            var source = new SerialNmeaSource(options, TimeProvider.System);
            Assert.Equal($"serial {computer} 38400 8N1", source.Description);

            var rejected = new List<NmeaRejectReason>();
            var fixes = new List<ReceiverFix>();
            using var reading = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var read = Task.Run(async () =>
            {
                await foreach (var fix in source.ReadAsync(rejected.Add, reading.Token))
                {
                    lock (fixes)
                    {
                        fixes.Add(fix);
                    }
                }
            });
            // The port must be open before the receiver talks (a pty drops what nobody has open); the bytes then go
            // through in 64-byte writes with short pauses, as a receiver at 38400 baud sends its epochs.
            await Task.Delay(1000);
            await using (var line = new FileStream(receiver, FileMode.Open, FileAccess.Write))
            {
                var bytes = Encoding.Latin1.GetBytes(string.Join("\r\n", Damaged) + "\r\n");
                for (var offset = 0; offset < bytes.Length; offset += 64)
                {
                    await line.WriteAsync(bytes.AsMemory(offset, Math.Min(64, bytes.Length - offset)));
                    await line.FlushAsync();
                    await Task.Delay(1);
                }
            }
            // A serial line has no end: the reader is stopped once nothing new has come for a second.
            for (var count = -1; count != Count(fixes) && !reading.IsCancellationRequested;)
            {
                count = Count(fixes);
                await Task.Delay(1000);
            }
            await reading.CancelAsync();
            try
            {
                await read;
            }
            catch (OperationCanceledException)
            {
                // stopped as above (or by the timeout: the assertions tell)
            }

            output.WriteLine($"{source.Description}: {fixes.Count} fixes, rejected {string.Join(", ", rejected.GroupBy(r => r).Select(g => $"{g.Key} {g.Count()}"))}");
            // The log's last epoch is complete only when the stream ends (a file, a closed socket); a serial line does not end.
            AssertSameFixes(expected.Take(fixes.Count).ToList(), fixes);
            Assert.True(fixes.Count >= expected.Count - 1, $"{fixes.Count} of {expected.Count} fixes read from the serial line");
            Assert.Equal(expectedRejected, rejected);
        }
        finally
        {
            if (!socat.HasExited)
            {
                socat.Kill();
            }
            await socat.WaitForExitAsync();
            Directory.Delete(directory, recursive: true);
        }
    }

    // The receiver's TCP port drops the connection mid-stream (a receiver reboot): the fusion worker's reader connects
    // again and reads on, and the damaged lines of both connections are counted, by reason, in the worker's counters.
    [Trait("Category", "Unit")]
    [Fact]
    public async Task The_reader_reconnects_when_the_receiver_drops_the_connection()
    {
        var half = Damaged.Length / 2;
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var connections = 0;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var serving = Task.Run(async () =>
        {
            foreach (var part in new[] { Damaged[..half], Damaged[half..] })
            {
                using var client = await listener.AcceptTcpClientAsync(stop.Token);
                Interlocked.Increment(ref connections);
                await using var stream = client.GetStream();
                await stream.WriteAsync(Encoding.Latin1.GetBytes(string.Join("\r\n", part) + "\r\n"), stop.Token);
            }
        });
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Gnss:Source"] = "Tcp",
            ["Gnss:Host"] = "127.0.0.1",
            ["Gnss:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        }).Build();
        await using var workers = await EmbeddedWorkers.StartAsync([new FusionWorkerModule()], configuration, NullLoggerFactory.Instance, CancellationToken.None);
        var counters = workers.Services[WorkerRole.Fusion].GetRequiredService<WorkerCounters>();
        var (_, expectedRejected) = await FromFileAsync();
        while (counters.Snapshot().Where(c => c.Key.StartsWith("nmea_rejected_", StringComparison.Ordinal)).Sum(c => c.Value) < expectedRejected.Count && !stop.IsCancellationRequested)
        {
            await Task.Delay(100);
        }
        await serving;

        Assert.Equal(2, connections);
        var snapshot = counters.Snapshot();
        foreach (var reason in expectedRejected.GroupBy(r => r))
        {
            Assert.Equal(reason.Count(), snapshot.GetValueOrDefault($"nmea_rejected_{NmeaRejectReasons.Label(reason.Key)}"));
        }
        Assert.Equal(expectedRejected.Count(NmeaRejectReasons.IsMalformed), snapshot.GetValueOrDefault("nmea_malformed"));
    }

    private static int Count(List<ReceiverFix> fixes)
    {
        lock (fixes)
        {
            return fixes.Count;
        }
    }

    /// <summary>Same fixes in the same order: time, position (exactly: the same text decoded), mode and quality.</summary>
    private static void AssertSameFixes(List<ReceiverFix> expected, List<ReceiverFix> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            var (e, a) = (expected[i], actual[i]);
            Assert.True(e.TimeUtc?.TimeOfDay == a.TimeUtc?.TimeOfDay && e.Latitude == a.Latitude && e.Longitude == a.Longitude && e.Mode == a.Mode && e.Quality == a.Quality,
                $"fix {i}: expected {e.TimeUtc:HH:mm:ss.fff} {e.Latitude:F7} {e.Longitude:F7} mode {e.Mode} {e.Quality}, read {a.TimeUtc:HH:mm:ss.fff} {a.Latitude:F7} {a.Longitude:F7} mode {a.Mode} {a.Quality}");
        }
    }
}
