using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using TreeScout.Hosting;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Store;
using TreeScout.Messaging;
using Xunit.Abstractions;
using TreeScout.Tests;

namespace TreeScout.MapWriter.Tests;

/// <summary>The low-disk warning, what counts as "disk full", and the WAL copied into store.gpkg during a run.</summary>
[Trait("Category", "Unit")]
public sealed class StoreDiskSpaceTests(ITestOutputHelper output)
{
    private ILoggerFactory Logs() => LoggerFactory.Create(b => b.AddProvider(new TestOutputLoggerProvider(output)));

    private static StoreDiskSpace Disk(MapWriterOptions options, WorkerWarnings warnings, ILoggerFactory logs)
    {
        var wrapped = MapWriterTestData.Wrap(options);
        return new StoreDiskSpace(new StoreRootRunFolders(wrapped), wrapped, warnings, new WorkerCounters(), TimeProvider.System, logs.CreateLogger<StoreDiskSpace>());
    }

    [Fact]
    public void The_low_disk_warning_is_raised_below_the_threshold_and_cleared_when_free_space_is_above_it_again()
    {
        using var dir = new TempDir();
        using var logs = Logs();
        var free = StoreDiskSpace.MiB(StoreDiskSpace.FreeBytes(dir.Path));
        var options = MapWriterTestData.Options(dir.Path);
        var warnings = new WorkerWarnings();
        using var disk = Disk(options, warnings, logs);

        // The threshold above what this disk has free: the disk is "low".
        options.LowDiskWarningMiB = free + 1024;
        disk.CheckLowSpace(dir.Path);
        var warning = warnings.Find(StoreDiskSpace.LowDiskWarning);
        Assert.NotNull(warning);
        Assert.Matches($@"^low disk at {dir.Path}: \d+ MiB free \(warning below {free + 1024} MiB, MapWriter:LowDiskWarningMiB\); free space before the store fills it$", warning);
        Assert.Equal(warning, Assert.Single(warnings.Snapshot()));
        Assert.Equal(warning, disk.Condition);

        // Free space back above the threshold (here: the threshold below what is free): cleared.
        options.LowDiskWarningMiB = 1;
        disk.CheckLowSpace(dir.Path);
        Assert.Null(warnings.Find(StoreDiskSpace.LowDiskWarning));
        Assert.Empty(warnings.Snapshot());

        // 0 turns the warning off.
        options.LowDiskWarningMiB = 0;
        disk.CheckLowSpace(dir.Path);
        Assert.Empty(warnings.Snapshot());
    }

    [Fact]
    public void Free_space_of_a_store_root_that_does_not_exist_yet_is_that_of_the_folder_it_will_be_made_in()
    {
        using var dir = new TempDir();
        var free = StoreDiskSpace.FreeBytes(Path.Combine(dir.Path, "runs", "20260421-090000-block-0001"));
        Assert.InRange(free, 1, long.MaxValue);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "runs")));
    }

    [Fact]
    public void A_write_counts_as_disk_full_for_sqlite_full_enospc_and_edquot_and_for_io_errors_without_errno_only_on_a_low_disk()
    {
        using var dir = new TempDir();
        using var logs = Logs();
        var options = MapWriterTestData.Options(dir.Path);
        using var disk = Disk(options, new WorkerWarnings(), logs);
        var store = dir["store.gpkg"];

        options.LowDiskWarningMiB = 0;
        Assert.True(disk.IsDiskFull(new SqliteException("SQLite Error 13: 'database or disk is full'.", 13), store));
        Assert.True(disk.IsDiskFull(new RunStoreException($"{store}: cannot open run store", new SqliteException("SQLite Error 13: 'database or disk is full'.", 13)), store));
        Assert.True(disk.IsDiskFull(new IOException("No space left on device", 28), store));
        Assert.True(disk.IsDiskFull(new IOException("Disk quota exceeded", 122), store));
        Assert.False(disk.IsDiskFull(new IOException("Failed to create 'run.json' with allocation size '900' because the disk was full."), store));
        Assert.False(disk.IsDiskFull(new SqliteException("SQLite Error 10: 'disk I/O error'.", 10), store));
        Assert.False(disk.IsDiskFull(new SqliteException("SQLite Error 19: 'UNIQUE constraint failed'.", 19), store));
        Assert.False(disk.IsDiskFull(new MalformedMessageException("latitude 123.4 out of range"), store));

        // Below the low-disk threshold an I/O error without an errno (a failed preallocation, OpenCV) is taken for a full disk.
        options.LowDiskWarningMiB = StoreDiskSpace.MiB(StoreDiskSpace.FreeBytes(dir.Path)) + 1024;
        Assert.True(disk.IsDiskFull(new IOException("Failed to create 'run.json' with allocation size '900' because the disk was full."), store));
        Assert.True(disk.IsDiskFull(new SqliteException("SQLite Error 10: 'disk I/O error'.", 10), store));
        Assert.False(disk.IsDiskFull(new FileNotFoundException("gone", store), store));
        Assert.False(disk.IsDiskFull(new IOException("Read-only file system", 30), store));
    }

    [Fact]
    public async Task While_a_run_is_written_its_observations_reach_store_gpkg_itself_so_a_copy_of_it_alone_after_a_crash_holds_them()
    {
        using var dir = new TempDir();
        using var logs = Logs();
        var run = new SyntheticRun("20260421-090000-walcopy-0001", rows: 3, treesPerRow: 10);
        await using var harness = new MapWriterHandlerTests.Harness(dir.Path, logs, TimeSpan.Zero);
        await harness.Worker.StartAsync(CancellationToken.None);
        await harness.RunAsync([run.Started, .. run.Batches]);

        // The writer is still open (no RunFused): what a power cut leaves. Copy only store.gpkg, as a user would.
        var store = Path.Combine(dir.Path, run.RunId, RunFolder.StoreFileName);
        Assert.True(File.Exists(store + "-wal"));
        var copy = dir["copy.gpkg"];
        File.Copy(store, copy);
        using var copied = RunStore.OpenReadOnly(copy);
        Assert.Equal(run.Observations.Count, copied.CountObservations());
        Assert.Equal(run.ExpectedClusters.Values.Sum(), copied.ReadTrees().Sum(t => t.ClustersTotal));
    }
}
