using Microsoft.Extensions.Options;
using TreeScout.Contracts;
using TreeScout.Messaging;
using TreeScout.RunControl;

namespace TreeScout.WebConsole;

/// <summary>
/// Builds the cab screen's <see cref="LiveStatus"/> from what <see cref="PipelineLink"/> hears, every
/// Console:LiveInterval, once for every browser watching: heartbeats (workers, frames, warnings), queue depths (backlog,
/// dead letters), the latest GNSS fix, the latest map update of the run, the run ledger (what was started, interrupted or
/// left unfinished, as `treescout run status` reads it) and the disk.
/// </summary>
public sealed class LiveStatusService(PipelineLink link, IOptions<ConsoleOptions> options, ILogger<LiveStatusService> logger, TimeProvider? time = null) : BackgroundService
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private volatile LiveStatus? _latest;
    private RunBook? _ledger;
    private Task<RunBook>? _ledgerRead;
    private string? _ledgerKey;
    private DateTimeOffset _ledgerReadAt;

    /// <summary>Raised after each refresh.</summary>
    public event Action<LiveStatus>? Changed;

    /// <summary>The latest status; built on first use when the loop has not run yet.</summary>
    public LiveStatus Latest => _latest ?? Build(link.Heartbeats(), [], null);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.LiveInterval, _time);
        try
        {
            do
            {
                try
                {
                    _latest = await RefreshAsync(stoppingToken);
                    Changed?.Invoke(_latest);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    logger.LogWarning("Live status not refreshed: {Reason}", ex.Message);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    private async Task<LiveStatus> RefreshAsync(CancellationToken cancellationToken)
    {
        var heartbeats = link.Heartbeats();
        IReadOnlyList<QueueDepth> queues = [];
        if (link.Bus is { } bus && link.Connected)
        {
            RefreshLedger(bus, heartbeats, cancellationToken);
            // A broker that goes away meanwhile must not hold the screen: depths are skipped for this refresh.
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            bounded.CancelAfter(options.Value.LiveInterval);
            try
            {
                // A run just started is shown with its block once the read its start set off has finished.
                if (_ledgerRead is { } pending && ActiveRunId(heartbeats, _ledger) is { } runId && _ledger?.Find(runId) is null)
                {
                    await ((Task)pending.WaitAsync(bounded.Token)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                    TakeLedger();
                }
                queues = await RunStatusReport.QueueDepthsAsync(bus, bounded.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                logger.LogDebug("Broker did not answer within {Interval}", options.Value.LiveInterval);
            }
        }
        return Build(heartbeats, queues, _ledger);
    }

    /// <summary>
    /// Keeps <see cref="_ledger"/> as `treescout run status` reads it, without reading the whole stream every refresh: a
    /// read starts at the first refresh, when a worker instance comes, goes or changes its run, when a final map is heard,
    /// and at least every Console:LedgerInterval; it runs beside the refreshes, which use the latest finished read.
    /// </summary>
    private void RefreshLedger(IMessageBus bus, IReadOnlyList<WorkerStatus> heartbeats, CancellationToken cancellationToken)
    {
        TakeLedger();
        var now = _time.GetUtcNow();
        var key = string.Join(',', heartbeats.Select(h => h.Instance + "=" + h.RunId).Concat(link.FinalMaps().Order(StringComparer.Ordinal)));
        if (_ledgerRead is null && (key != _ledgerKey || now - _ledgerReadAt >= options.Value.LedgerInterval))
        {
            _ledgerKey = key;
            _ledgerReadAt = now;
            _ledgerRead = ReadLedgerAsync(bus, cancellationToken);
        }
    }

    /// <summary>The finished read's ledger, if one finished; a failed read is tried again at the next refresh.</summary>
    private void TakeLedger()
    {
        if (_ledgerRead is not { IsCompleted: true } read)
        {
            return;
        }
        _ledgerRead = null;
        if (read.IsCompletedSuccessfully)
        {
            _ledger = read.Result;
        }
        else
        {
            _ledgerKey = null;
            logger.LogWarning("Run ledger not read: {Reason}", read.Exception?.GetBaseException().Message ?? "cancelled");
        }
    }

    private async Task<RunBook> ReadLedgerAsync(IMessageBus bus, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var ledger = await RunBook.ReadAsync(bus, cancellationToken);
        logger.LogDebug("Run ledger read in {Milliseconds:0} ms: {Runs} runs", _time.GetElapsedTime(started).TotalMilliseconds, ledger.Runs.Count);
        return ledger;
    }

    /// <summary>
    /// The run capture films, else one a worker still reports whose final map has not been announced (fusion and the map
    /// writer finish it), else the latest run the ledger has unfinished (interrupted, or its workers restarting).
    /// </summary>
    private string? ActiveRunId(IReadOnlyList<WorkerStatus> heartbeats, RunBook? ledger) =>
        heartbeats.Where(h => h.RunId != WorkerStatus.IdleRunId)
            .OrderBy(h => h.Worker == RunController.CaptureWorker ? 0 : 1)
            .Select(h => h.RunId)
            .Concat((ledger?.Unfinished ?? []).OrderByDescending(r => r.Started.StartedAtUtc).Select(r => r.Started.RunId))
            .FirstOrDefault(r => link.LatestMap(r) is not { Final: true });

    /// <summary>Scanning while capture films it; finishing while another worker reports it or capture stopped it; interrupted when only the ledger still has it filming.</summary>
    private static string StateOf(string runId, IReadOnlyList<WorkerStatus> heartbeats, RunRecord? record) =>
        heartbeats.Any(h => h.Worker == RunController.CaptureWorker && h.RunId == runId) ? "scanning"
        : record is { IsActive: true } && heartbeats.All(h => h.RunId != runId) ? "interrupted"
        : "finishing";

    private LiveStatus Build(IReadOnlyList<WorkerStatus> heartbeats, IReadOnlyList<QueueDepth> queues, RunBook? ledger)
    {
        var now = _time.GetUtcNow();
        var o = options.Value;
        var broker = new BrokerLink(link.Bus is not null, link.Connected, link.State);
        var report = RunStatusReport.From(link.Broker ?? "", now, heartbeats, queues, link.Window, ledger);
        var runId = ActiveRunId(heartbeats, ledger);
        LiveRun? run = null;
        if (runId is not null)
        {
            var map = link.LatestMap(runId);
            var started = ledger?.Find(runId)?.Started;
            run = new LiveRun(runId, started?.Block, started?.Variety, started?.StartedAtUtc,
                started is null ? null : Math.Round((now - started.StartedAtUtc).TotalSeconds, 1),
                StateOf(runId, heartbeats, ledger?.Find(runId)), map?.Trees, map?.TreesWithClusters, map?.UpdatedAtUtc);
        }
        var disk = Disk(o);
        IReadOnlyList<OperatorWarning> warnings = link.Bus is null ? [] : OperatorWarnings.From(report, disk, o.LowDiskMiB);
        var gnss = link.LatestFix is (var fix, var heardAt)
            ? new LiveGnss(GnssLabels.Solution(fix.Quality), fix.Quality.ToString(), Math.Round(Math.Max(0, (now - heardAt).TotalSeconds), 1),
                fix.SpeedMps is { } speed ? Math.Round(speed * 3.6, 1) : null, fix.Latitude, fix.Longitude, fix.CourseDeg ?? fix.HeadingDeg, fix.Satellites,
                OperatorWarnings.SayGnssLost(warnings))
            : null;
        var workers = RunStatusReport.PipelineWorkers.Select(w =>
        {
            var beats = heartbeats.Where(h => h.Worker == w).ToList();
            return new WorkerState(w, beats.Count > 0, beats.Count > 0 && beats.All(h => h.Ready), beats.Count,
                beats.Count == 0 ? null : Math.Round(beats.Min(h => Math.Max(0, (now - h.AtUtc).TotalSeconds)), 1));
        }).ToList();
        return new LiveStatus(
            now,
            broker,
            run,
            gnss,
            CameraRates(heartbeats),
            queues.FirstOrDefault(q => q.Queue == Topology.DetectionFramesQueue)?.Ready,
            report.Totals.GetValueOrDefault("frames_shed"),
            queues.Sum(q => q.DeadLettered),
            workers,
            disk,
            warnings);
    }

    /// <summary>Frames per second per camera from two successive heartbeats of each capture worker ("frames_captured.CAMERA" when it counts per camera).</summary>
    private List<CameraRate> CameraRates(IReadOnlyList<WorkerStatus> heartbeats)
    {
        var rates = new List<CameraRate>();
        foreach (var capture in heartbeats.Where(h => h.Worker == RunController.CaptureWorker))
        {
            var before = link.PreviousHeartbeat(capture.Instance);
            var seconds = before is null ? 0 : (capture.AtUtc - before.AtUtc).TotalSeconds;
            var perCamera = capture.Counters.Keys.Where(k => k.StartsWith(FramesCaptured + ".", StringComparison.Ordinal)).ToList();
            foreach (var counter in perCamera.Count > 0 ? perCamera : [FramesCaptured])
            {
                double? fps = seconds > 0 ? Math.Round(Math.Max(0, capture.Counters.GetValueOrDefault(counter) - before!.Counters.GetValueOrDefault(counter)) / seconds, 1) : null;
                rates.Add(new CameraRate(counter == FramesCaptured ? capture.Instance : counter[(FramesCaptured.Length + 1)..], fps));
            }
        }
        return rates;
    }

    private const string FramesCaptured = "frames_captured";

    private static LiveDisk Disk(ConsoleOptions o)
    {
        try
        {
            var free = new DriveInfo(Path.GetFullPath(o.Runs)).AvailableFreeSpace / (1024 * 1024);
            return new LiveDisk(free, free < o.LowDiskMiB);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return new LiveDisk(null, false);
        }
    }
}
