using TreeScout.Contracts;

namespace TreeScout.Messaging;

/// <summary>What the run ledger says about one run: its start and, once they happened, its stop request, stop and fusion.</summary>
public sealed class RunRecord(RunStarted started)
{
    public RunStarted Started { get; } = started;

    public RunStopRequested? StopRequested { get; internal set; }

    public RunStopped? Stopped { get; internal set; }

    public RunFused? Fused { get; internal set; }

    /// <summary>Fusion's latest account of the run (cumulative), null before its first.</summary>
    public RunFusionProgress? FusionProgress { get; internal set; }

    /// <summary>Capture's latest account of its filming (the latest session's), null before its first.</summary>
    public RunCaptureProgress? CaptureProgress { get; internal set; }

    /// <summary>Power cuts and restarts capture found the run interrupted by, oldest first.</summary>
    public IReadOnlyList<RunInterrupted> Interruptions => _interruptions;

    private readonly List<RunInterrupted> _interruptions = [];

    /// <summary>Each interruption once, however often its entry was appended (a capture crash between publish and confirm).</summary>
    internal void Interrupted(RunInterrupted interrupted)
    {
        if (_interruptions.All(i => i.MessageId != interrupted.MessageId))
        {
            _interruptions.Add(interrupted);
        }
    }

    /// <summary>The last moment the ledger knows frames were flowing: capture's last account, else the run's start.</summary>
    public DateTimeOffset LastCapturedAtUtc => CaptureProgress?.ConfirmedAtUtc ?? Started.StartedAtUtc;

    /// <summary>Started and not yet stopped by capture (nor fused): capture should be filming it.</summary>
    public bool IsActive => Stopped is null && Fused is null;

    /// <summary>Fusion has not finished it: its map is not final yet.</summary>
    public bool IsUnfinished => Fused is null;

    public bool IsLive => Started.Source == "live";
}

/// <summary>
/// The run ledger folded into one record per run (docs/adr/0007). Facts about a run whose start the ledger no longer
/// holds (older than its retention) are ignored: nothing can be done with a run without its cameras and plan.
/// </summary>
public sealed class RunBook
{
    private readonly Dictionary<string, RunRecord> _runs = new(StringComparer.Ordinal);

    public static RunBook From(IEnumerable<IMessage> entries)
    {
        var book = new RunBook();
        foreach (var entry in entries)
        {
            book.Apply(entry);
        }
        return book;
    }

    public static async Task<RunBook> ReadAsync(IMessageBus bus, CancellationToken cancellationToken) =>
        From(await bus.ReadRunLedgerAsync(cancellationToken));

    /// <summary>Runs in the order they were started.</summary>
    public IReadOnlyCollection<RunRecord> Runs => _runs.Values;

    public IEnumerable<RunRecord> Active => _runs.Values.Where(r => r.IsActive);

    public IEnumerable<RunRecord> Unfinished => _runs.Values.Where(r => r.IsUnfinished);

    public RunRecord? Find(string runId) => _runs.GetValueOrDefault(runId);

    public void Apply(IMessage entry)
    {
        switch (entry)
        {
            case RunStarted started:
                _runs.TryAdd(started.RunId, new RunRecord(started));
                break;
            case RunStopRequested request when Find(request.RunId) is { } run:
                run.StopRequested ??= request;
                break;
            case RunStopped stopped when Find(stopped.RunId) is { } run:
                run.Stopped ??= stopped;
                break;
            case RunFused fused when Find(fused.RunId) is { } run:
                run.Fused ??= fused;
                break;
            case RunFusionProgress progress when Find(progress.RunId) is { } run:
                run.FusionProgress = progress;
                break;
            case RunCaptureProgress progress when Find(progress.RunId) is { } run:
                run.CaptureProgress = progress;
                break;
            case RunInterrupted interrupted when Find(interrupted.RunId) is { } run:
                run.Interrupted(interrupted);
                break;
        }
    }
}
