using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TreeScout.Contracts;
using TreeScout.Fusion.Attribution;
using TreeScout.Fusion.Gnss;
using TreeScout.Fusion.Runs;
using TreeScout.Hosting;
using TreeScout.Messaging;
using TreeScout.Orchard;

namespace TreeScout.Fusion;

/// <summary>
/// The fusion worker's state: the runs being fused, fixes for runs not started yet, runs already finished. All entry
/// points (the two queues' handlers and the timer) are serialised, so runs see one message at a time in any interleaving.
/// </summary>
public sealed class FusionEngine(
    IMessageBus bus,
    IOptions<FusionOptions> options,
    WorkerCounters counters,
    WorkerWarnings warnings,
    ActiveRun activeRun,
    GnssRunTagger tagger,
    TimeProvider clock,
    ILogger<FusionEngine> logger) : IDisposable
{
    private const int FinishedRunsRemembered = 64;

    /// <summary>How often a message of an unknown run may make this process re-read the run ledger.</summary>
    private static readonly TimeSpan LedgerRereadInterval = TimeSpan.FromSeconds(2);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, RunFusion> _runs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _malformedAtStart = new(StringComparer.Ordinal);
    private readonly LinkedList<string> _finished = new();
    private readonly LinkedList<(GnssFix Fix, IDeferredAcknowledgement Ack, DateTimeOffset At)> _orphanFixes = new();
    private readonly FusionOptions _options = options.Value;
    private bool _recovered;
    private DateTimeOffset _ledgerReadAt = DateTimeOffset.MinValue;

    /// <summary>Runs in progress (for tests and status).</summary>
    public IReadOnlyCollection<RunFusion> Runs => _runs.Values;

    public async Task OnRunStartedAsync(RunStarted started, MessageContext context, CancellationToken cancellationToken)
    {
        using var held = await EnterAsync(cancellationToken);
        await RecoverAsync(cancellationToken);
        if (_finished.Contains(started.RunId) || _runs.ContainsKey(started.RunId))
        {
            return;
        }
        // Acknowledged on return: the start is a fact in the run ledger, re-read after any crash.
        var run = Begin(started, "started");
        await AdvanceAsync(run, context.Publisher, cancellationToken);
    }

    public async Task OnRunStoppedAsync(RunStopped stopped, MessageContext context, CancellationToken cancellationToken)
    {
        using var held = await EnterAsync(cancellationToken);
        await RecoverAsync(cancellationToken);
        if (await KnownAsync(stopped.RunId, "RunStopped", cancellationToken) is not { } run)
        {
            return;
        }
        run.Stop(stopped, clock.GetUtcNow());
        tagger.Stopped(stopped.RunId, clock.GetUtcNow());
        await AdvanceAsync(run, context.Publisher, cancellationToken);
    }

    public async Task OnDetectionsAsync(FrameDetections frame, MessageContext context, CancellationToken cancellationToken)
    {
        using var held = await EnterAsync(cancellationToken);
        await RecoverAsync(cancellationToken);
        if (await KnownAsync(frame.RunId, "detections", cancellationToken) is not { } run)
        {
            counters.Add("frames_late");
            logger.LogWarning("Detections of frame {Camera}/{Sequence} arrived after run {RunId} was fused; acknowledged without use", frame.CameraId, frame.Sequence, frame.RunId);
            return;
        }
        run.AddFrame(frame, context.DeferAcknowledgement(), clock.GetUtcNow());
        await AdvanceAsync(run, context.Publisher, cancellationToken);
    }

    public async Task OnFixAsync(GnssFix fix, MessageContext context, CancellationToken cancellationToken)
    {
        using var held = await EnterAsync(cancellationToken);
        await RecoverAsync(cancellationToken);
        if (_finished.Contains(fix.RunId))
        {
            return;
        }
        var ack = context.DeferAcknowledgement();
        if (_runs.TryGetValue(fix.RunId, out var run))
        {
            AddFix(run, fix, ack);
            await AdvanceAsync(run, context.Publisher, cancellationToken);
            return;
        }
        // Fixes can overtake their run's RunStarted (another queue): hold them, bounded, until it arrives.
        _orphanFixes.AddLast((fix, ack, clock.GetUtcNow()));
        while (_orphanFixes.Count > _options.MaxOrphanFixes)
        {
            ReleaseOrphan();
        }
    }

    /// <summary>Timer: quiet timeouts of stopped runs, idle runs, and fixes of runs that never started.</summary>
    public async Task TickAsync(IMessagePublisher publisher, CancellationToken cancellationToken)
    {
        using var held = await EnterAsync(cancellationToken);
        // Also without any message (a run whose capture is gone after a power cut): runs are taken up and, idle, finished.
        await RecoverAsync(cancellationToken);
        var now = clock.GetUtcNow();
        while (_orphanFixes.First is { } oldest && now - oldest.Value.At > _options.QuietTimeout * 4)
        {
            ReleaseOrphan();
        }
        foreach (var run in _runs.Values.ToList())
        {
            await AdvanceAsync(run, publisher, cancellationToken);
        }
    }

    public void Dispose() => _gate.Dispose();

    /// <summary>One message or tick at a time: the runs' state is not thread-safe. Disposing the result releases.</summary>
    private async Task<Held> EnterAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        return new Held(_gate);
    }

    private readonly struct Held(SemaphoreSlim gate) : IDisposable
    {
        public void Dispose() => gate.Release();
    }

    private void ReleaseOrphan()
    {
        var (fix, ack, _) = _orphanFixes.First!.Value;
        _orphanFixes.RemoveFirst();
        ack.Acknowledge();
        counters.Add("gnss_fixes_orphaned");
        if (warnings.Raise($"orphan-fixes-{fix.RunId}", $"GNSS fixes for run {fix.RunId} arrive but fusion never saw the run start; they are dropped"))
        {
            logger.LogWarning("GNSS fixes for unknown run {RunId} are released unused (no RunStarted)", fix.RunId);
        }
    }

    private void AddFix(RunFusion run, GnssFix fix, IDeferredAcknowledgement ack)
    {
        if (run.AddFix(fix, ack, clock.GetUtcNow()))
        {
            counters.Add("gnss_fixes");
        }
    }

    /// <summary>
    /// The run a message belongs to; null when it is already fused. A run this process has not seen is looked up in the
    /// run ledger (its RunStarted may have been taken by an earlier process); unknown there too, the delivery is retried,
    /// then dead-lettered with this reason.
    /// </summary>
    private async Task<RunFusion?> KnownAsync(string runId, string what, CancellationToken cancellationToken)
    {
        if (_runs.TryGetValue(runId, out var run))
        {
            return run;
        }
        if (_finished.Contains(runId))
        {
            return null;
        }
        if (clock.GetUtcNow() - _ledgerReadAt >= LedgerRereadInterval)
        {
            await ReadLedgerAsync("a message of an unknown run", cancellationToken);
        }
        return _runs.GetValueOrDefault(runId) ?? (_finished.Contains(runId) ? null
            : throw new InvalidOperationException($"{what} for run {runId}, which the run ledger does not know (no RunStarted)"));
    }

    /// <summary>Before the first message of this process: every run the ledger shows started and not yet fused is taken up again.</summary>
    private async Task RecoverAsync(CancellationToken cancellationToken)
    {
        if (!_recovered)
        {
            await ReadLedgerAsync("start", cancellationToken);
            _recovered = true;
        }
    }

    private async Task ReadLedgerAsync(string why, CancellationToken cancellationToken)
    {
        var book = await RunBook.ReadAsync(bus, cancellationToken);
        _ledgerReadAt = clock.GetUtcNow();
        foreach (var record in book.Runs)
        {
            var runId = record.Started.RunId;
            if (_runs.ContainsKey(runId) || _finished.Contains(runId))
            {
                continue;
            }
            if (record.Fused is not null)
            {
                Finished(runId);
                continue;
            }
            var run = Begin(record.Started, $"taken up from the run ledger ({why})");
            if (record.FusionProgress is { } progress)
            {
                run.Restore(progress);
            }
            if (record.Stopped is { } stopped)
            {
                run.Stop(stopped, clock.GetUtcNow());
                tagger.Stopped(runId, clock.GetUtcNow());
            }
            counters.Add("runs_recovered");
        }
    }

    private RunFusion Begin(RunStarted started, string how)
    {
        var (rows, projection) = RowsOf(started);
        var run = new RunFusion(started, _options, rows, projection, clock.GetUtcNow());
        _runs[started.RunId] = run;
        _malformedAtStart[started.RunId] = counters["nmea_malformed"];
        tagger.Started(started.RunId);
        activeRun.Started(started.RunId);
        logger.LogInformation("Fusing run {RunId} ({Block}), {How}: {Cameras} camera(s), {Rows}", started.RunId, started.Block, how, started.Cameras.Count,
            rows.FromPlan ? $"{rows.Rows.Count} planned rows" : "rows inferred from the drive passes");
        for (var node = _orphanFixes.First; node is not null;)
        {
            var next = node.Next;
            if (node.Value.Fix.RunId == started.RunId)
            {
                AddFix(run, node.Value.Fix, node.Value.Ack);
                _orphanFixes.Remove(node);
            }
            node = next;
        }
        return run;
    }

    private void Finished(string runId)
    {
        _finished.AddLast(runId);
        if (_finished.Count > FinishedRunsRemembered)
        {
            _finished.RemoveFirst();
        }
    }

    private async Task AdvanceAsync(RunFusion run, IMessagePublisher publisher, CancellationToken cancellationToken)
    {
        run.MalformedNmeaLines = counters["nmea_malformed"] - _malformedAtStart.GetValueOrDefault(run.RunId);
        var fused = await run.AdvanceAsync(publisher, clock.GetUtcNow(), counters.Add, cancellationToken);
        if (run.PlanDoesNotFit)
        {
            var problem = string.Create(CultureInfo.InvariantCulture,
                $"run {run.RunId}: the cameras see canopy {run.Progress.LastOffPlanDistanceM:F0} m from the nearest row of its block plan ({run.Progress.FramesOffPlan} frames): a plan of another block, or latitude and longitude swapped? Clusters there are kept, flagged, not counted on trees");
            if (warnings.Raise($"plan-far-{run.RunId}", problem))
            {
                logger.LogWarning("{Problem}", problem);
            }
        }
        if (!fused)
        {
            return;
        }
        _runs.Remove(run.RunId);
        _malformedAtStart.Remove(run.RunId);
        Finished(run.RunId);
        activeRun.Stopped(run.RunId);
        var p = run.Progress;
        if (run.EndReason == "idle")
        {
            warnings.Raise($"idle-{run.RunId}", $"run {run.RunId} was finished automatically: no frame for {_options.RunIdleTimeout.TotalMinutes:F0} min (its capture is gone); the map holds every frame received before");
        }
        logger.LogInformation(
            "Run {RunId} fused ({EndReason}): {Observations} observations ({LowConfidence} low-confidence), {Fused} frames fused, {WithoutPose} without GNSS pose, {Late} late, {Fixes} fixes, clock offset {Offset}",
            run.RunId, run.EndReason, p.ObservationsPublished, p.ObservationsLowConfidence, p.FramesFused, p.FramesWithoutPose, p.FramesLate, p.Fixes,
            run.ClockOffset is { } offset ? $"{offset.TotalMilliseconds:F0} ms" : "unknown (assumed 0)");
    }

    private (RowMap Rows, UtmProjection? Projection) RowsOf(RunStarted started)
    {
        var inferred = new InferredRowMap(started.TreeSpacingM ?? _options.DefaultTreeSpacingM, started.RowSpacingM ?? _options.DefaultRowSpacingM);
        if (started.BlockPlanGeoJson is null)
        {
            return (inferred, null);
        }
        try
        {
            var plan = BlockPlan.Parse(started.BlockPlanGeoJson, $"block plan of run {started.RunId} ({started.Block})");
            var projection = plan.Projection();
            return (new PlanRowMap(plan, projection, started.TreeSpacingM, started.RowSpacingM), projection);
        }
        catch (BlockPlanException ex)
        {
            // The run is still fused (rows inferred); the operator sees exactly what is wrong with the plan.
            warnings.Raise($"plan-{started.RunId}", $"{ex.Message}; rows are inferred from the drive passes instead");
            logger.LogError("{Problem}; fusing run {RunId} with rows inferred from the drive passes", ex.Message, started.RunId);
            return (inferred, null);
        }
    }
}
