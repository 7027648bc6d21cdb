using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using TreeScout.Contracts;
using TreeScout.Hosting;
using TreeScout.Messaging;
using TreeScout.Tests;

namespace TreeScout.Fusion.Tests;

/// <summary>The fusion worker's GNSS reader on a real receiver log (haicom-305N, gpsd's suite) replayed in real time from a file.</summary>
[Trait("Category", "Unit")]
public sealed class GnssReaderServiceTests
{
    private static readonly string[] Log = File.ReadAllLines(RepoPaths.SharedData("gpsd-logs", "haicom-305N.log"));

    [Fact]
    public async Task A_receiver_without_rmc_or_zda_raises_the_gnss_date_warning()
    {
        // Only the GGA sentences of fixes: time of day but no date.
        var warnings = await WarningsAfterFixesAsync(Log.Where(l => l.StartsWith("$GPGGA", StringComparison.Ordinal) && l.Split(',')[6] != "0").Take(4));

        Assert.Contains(warnings, w => w.Contains("no RMC/ZDA", StringComparison.Ordinal) && w.Contains("host clock", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_receiver_that_sends_its_date_raises_no_gnss_date_warning()
    {
        var firstFix = Array.FindIndex(Log, l => l.StartsWith("$GPGGA", StringComparison.Ordinal) && l.Split(',')[6] != "0");
        var warnings = await WarningsAfterFixesAsync(Log.Skip(firstFix).Where(l => l.StartsWith("$GPGGA", StringComparison.Ordinal) || l.StartsWith("$GPRMC", StringComparison.Ordinal)).Take(8));

        Assert.DoesNotContain(warnings, w => w.Contains("RMC/ZDA", StringComparison.Ordinal));
    }

    /// <summary>Runs the Fusion module with the lines as its receiver (Gnss:Source File) until a fix was read; returns the worker's warnings.</summary>
    private static async Task<IReadOnlyList<string>> WarningsAfterFixesAsync(IEnumerable<string> lines)
    {
        var file = Path.Combine(Path.GetTempPath(), $"treescout-gnss-{Guid.NewGuid():N}.nmea");
        await File.WriteAllLinesAsync(file, lines);
        try
        {
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Gnss:Source"] = "File",
                ["Gnss:File"] = file,
            }).Build();
            await using var workers = await EmbeddedWorkers.StartAsync([new FusionWorkerModule()], configuration, NullLoggerFactory.Instance, CancellationToken.None);
            var services = workers.Services[WorkerRole.Fusion];
            var status = services.GetRequiredService<WorkerGnssStatus>();
            var deadline = DateTime.UtcNow.AddSeconds(30);
            // The reader sets the latest quality once it has dealt with a fix (warnings included).
            while (status.Latest is null && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
            Assert.NotNull(status.Latest);
            return services.GetRequiredService<WorkerWarnings>().Snapshot();
        }
        finally
        {
            File.Delete(file);
        }
    }
}
