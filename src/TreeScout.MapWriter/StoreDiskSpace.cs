using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TreeScout.Hosting;

namespace TreeScout.MapWriter;

/// <summary>A write waited for disk space longer than MapWriter:DiskFullGiveUpAfter; the message names what and how much is free.</summary>
public sealed class DiskFullException : Exception
{
    public DiskFullException(string target, long freeBytes, TimeSpan waited, Exception inner)
        : base(string.Create(CultureInfo.InvariantCulture, $"disk full writing {target} ({StoreDiskSpace.MiB(freeBytes)} MiB free after waiting {waited.TotalSeconds:0} s)"), inner)
    {
    }

    public DiskFullException()
    {
    }

    public DiskFullException(string message)
        : base(message)
    {
    }

    public DiskFullException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>
/// The run stores' disk, as a state rather than an error: warns while free space is below MapWriter:LowDiskWarningMiB
/// (checked every few seconds, cleared when space returns), and holds a write that failed for lack of space — retried
/// with back-off while the state is reported — until space returns. Holding the delivery, instead of handing it back to
/// the broker, leaves its delivery count alone, so a full disk never moves observations to the dead-letter queue.
/// </summary>
public sealed class StoreDiskSpace(
    IRunFolders folders,
    IOptions<MapWriterOptions> options,
    WorkerWarnings warnings,
    WorkerCounters counters,
    TimeProvider clock,
    ILogger<StoreDiskSpace> logger) : BackgroundService
{
    /// <summary>Times a write started waiting for disk space.</summary>
    public const string DiskFullWaits = "disk_full_waits";

    public const string LowDiskWarning = "disk-low";
    public const string DiskFullWarning = "disk-full";

    public static readonly TimeSpan LowDiskCheckInterval = TimeSpan.FromSeconds(5);

    /// <summary>How often, at most, a write still waiting for space says so in the log (the status warning is always current).</summary>
    public static readonly TimeSpan WaitingLogInterval = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(100);

    // errno values .NET puts in IOException.HResult on Linux; COR_E_IO when it has none.
    private const int Enospc = 28;
    private const int Edquot = 122;
    private const int NoErrno = unchecked((int)0x80131620);
    private const int SqliteFull = 13;
    private const int SqliteIoErr = 10;

    private readonly CancellationTokenSource _gaveUp = new();
    private volatile bool _givingUp;

    /// <summary>The first write that waited past MapWriter:DiskFullGiveUpAfter, or null.</summary>
    public DiskFullException? GaveUp { get; private set; }

    /// <summary>Cancelled when a write gives up waiting for space (`treescout scan` then stops instead of waiting for a map that cannot come).</summary>
    public CancellationToken GaveUpToken => _gaveUp.Token;

    /// <summary>What an operator should know about the disk now (waiting for space, or low), or null.</summary>
    public string? Condition => warnings.Find(DiskFullWarning) ?? warnings.Find(LowDiskWarning);

    public static long MiB(long bytes) => bytes / (1024 * 1024);

    /// <summary>Bytes an unprivileged writer may still use on the filesystem holding <paramref name="path"/> (its nearest existing folder).</summary>
    public static long FreeBytes(string path)
    {
        var folder = Path.GetFullPath(path);
        while (!Directory.Exists(folder) && Path.GetDirectoryName(folder) is { } parent)
        {
            folder = parent;
        }
        return new DriveInfo(folder).AvailableFreeSpace;
    }

    /// <summary>Raises the low-disk warning while free space at <paramref name="path"/> is below the threshold, clears it otherwise; returns the free bytes.</summary>
    public long CheckLowSpace(string path)
    {
        var free = FreeBytes(path);
        var threshold = options.Value.LowDiskWarningMiB;
        if (threshold > 0 && MiB(free) < threshold)
        {
            var message = $"low disk at {Path.GetFullPath(path)}: {MiB(free)} MiB free (warning below {threshold} MiB, MapWriter:LowDiskWarningMiB); free space before the store fills it";
            if (warnings.Raise(LowDiskWarning, message))
            {
                logger.LogWarning("{Condition}", message);
            }
        }
        else if (warnings.Find(LowDiskWarning) is not null)
        {
            warnings.Clear(LowDiskWarning);
            logger.LogInformation("Disk space back at {Path}: {Free} MiB free", Path.GetFullPath(path), MiB(free));
        }
        return free;
    }

    /// <summary>
    /// Runs <paramref name="write"/> (idempotent: a failed attempt left nothing behind, see RunStore) and, while it
    /// fails for lack of space at <paramref name="target"/>, runs it again after a pause that doubles up to
    /// MapWriter:DiskFullRetryInterval, until it succeeds, MapWriter:DiskFullGiveUpAfter has passed (then
    /// <see cref="DiskFullException"/>) or <paramref name="cancellationToken"/> fires.
    /// </summary>
    public async Task<T> WriteAsync<T>(string target, Func<Task<T>> write, CancellationToken cancellationToken)
    {
        DateTimeOffset? waitingSince = null;
        var lastLog = DateTimeOffset.MinValue;
        var delay = FirstRetryDelay;
        while (true)
        {
            try
            {
                var result = await write();
                if (waitingSince is { } since)
                {
                    Resumed(target, since);
                }
                return result;
            }
            catch (Exception ex) when (IsDiskFull(ex, target))
            {
                var now = clock.GetUtcNow();
                var free = FreeBytes(target);
                if (waitingSince is null)
                {
                    waitingSince = now;
                    counters.Add(DiskFullWaits);
                }
                var waited = now - waitingSince.Value;
                if (_givingUp || options.Value.DiskFullGiveUpAfter is { } limit && waited >= limit)
                {
                    throw GiveUp(target, free, waited, ex);
                }
                var message = string.Create(CultureInfo.InvariantCulture,
                    $"disk full writing {target}: {MiB(free)} MiB free; waiting for space (since {waitingSince.Value:HH:mm:ss} UTC)");
                if (warnings.Raise(DiskFullWarning, message) || now - lastLog >= WaitingLogInterval)
                {
                    lastLog = now;
                    logger.LogWarning("{Condition}, {Seconds:0} s so far: {Error}", message, waited.TotalSeconds, ex.GetBaseException().Message);
                }
                await Task.Delay(delay, clock, cancellationToken);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, options.Value.DiskFullRetryInterval.Ticks));
            }
        }
    }

    public Task WriteAsync(string target, Func<Task> write, CancellationToken cancellationToken) =>
        WriteAsync(target, async () =>
        {
            await write();
            return true;
        }, cancellationToken);

    /// <summary>
    /// Whether a write failed for lack of space: SQLITE_FULL, ENOSPC or EDQUOT anywhere in the chain, or an I/O error
    /// without an errno (.NET's failed preallocation, e.g. by File.WriteAllText; OpenCV's "could not write") or SQLite's
    /// generic I/O error while the disk is below the low-disk threshold.
    /// </summary>
    public bool IsDiskFull(Exception exception, string target)
    {
        var low = options.Value.LowDiskWarningMiB > 0 && MiB(FreeBytes(target)) < options.Value.LowDiskWarningMiB;
        for (var e = exception; e is not null; e = e.InnerException)
        {
            var full = e switch
            {
                SqliteException { SqliteErrorCode: SqliteFull } => true,
                SqliteException { SqliteErrorCode: SqliteIoErr } => low,
                IOException { HResult: Enospc or Edquot } => true,
                IOException { HResult: NoErrno } => low,
                _ => false,
            };
            if (full)
            {
                return true;
            }
        }
        return false;
    }

    private DiskFullException GiveUp(string target, long free, TimeSpan waited, Exception cause)
    {
        // Until a write succeeds again, later attempts fail at once: whoever gave up is stopping, not waiting again.
        _givingUp = true;
        var failure = new DiskFullException(target, free, waited, cause);
        warnings.Raise(DiskFullWarning, $"{failure.Message}; gave up (MapWriter:DiskFullGiveUpAfter)");
        if (GaveUp is null)
        {
            GaveUp = failure;
            logger.LogError("{Failure}; gave up (MapWriter:DiskFullGiveUpAfter {Limit})", failure.Message, options.Value.DiskFullGiveUpAfter);
            _gaveUp.Cancel();
        }
        return failure;
    }

    private void Resumed(string target, DateTimeOffset since)
    {
        _givingUp = false;
        warnings.Clear(DiskFullWarning);
        logger.LogInformation("Disk space back for {Target} ({Free} MiB free) after {Seconds:0} s waiting; writing resumed",
            target, MiB(FreeBytes(target)), (clock.GetUtcNow() - since).TotalSeconds);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(LowDiskCheckInterval, clock);
        try
        {
            do
            {
                CheckLowSpace(folders.Root);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    public override void Dispose()
    {
        _gaveUp.Dispose();
        base.Dispose();
    }
}
