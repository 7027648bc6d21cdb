using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TreeScout.Contracts;
using TreeScout.Hosting;
using TreeScout.Messaging;

namespace TreeScout.Capture;

/// <summary>
/// The capture worker's run state: runs capture one after another. RunStarted queues a session for the capture loop;
/// RunStopRequested cancels it and waits until its RunStopped is published. Redelivered control messages are
/// harmless: a run that is queued, active or finished is not started again.
/// </summary>
public sealed class CaptureController(ActiveRun activeRun, ILogger<CaptureController> logger)
{
    private sealed record RunEntry(CancellationTokenSource Stop, TaskCompletionSource Done);

    private readonly Channel<CaptureStart> _starts = Channel.CreateUnbounded<CaptureStart>();
    private readonly Lock _gate = new();
    private readonly Dictionary<string, RunEntry> _runs = new(StringComparer.Ordinal);

    public ChannelReader<CaptureStart> Starts => _starts.Reader;

    /// <summary>Queues the run for capture; false when it is already known here (redelivery).</summary>
    public bool Start(RunStarted run) => Start(new CaptureStart(run, Resumed: false));

    /// <summary>Queues a run for capture (or, resumed, for capture continued after this worker restarted); false when already known here.</summary>
    public bool Start(CaptureStart start)
    {
        var run = start.Run;
        var runId = run.RunId;
        lock (_gate)
        {
            if (_runs.ContainsKey(runId))
            {
                logger.LogInformation("Run {RunId} already started here; ignoring the repeated RunStarted", runId);
                return false;
            }
            _runs[runId] = new RunEntry(new CancellationTokenSource(), new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        }
        return _starts.Writer.TryWrite(start);
    }

    /// <summary>Cancels the run's capture; completes once its RunStopped is published (at once for a run this worker never started).</summary>
    public Task StopAsync(string runId)
    {
        lock (_gate)
        {
            if (!_runs.TryGetValue(runId, out var entry))
            {
                return Task.CompletedTask;
            }
            entry.Stop.Cancel();
            return entry.Done.Task;
        }
    }

    /// <summary>For the capture loop: the run's stop token (already cancelled when a stop came first) and what to call when it ended.</summary>
    internal (CancellationToken Stop, Action Finished) Begin(string runId)
    {
        RunEntry entry;
        lock (_gate)
        {
            entry = _runs[runId];
        }
        activeRun.Started(runId);
        return (entry.Stop.Token, () =>
        {
            activeRun.Stopped(runId);
            entry.Done.TrySetResult();
        });
    }
}

/// <summary>Runs the capture loop: one session per started run, from the configured source.</summary>
public sealed class CaptureLoopService(
    CaptureController controller,
    IMessageBus bus,
    IOptions<CaptureOptions> options,
    IOptions<FramePlanOptions> framePlan,
    WorkerCounters counters,
    WorkerWarnings warnings,
    ILogger<CaptureLoopService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await ResumeInterruptedRunsAsync(stoppingToken);
            await foreach (var start in controller.Starts.ReadAllAsync(stoppingToken))
            {
                var (stop, finished) = controller.Begin(start.Run.RunId);
                try
                {
                    using var linked = CancellationTokenSource.CreateLinkedTokenSource(stop, stoppingToken);
                    await CaptureAsync(start, linked.Token);
                }
                finally
                {
                    finished();
                    warnings.Clear(InterruptionWarning(start.Run.RunId));
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    /// <summary>
    /// After a crash or power cut: a live run the run ledger still shows active is filmed again when the camera is live;
    /// a recorded source cannot continue where it was cut, so that run is left for the operator's stop or fusion's idle
    /// finish. Either way the interruption — from the last frame the ledger knows was confirmed to now — goes into the
    /// ledger and the warnings, so the operator sees that the run was interrupted and for how long.
    /// </summary>
    private async Task ResumeInterruptedRunsAsync(CancellationToken cancellationToken)
    {
        var book = await RunBook.ReadAsync(bus, cancellationToken);
        foreach (var record in book.Active.Where(r => r.IsLive))
        {
            var run = record.Started;
            var interruption = new RunInterrupted
            {
                MessageId = MessageIds.For(run.RunId, "interrupted", record.Interruptions.Count),
                RunId = run.RunId,
                InterruptedAtUtc = record.LastCapturedAtUtc,
                NoticedAtUtc = DateTimeOffset.UtcNow,
                Resumed = !options.Value.IsRecordedSource,
            };
            await bus.PublishAsync(interruption, cancellationToken);
            var problem = RunInterruptions.Describe(interruption);
            warnings.Raise(InterruptionWarning(run.RunId), problem);
            logger.LogWarning("{Problem}", problem);
            if (interruption.Resumed)
            {
                counters.Add("runs_resumed");
                controller.Start(new CaptureStart(run, Resumed: true));
            }
        }
    }

    /// <summary>The key of a run's interruption warning: raised at restart, cleared once the run's capture ends or it is stopped.</summary>
    public static string InterruptionWarning(string runId) => $"interrupted-{runId}";

    private async Task CaptureAsync(CaptureStart start, CancellationToken cancellationToken)
    {
        var run = start.Run;
        var runId = run.RunId;
        IFrameSource source;
        try
        {
            source = options.Value.OpenSource();
            warnings.Clear("capture-source");
        }
        catch (IOException ex)
        {
            warnings.Raise("capture-source", ex.Message);
            logger.LogError("Run {RunId}: {Reason}", runId, ex.Message);
            await bus.PublishAsync(new RunStopped
            {
                MessageId = MessageIds.For(runId, "run-stopped", 0),
                RunId = runId,
                StoppedAtUtc = DateTimeOffset.UtcNow,
                FramesPublished = 0,
                Reason = "source-lost",
            }, CancellationToken.None);
            return;
        }
        using (source)
        {
            logger.LogInformation("Run {RunId}: capturing from {Source}", runId, source.Description);
            // A resumed run's frames are numbered after every frame the interrupted capture can have sent (≤ 1000 frames/s),
            // so their ids never collide with the earlier ones.
            var firstSequence = start.Resumed ? (long)Math.Max(0, (DateTimeOffset.UtcNow - run.StartedAtUtc).TotalMilliseconds) : 0;
            var plan = new FramePlanner(run.Cameras, run.RowSpacingM, framePlan.Value);
            // Ground speed for decimation from the fixes fusion's GNSS reader publishes; a fix missed here only keeps a frame more.
            await using var fixes = framePlan.Value.Decimate
                ? await bus.ListenAsync(Topology.GnssExchange, "#", envelope =>
                {
                    if (MessageCodec.Decode(envelope) is GnssFix fix)
                    {
                        plan.Speed.Observe(fix);
                    }
                    return Task.CompletedTask;
                }, cancellationToken)
                : null;
            await new CaptureSession(source, bus, options.Value.Pace, run.Cameras, counters, logger)
            {
                FirstSequence = firstSequence,
                CountsCoverRun = !start.Resumed,
                ProgressInterval = options.Value.ProgressInterval,
                Plan = plan,
            }.RunAsync(runId, cancellationToken);
        }
    }
}

/// <summary>A run for the capture loop; <see cref="Resumed"/> when it continues a run this worker was filming before it restarted.</summary>
public sealed record CaptureStart(RunStarted Run, bool Resumed);

/// <summary>
/// Starts live runs that the run ledger still shows active. A start that waited in the queue while no capture worker ran
/// (a broker scan's replay, a run stopped or finished meanwhile) is acknowledged and ignored: it is never acted on late.
/// </summary>
public sealed class RunStartedHandler(CaptureController controller, IMessageBus bus, WorkerWarnings warnings, ILogger<RunStartedHandler> logger) : IMessageHandler<RunStarted>
{
    public async Task HandleAsync(RunStarted message, MessageContext context, CancellationToken cancellationToken)
    {
        if (message.Source != "live")
        {
            logger.LogInformation("Run {RunId} is a {Source}: its frames come from its player, not from this camera", message.RunId, message.Source);
            return;
        }
        var book = await RunBook.ReadAsync(bus, cancellationToken);
        // An interrupted run of a recorded source is not filmed again here; it can end by fusion's idle finish, which
        // capture does not hear of: its warning goes once the ledger shows it finished.
        foreach (var over in book.Runs.Where(r => !r.IsUnfinished))
        {
            warnings.Clear(CaptureLoopService.InterruptionWarning(over.Started.RunId));
        }
        var record = book.Find(message.RunId);
        if (record is { IsActive: false })
        {
            logger.LogWarning("Ignoring the start of run {RunId} ({Started:u}): the run ledger shows it {State} already", message.RunId, message.StartedAtUtc,
                record.Fused is not null ? "finished" : "stopped");
            return;
        }
        controller.Start(message);
    }
}

public sealed class RunStopRequestedHandler(CaptureController controller, WorkerWarnings warnings) : IMessageHandler<RunStopRequested>
{
    /// <summary>Returns after RunStopped is published, so the stop request is acknowledged only then.</summary>
    public async Task HandleAsync(RunStopRequested message, MessageContext context, CancellationToken cancellationToken)
    {
        await controller.StopAsync(message.RunId).WaitAsync(cancellationToken);
        warnings.Clear(CaptureLoopService.InterruptionWarning(message.RunId));
    }
}
