using Microsoft.Extensions.Options;
using TreeScout.Contracts;
using TreeScout.Messaging;
using TreeScout.RunControl;

namespace TreeScout.WebConsole;

/// <summary>
/// Builds the cab screen's <see cref="LiveStatus"/> from what <see cref="PipelineLink"/> hears, every
/// Console:LiveInterval, once for every browser watching: heartbeats (workers, frames, warnings), queue depths (backlog,
/// dead letters), the latest GNSS fix, the latest map update of the run, the run ledger (what was started) and the disk.
/// </summary>
public sealed class LiveStatusService(PipelineLink link, IOptions<ConsoleOptions> options, ILogger<LiveStatusService> logger, TimeProvider? time = null) : BackgroundService
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Dictionary<string, RunStarted?> _started = new(StringComparer.Ordinal);
    private volatile LiveStatus? _latest;

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
        RunStarted? started = null;
        if (link.Bus is { } bus && link.Connected)
        {
            // A broker that goes away meanwhile must not hold the screen: depths are skipped for this refresh.
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            bounded.CancelAfter(options.Value.LiveInterval);
            try
            {
                queues = await RunStatusReport.QueueDepthsAsync(bus, bounded.Token);
                if (ActiveRunId(heartbeats) is { } runId)
                {
                    started = await StartOfAsync(bus, runId, bounded.Token);
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                logger.LogDebug("Broker did not answer within {Interval}", options.Value.LiveInterval);
            }
        }
        return Build(heartbeats, queues, started);
    }

    /// <summary>The run's start from the run ledger (read once per run: reading appends a marker).</summary>
    private async Task<RunStarted?> StartOfAsync(IMessageBus bus, string runId, CancellationToken cancellationToken)
    {
        if (!_started.TryGetValue(runId, out var started))
        {
            started = (await RunBook.ReadAsync(bus, cancellationToken)).Find(runId)?.Started;
            _started[runId] = started;
        }
        return started;
    }

    /// <summary>The run capture films, else one a worker still reports whose final map has not been announced (fusion and the map writer finish it).</summary>
    private string? ActiveRunId(IReadOnlyList<WorkerStatus> heartbeats) =>
        heartbeats.Where(h => h.RunId != WorkerStatus.IdleRunId)
            .OrderBy(h => h.Worker == RunController.CaptureWorker ? 0 : 1)
            .Select(h => h.RunId)
            .FirstOrDefault(r => link.LatestMap(r) is not { Final: true });

    private LiveStatus Build(IReadOnlyList<WorkerStatus> heartbeats, IReadOnlyList<QueueDepth> queues, RunStarted? started)
    {
        var now = _time.GetUtcNow();
        var o = options.Value;
        var broker = new BrokerLink(link.Bus is not null, link.Connected, link.State);
        var report = RunStatusReport.From(link.Broker ?? "", now, heartbeats, queues, link.Window);
        var runId = ActiveRunId(heartbeats);
        var scanning = heartbeats.Any(h => h.Worker == RunController.CaptureWorker && h.RunId == runId && runId is not null);
        LiveRun? run = null;
        if (runId is not null)
        {
            var map = link.LatestMap(runId);
            run = new LiveRun(runId, started?.Block, started?.Variety, started?.StartedAtUtc,
                started is null ? null : Math.Round((now - started.StartedAtUtc).TotalSeconds, 1),
                scanning ? "scanning" : "finishing", map?.Trees, map?.TreesWithClusters, map?.UpdatedAtUtc);
        }
        var gnss = link.LatestFix is (var fix, var heardAt)
            ? new LiveGnss(GnssLabels.Solution(fix.Quality), fix.Quality.ToString(), Math.Round(Math.Max(0, (now - heardAt).TotalSeconds), 1),
                fix.SpeedMps is { } speed ? Math.Round(speed * 3.6, 1) : null, fix.Latitude, fix.Longitude, fix.CourseDeg ?? fix.HeadingDeg, fix.Satellites)
            : null;
        var disk = Disk(o);
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
            link.Bus is null ? [] : OperatorWarnings.From(report, gnss, disk, scanning, o.LowDiskMiB));
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
