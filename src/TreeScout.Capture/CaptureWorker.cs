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

    private readonly Channel<RunStarted> _starts = Channel.CreateUnbounded<RunStarted>();
    private readonly Lock _gate = new();
    private readonly Dictionary<string, RunEntry> _runs = new(StringComparer.Ordinal);

    public ChannelReader<RunStarted> Starts => _starts.Reader;

    /// <summary>Queues the run for capture; false when it is already known here (redelivery).</summary>
    public bool Start(RunStarted run)
    {
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
        return _starts.Writer.TryWrite(run);
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
    WorkerCounters counters,
    WorkerWarnings warnings,
    ILogger<CaptureLoopService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var run in controller.Starts.ReadAllAsync(stoppingToken))
            {
                var (stop, finished) = controller.Begin(run.RunId);
                try
                {
                    using var linked = CancellationTokenSource.CreateLinkedTokenSource(stop, stoppingToken);
                    await CaptureAsync(run, linked.Token);
                }
                finally
                {
                    finished();
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    private async Task CaptureAsync(RunStarted run, CancellationToken cancellationToken)
    {
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
            await new CaptureSession(source, bus, options.Value.Pace, run.Cameras, counters, logger).RunAsync(runId, cancellationToken);
        }
    }
}

public sealed class RunStartedHandler(CaptureController controller) : IMessageHandler<RunStarted>
{
    public Task HandleAsync(RunStarted message, MessageContext context, CancellationToken cancellationToken)
    {
        controller.Start(message);
        return Task.CompletedTask;
    }
}

public sealed class RunStopRequestedHandler(CaptureController controller) : IMessageHandler<RunStopRequested>
{
    /// <summary>Returns after RunStopped is published, so the stop request is acknowledged only then.</summary>
    public Task HandleAsync(RunStopRequested message, MessageContext context, CancellationToken cancellationToken) =>
        controller.StopAsync(message.RunId).WaitAsync(cancellationToken);
}
