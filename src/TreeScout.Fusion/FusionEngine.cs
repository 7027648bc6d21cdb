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
    IOptions<FusionOptions> options,
    WorkerCounters counters,
    WorkerWarnings warnings,
    ActiveRun activeRun,
    GnssRunTagger tagger,
    TimeProvider clock,
    ILogger<FusionEngine> logger) : IDisposable
{
    private const int FinishedRunsRemembered = 64;

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, RunFusion> _runs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _malformedAtStart = new(StringComparer.Ordinal);
    private readonly LinkedList<string> _finished = new();
    private readonly LinkedList<(GnssFix Fix, IDeferredAcknowledgement Ack, DateTimeOffset At)> _orphanFixes = new();
    private readonly FusionOptions _options = options.Value;

    /// <summary>Runs in progress (for tests and status).</summary>
    public IReadOnlyCollection<RunFusion> Runs => _runs.Values;

    public async Task OnRunStartedAsync(RunStarted started, MessageContext context, CancellationToken cancellationToken)
    {
        using var held = await EnterAsync(cancellationToken);
        if (_finished.Contains(started.RunId))
        {
            return;
        }
        var ack = context.DeferAcknowledgement();
        if (_runs.TryGetValue(started.RunId, out var known))
        {
            known.AddControl(ack);
            return;
        }
        var (rows, projection) = RowsOf(started);
        var run = new RunFusion(started, _options, rows, projection, clock.GetUtcNow());
        run.AddControl(ack);
        _runs[started.RunId] = run;
        _malformedAtStart[started.RunId] = counters["nmea_malformed"];
        tagger.Started(started.RunId);
        activeRun.Started(started.RunId);
        logger.LogInformation("Fusing run {RunId} ({Block}): {Cameras} camera(s), {Rows}", started.RunId, started.Block, started.Cameras.Count,
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
        await AdvanceAsync(run, context.Publisher, cancellationToken);
    }

    public async Task OnRunStoppedAsync(RunStopped stopped, MessageContext context, CancellationToken cancellationToken)
    {
        using var held = await EnterAsync(cancellationToken);
        if (_finished.Contains(stopped.RunId))
        {
            return;
        }
        var run = Known(stopped.RunId, "RunStopped");
        run.Stop(stopped, context.DeferAcknowledgement(), clock.GetUtcNow());
        tagger.Stopped(stopped.RunId, clock.GetUtcNow());
        await AdvanceAsync(run, context.Publisher, cancellationToken);
    }

    public async Task OnDetectionsAsync(FrameDetections frame, MessageContext context, CancellationToken cancellationToken)
    {
        using var held = await EnterAsync(cancellationToken);
        if (_finished.Contains(frame.RunId))
        {
            counters.Add("frames_late");
            logger.LogWarning("Detections of frame {Camera}/{Sequence} arrived after run {RunId} was fused; acknowledged without use", frame.CameraId, frame.Sequence, frame.RunId);
            return;
        }
        var run = Known(frame.RunId, "detections");
        run.AddFrame(frame, context.DeferAcknowledgement(), clock.GetUtcNow());
        await AdvanceAsync(run, context.Publisher, cancellationToken);
    }

    public async Task OnFixAsync(GnssFix fix, MessageContext context, CancellationToken cancellationToken)
    {
        using var held = await EnterAsync(cancellationToken);
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

    /// <summary>Timer: quiet timeouts of stopped runs, and fixes of runs that never started.</summary>
    public async Task TickAsync(IMessagePublisher publisher, CancellationToken cancellationToken)
    {
        using var held = await EnterAsync(cancellationToken);
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

    private RunFusion Known(string runId, string what) =>
        _runs.TryGetValue(runId, out var run)
            ? run
            // RunStarted precedes a run's data on this queue; if it is missing the delivery is retried, then dead-lettered with this reason.
            : throw new InvalidOperationException($"{what} for run {runId}, whose RunStarted fusion has not received");

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
        _finished.AddLast(run.RunId);
        if (_finished.Count > FinishedRunsRemembered)
        {
            _finished.RemoveFirst();
        }
        activeRun.Stopped(run.RunId);
        var p = run.Progress;
        logger.LogInformation(
            "Run {RunId} fused: {Observations} observations ({LowConfidence} low-confidence), {Fused} frames fused, {WithoutPose} without GNSS pose, {Late} late, {Fixes} fixes, clock offset {Offset}",
            run.RunId, p.ObservationsPublished, p.ObservationsLowConfidence, p.FramesFused, p.FramesWithoutPose, p.FramesLate, p.Fixes,
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
