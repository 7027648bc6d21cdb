using TreeScout.Contracts;
using TreeScout.Hosting;
using TreeScout.Messaging;
using TreeScout.Orchard;

namespace TreeScout.RunControl;

/// <summary>What `treescout run start` needs to know besides the broker: its local files already read (and checked).</summary>
public sealed record RunStartRequest(string Block, string? Variety, string? PlanJson, BlockPlan? Plan, IReadOnlyList<CameraMounting> Cameras, OrchardSpacing Spacing = default);

/// <summary>
/// Starting and stopping live scan runs: the decisions behind `treescout run start|stop` and the console's Start and
/// Stop, on a connected broker. Notes for the operator (a run started with no capture worker up, a run stopped on
/// capture's behalf) go to <paramref name="progress"/>.
/// </summary>
public sealed class RunController(IMessageBus bus, IHeartbeatSource heartbeats, TextWriter progress)
{
    /// <summary>Where `run start` reads the tractor's camera rig when --cameras is not given.</summary>
    public const string DefaultCamerasPath = "/etc/treescout/camera.json";

    public static readonly string CaptureWorker = WorkerIdentity.NameOf(WorkerRole.Capture);

    /// <summary>Publishes <see cref="RunStarted"/> (confirmed by the broker) and returns it.</summary>
    public async Task<RunStarted> StartAsync(RunStartRequest request, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request.Block))
        {
            throw new RunControlException("--block must name the orchard block", isUsageError: true);
        }

        var captures = await CaptureHeartbeatsAsync(cancellationToken);
        if (captures.FirstOrDefault(c => c.RunId != WorkerStatus.IdleRunId) is { } busy)
        {
            throw new RunControlException($"run {busy.RunId} is still active on {busy.Instance}; stop it first: treescout run stop --run {busy.RunId}");
        }
        if (captures.Count == 0)
        {
            await progress.WriteLineAsync($"warning: no capture worker reported within {heartbeats.Window.TotalSeconds:0.#}s; the run starts when capture comes up (the request waits in its queue)");
        }

        var started = RunStarts.Create(request.Block, request.Variety, request.PlanJson, request.Plan, request.Cameras, "live", now, request.Spacing);
        await bus.PublishAsync(started, cancellationToken);
        return started;
    }

    /// <summary>
    /// Publishes <see cref="RunStopRequested"/> for <paramref name="runId"/>, or for the one run the run ledger shows active,
    /// as asked by <paramref name="requestedBy"/> (default: this user at this machine).
    /// When no capture worker is filming the run (its camera host or replay is gone), it also publishes the run's
    /// <see cref="RunStopped"/> on capture's behalf, so fusion finishes the run with the frames it received.
    /// </summary>
    public async Task<RunStopRequested> StopAsync(string? runId, DateTimeOffset now, CancellationToken cancellationToken, string? requestedBy = null)
    {
        if (runId is not null && !RunIds.IsValid(runId))
        {
            throw new RunControlException($"'{runId}' is not a run id", isUsageError: true);
        }
        var book = await RunBook.ReadAsync(bus, cancellationToken);
        var unfinished = book.Unfinished.Select(r => r.Started.RunId).ToList();
        RunRecord record;
        if (runId is null)
        {
            var active = book.Active.ToList();
            record = active.Count switch
            {
                0 => throw new RunControlException("no active run: the run ledger shows every run stopped"),
                1 => active[0],
                _ => throw new RunControlException($"several active runs ({string.Join(", ", active.Select(r => r.Started.RunId))}); pass --run ID"),
            };
        }
        else
        {
            record = book.Find(runId) ?? throw new RunControlException($"unknown run {runId}: the run ledger has no such run" +
                (unfinished.Count == 0 ? "" : $" (unfinished: {string.Join(", ", unfinished)})"));
            if (record.Fused is not null)
            {
                throw new RunControlException($"run {runId} is already finished (fused at the end of its capture)");
            }
        }
        runId = record.Started.RunId;

        var stop = new RunStopRequested
        {
            MessageId = MessageIds.For(runId, "run-stop-requested", 0),
            RunId = runId,
            RequestedAtUtc = now,
            RequestedBy = requestedBy ?? $"{Environment.UserName}@{Environment.MachineName}",
        };
        await bus.PublishAsync(stop, cancellationToken);
        if (record.Stopped is not null)
        {
            await progress.WriteLineAsync($"run {runId}: capture had already stopped ({record.Stopped.Reason}); fusion and the map writer are finishing it");
            return stop;
        }
        var captures = await CaptureHeartbeatsAsync(cancellationToken);
        if (!captures.Any(c => c.RunId == runId))
        {
            // Nobody films this run any more: stop it on capture's behalf (same message id as capture's own RunStopped, so
            // a capture that does come back and stops it too is a duplicate).
            await bus.PublishAsync(new RunStopped
            {
                MessageId = MessageIds.For(runId, "run-stopped", 0),
                RunId = runId,
                StoppedAtUtc = now,
                FramesPublished = 0,
                Reason = "operator (no capture worker was filming the run)",
                CountsCoverRun = false,
            }, cancellationToken);
            await progress.WriteLineAsync($"run {runId}: no capture worker is filming it (reported within {heartbeats.Window.TotalSeconds:0.#}s); stopped on capture's behalf, the map is made from the frames captured before");
        }
        return stop;
    }

    private async Task<List<WorkerStatus>> CaptureHeartbeatsAsync(CancellationToken cancellationToken) =>
        [.. (await heartbeats.LatestAsync(cancellationToken)).Where(s => s.Worker == CaptureWorker)];

    public static IReadOnlyList<CameraMounting> ReadCameras(string path)
    {
        if (!File.Exists(path))
        {
            throw new RunControlException($"camera configuration {path} not found; pass --cameras camera.json (format: docs/recording-format.md, default {DefaultCamerasPath})", isUsageError: true);
        }
        try
        {
            return CameraRig.Load(path).Cameras;
        }
        catch (CameraRigException ex)
        {
            // Its message names the file, the camera and the field already.
            throw new RunControlException(ex.Message, isUsageError: true);
        }
    }
}
