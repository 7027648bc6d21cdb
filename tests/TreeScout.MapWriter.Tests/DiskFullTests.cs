using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using TreeScout.Contracts;
using TreeScout.MapWriter;
using TreeScout.Messaging;
using TreeScout.Messaging.Tests.Infrastructure;
using Xunit.Abstractions;
using TreeScout.Tests;

namespace TreeScout.MapWriter.Tests;

/// <summary>
/// The map writer on a filesystem that really runs full (a small tmpfs): it holds the run instead of dead-lettering it,
/// says so, and after space is freed finishes it exactly as on a roomy disk.
/// </summary>
[Trait("Category", "Disruptive")]
public sealed class DiskFullTests(ITestOutputHelper output)
{
    private const long MiB = 1024 * 1024;

    [TmpfsTheory]
    [InlineData(0L)] // nothing free: not even the store can be created
    [InlineData(512 * 1024L)] // the store starts and runs full in the middle of the run
    public async Task A_full_disk_holds_the_run_and_once_space_is_freed_it_finishes_exactly_as_on_a_roomy_disk(long leftFree)
    {
        using var logs = new CapturingLoggerProvider(output);
        using var factory = logs.CreateFactory();
        var run = new SyntheticRun("20260421-090000-diskfull-0001", rows: 3, treesPerRow: 10);
        IMessage[] all = [run.Started, .. run.Batches, run.Fused];

        using var roomyDir = new TempDir();
        await using (var roomy = new MapWriterHandlerTests.Harness(roomyDir.Path, factory, TimeSpan.Zero))
        {
            await roomy.Worker.StartAsync(CancellationToken.None);
            await roomy.RunAsync(all);
        }
        var expected = StoredRun.Read(Path.Combine(roomyDir.Path, run.RunId, RunFolder.StoreFileName));
        Assert.Equal(run.Observations.Count, expected.ObservationIds.Count);

        using var disk = new Tmpfs(32 * MiB);
        var options = MapWriterTestData.Options(Path.Combine(disk.Path, "runs"));
        options.LowDiskWarningMiB = 4;
        options.DiskFullRetryInterval = TimeSpan.FromMilliseconds(200);
        disk.Fill(leftFree);
        await using var harness = new MapWriterHandlerTests.Harness(options.StoreRoot, factory, TimeSpan.Zero, options: options);
        await harness.Worker.StartAsync(CancellationToken.None);
        foreach (var message in all)
        {
            await harness.Feeder.PublishAsync(message);
        }

        // Full: the writer holds the delivery and says so, in its status and (once, not per attempt) in its log.
        var warning = await Eventually(() => harness.Warnings.Find(StoreDiskSpace.DiskFullWarning), TimeSpan.FromSeconds(60));
        Assert.StartsWith($"disk full writing {options.StoreRoot}/{run.RunId}/store.gpkg: 0 MiB free; waiting for space (since ", warning, StringComparison.Ordinal);
        await Task.Delay(TimeSpan.FromSeconds(3)); // about 15 attempts at 0.2 s
        Assert.Equal(1, harness.Counters[StoreDiskSpace.DiskFullWaits]);
        Assert.Single(logs.Entries, e => e.Level == LogLevel.Warning && e.Message.StartsWith("disk full writing", StringComparison.Ordinal));
        Assert.Empty(harness.Broker.DeadLetters(Topology.MapWriterObservationsQueue));
        Assert.DoesNotContain(harness.Maps, m => m.Final);
        Assert.True(harness.Counters[MapWriterHandler.ObservationsWritten] < run.Observations.Count);
        harness.Disk.CheckLowSpace(options.StoreRoot);
        Assert.StartsWith($"low disk at {options.StoreRoot}: 0 MiB free (warning below 4 MiB", harness.Warnings.Find(StoreDiskSpace.LowDiskWarning), StringComparison.Ordinal);

        // What the writer committed before the disk filled is whole messages with exact aggregates: failed transactions left nothing.
        var written = harness.Counters[MapWriterHandler.ObservationsWritten];
        if (leftFree == 0)
        {
            Assert.Equal(0, written);
        }
        else
        {
            Assert.True(written > 0, "the store should have taken some messages before the disk filled");
            var partial = StoredRun.Read(Path.Combine(options.StoreRoot, run.RunId, RunFolder.StoreFileName));
            Assert.Equal("ok", partial.IntegrityCheck);
            Assert.Equal(written, partial.ObservationIds.Count);
            foreach (var (messageId, count) in partial.ObservationsPerMessage)
            {
                Assert.Equal(run.Batches.Single(b => b.MessageId == messageId).Observations.Count, count);
            }
            Assert.Equal(partial.ConfidentObservationsPerTree, partial.Trees.Where(t => t.ClustersTotal > 0).Select(t => (t.TreeId, t.ClustersTotal)).ToList());
        }

        // Space back: the run finishes by itself, every observation once.
        disk.Free();
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120)))
        {
            await harness.Broker.WhenIdleAsync(timeout.Token);
        }
        Assert.Null(harness.Warnings.Find(StoreDiskSpace.DiskFullWarning));
        harness.Disk.CheckLowSpace(options.StoreRoot);
        Assert.Null(harness.Warnings.Find(StoreDiskSpace.LowDiskWarning));
        Assert.Empty(harness.Broker.DeadLetters(Topology.MapWriterObservationsQueue));
        var final = Assert.Single(harness.Maps, m => m.Final);
        Assert.Equal(run.Observations.Count, final.Observations);
        Assert.Equal(run.Observations.Count, harness.Counters[MapWriterHandler.ObservationsWritten]);
        Assert.Equal(0, harness.Counters[MapWriterHandler.ObservationsDuplicate]);
        Assert.Contains(logs.Entries, e => e.Message.StartsWith("Disk space back for ", StringComparison.Ordinal));

        var actual = StoredRun.Read(Path.Combine(options.StoreRoot, run.RunId, RunFolder.StoreFileName));
        Assert.Equal("ok", actual.IntegrityCheck);
        Assert.Equal(expected.ObservationIds, actual.ObservationIds);
        Assert.Equal(expected.Trees, actual.Trees);
        Assert.True(File.Exists(Path.Combine(options.StoreRoot, run.RunId, RunFolder.ExportsFolderName, "map.gpkg")));
        Assert.False(Directory.Exists(Path.Combine(options.StoreRoot, run.RunId, RunFolder.ExportsFolderName + ".new")));
    }

    private static async Task<string> Eventually(Func<string?> probe, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (probe() is { } value)
            {
                return value;
            }
            await Task.Delay(50);
        }
        throw new TimeoutException($"nothing within {timeout.TotalSeconds} s");
    }

    /// <summary>A tree's stored values that a full disk must not change.</summary>
    private sealed record TreeCounts(string TreeId, int ClustersTotal, string PerStage, int LowConfidence, int FramesSeen, double? DensityPerM, double? RateLPerHa, string? ZoneClass);

    /// <summary>What a store holds, read with plain SQLite (not the writer's code).</summary>
    private sealed record StoredRun(
        string IntegrityCheck,
        IReadOnlyList<string> ObservationIds,
        IReadOnlyDictionary<Guid, int> ObservationsPerMessage,
        IReadOnlyList<(string TreeId, int Count)> ConfidentObservationsPerTree,
        IReadOnlyList<TreeCounts> Trees)
    {
        public static StoredRun Read(string path)
        {
            SqliteConnection.ClearAllPools();
            using var db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
            db.Open();
            var ids = Rows(db, "SELECT observation_id FROM observations ORDER BY observation_id", r => r.GetString(0));
            var perMessage = Rows(db, "SELECT message_id, count(*) FROM observations GROUP BY message_id", r => (Guid.Parse(r.GetString(0)), r.GetInt32(1))).ToDictionary();
            var perTree = Rows(db, "SELECT tree_id, count(*) FROM observations WHERE low_confidence = 0 AND tree_id IS NOT NULL GROUP BY tree_id ORDER BY tree_id", r => (r.GetString(0), r.GetInt32(1)));
            var stages = string.Join(" || ',' || ", BbchStages.Ordered.Select(BbchStages.Label));
            var trees = Rows(db, $"SELECT tree_id, clusters_total, {stages}, clusters_low_confidence, frames_seen, density_per_m, rate_l_ha, zone_class FROM trees ORDER BY tree_id", r => new TreeCounts(
                r.GetString(0), r.GetInt32(1), r.GetString(2), r.GetInt32(3), r.GetInt32(4),
                r.IsDBNull(5) ? null : r.GetDouble(5), r.IsDBNull(6) ? null : r.GetDouble(6), r.IsDBNull(7) ? null : r.GetString(7)));
            var integrity = Rows(db, "PRAGMA integrity_check", r => r.GetString(0)).Single();
            return new StoredRun(integrity, ids, perMessage, perTree, trees);
        }

        private static List<T> Rows<T>(SqliteConnection db, string sql, Func<SqliteDataReader, T> read)
        {
            using var cmd = db.CreateCommand();
            cmd.CommandText = sql;
            using var r = cmd.ExecuteReader();
            var rows = new List<T>();
            while (r.Read())
            {
                rows.Add(read(r));
            }
            return rows;
        }
    }
}
