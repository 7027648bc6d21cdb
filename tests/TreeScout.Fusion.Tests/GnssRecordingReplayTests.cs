using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TreeScout.Contracts;
using TreeScout.Fusion.Gnss;
using TreeScout.Hosting;
using TreeScout.Messaging;
using TreeScout.Orchard;
using TreeScout.Tests;

namespace TreeScout.Fusion.Tests;

/// <summary>Gnss:Source Recording: the fusion worker publishes a recording's fixes into each run it starts, as `treescout scan` does.</summary>
[Trait("Category", "Unit")]
public sealed class GnssRecordingReplayTests
{
    private static readonly Recording Sample = new(Path.Combine(RepoPaths.Samples, "betuwe-rtk-2x12"));

    [Fact]
    public async Task Each_run_fusion_starts_gets_the_scans_fixes_of_the_recording_on_the_recordings_clock()
    {
        await using var workers = await EmbeddedWorkers.StartAsync(
            [new FusionWorkerModule()], Settings(new() { ["Gnss:Source"] = "Recording", ["Gnss:Recording"] = Sample.Directory }), NullLoggerFactory.Instance, CancellationToken.None);
        await using var operatorBus = workers.Connect("test", NullLoggerFactory.Instance);
        await operatorBus.StartAsync(CancellationToken.None);
        var published = new ConcurrentQueue<GnssFix>();
        await using var gnss = await operatorBus.ListenAsync(Topology.GnssExchange, "#", envelope =>
        {
            published.Enqueue((GnssFix)MessageCodec.Decode(envelope));
            return Task.CompletedTask;
        }, CancellationToken.None);

        var now = DateTimeOffset.UtcNow;
        var first = Started(RunIds.New("sample", now), now);
        var second = Started(RunIds.New("sample", now.AddMinutes(5)), now.AddMinutes(5));
        await operatorBus.PublishAsync(first);
        await operatorBus.PublishAsync(second);

        var expectedFirst = NmeaReplay.Read(Sample, first.RunId).Fixes;
        var expectedSecond = NmeaReplay.Read(Sample, second.RunId).Fixes;
        Assert.Equal(434, expectedFirst.Count);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (published.Count < expectedFirst.Count + expectedSecond.Count && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
        await Task.Delay(200); // nothing more may come

        Assert.Equal(expectedFirst, published.Where(f => f.RunId == first.RunId));
        Assert.Equal(expectedSecond, published.Where(f => f.RunId == second.RunId));
        Assert.Equal(expectedFirst.Count + expectedSecond.Count, published.Count);
        // The recording's clock: received by the host (gnss-times.csv) within a second of the fix, months before today.
        Assert.All(published, f => Assert.InRange((f.ReceivedAtUtc - f.TimeUtc).TotalSeconds, -1, 1));
        Assert.Equal(new DateTimeOffset(2026, 4, 21, 9, 29, 59, TimeSpan.Zero), Truncate(published.Min(f => f.ReceivedAtUtc)));
    }

    [Fact]
    public async Task A_recording_folder_without_gnss_nmea_stops_the_worker_at_start_with_one_line_naming_it()
    {
        var empty = Directory.CreateTempSubdirectory("treescout-no-recording-").FullName;
        try
        {
            var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => EmbeddedWorkers.StartAsync(
                [new FusionWorkerModule()], Settings(new() { ["Gnss:Source"] = "Recording", ["Gnss:Recording"] = empty }), NullLoggerFactory.Instance, CancellationToken.None));

            Assert.Contains($"Gnss:Recording '{empty}' is not a recording folder with gnss.nmea (Gnss:Source is Recording; docs/recording-format.md)", Assert.Single(ex.Failures), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(empty);
        }
    }

    private static IConfiguration Settings(Dictionary<string, string?> values) => new ConfigurationBuilder().AddInMemoryCollection(values).Build();

    private static RunStarted Started(string runId, DateTimeOffset now) => new()
    {
        MessageId = MessageIds.For(runId, "run-started", 0),
        RunId = runId,
        StartedAtUtc = now,
        Block = "sample",
        BlockPlanGeoJson = File.ReadAllText(Sample.PathOf(Recording.BlockFile)),
        Cameras = Sample.ReadCameras().Cameras,
        Source = "live",
    };

    private static DateTimeOffset Truncate(DateTimeOffset time) => new(time.Ticks - time.Ticks % TimeSpan.TicksPerSecond, time.Offset);
}
