using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TreeScout.Contracts;
using TreeScout.Hosting;
using TreeScout.Messaging;
using TreeScout.Orchard;

namespace TreeScout.Capture;

/// <summary>
/// How fast a recorded source is played: at its recorded timing divided by <see cref="Speedup"/>, or — with
/// <see cref="MaxRate"/> — as fast as the broker confirms (a full frames queue then holds the replay back instead of shedding).
/// Live sources always run at their own pace and shed frames when the queue is full.
/// </summary>
public sealed record ReplayPace(double Speedup, bool MaxRate)
{
    public static readonly ReplayPace Recorded = new(1, false);

    public static readonly ReplayPace AsFastAsAccepted = new(1, true);

    public static ReplayPace Faster(double speedup) =>
        speedup > 0 ? new ReplayPace(speedup, false) : throw new ArgumentOutOfRangeException(nameof(speedup), speedup, "speedup must be > 0");
}

/// <summary>What a capture session did; the same numbers go into <see cref="RunStopped"/>.</summary>
public sealed record CaptureResult(long FramesPublished, long FramesShed, long FramesUnreadable, TimeSpan Elapsed, string Reason)
{
    /// <summary>Of <see cref="FramesPublished"/>, those the frame plan decimated (published without an image).</summary>
    public long FramesDecimated { get; init; }
}

/// <summary>
/// Publishes a frame source into a run: one <see cref="FrameCaptured"/> per readable frame with the deterministic id
/// <c>MessageIds.For(runId, "frame:" + cameraId, sequence)</c>, paced as asked; unreadable frames are counted and
/// reported, frames the broker refuses (queue full) are counted as shed and never retried in a loop. Finally
/// <see cref="RunStopped"/> with the counts. RunStarted is the caller's.
/// </summary>
public sealed class CaptureSession(
    IFrameSource source,
    IMessagePublisher publisher,
    ReplayPace pace,
    IReadOnlyList<CameraMounting> cameras,
    WorkerCounters? counters = null,
    ILogger? logger = null)
{
    public const string FramesCaptured = "frames_captured";
    public const string FramesShed = "frames_shed";
    public const string FramesUnreadable = "frames_unreadable";
    public const string FramesDecimated = "frames_decimated";

    /// <summary>Longest wait between attempts while a max-rate replay is held back by a full frames queue.</summary>
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromMilliseconds(500);

    private readonly ILogger _logger = logger ?? NullLogger.Instance;

    /// <summary>Added to the source's frame numbers (a resumed run continues after the interrupted capture's frames).</summary>
    public long FirstSequence { get; init; }

    /// <summary>False for a resumed run: its RunStopped counts only this session's frames.</summary>
    public bool CountsCoverRun { get; init; } = true;

    /// <summary>
    /// How often a <see cref="RunCaptureProgress"/> goes into the run ledger while frames are confirmed; null for none
    /// (`treescout scan`, whose run cannot be interrupted without the scan).
    /// </summary>
    public TimeSpan? ProgressInterval { get; init; }

    /// <summary>Which frames are decimated and on which rows detection looks (docs/adr/0065); null: every frame, whole.</summary>
    public FramePlanner? Plan { get; init; }

    // Detection rotates each frame upright by its camera's mount rotation; capture stamps it on the frame.
    private readonly Dictionary<string, int> _mountRotation = cameras.ToDictionary(c => c.CameraId, c => c.MountRotationDeg, StringComparer.Ordinal);

    public async Task<CaptureResult> RunAsync(string runId, CancellationToken cancellationToken)
    {
        long published = 0, shed = 0, unreadable = 0, decimated = 0;
        var clock = Stopwatch.StartNew();
        var progressDue = TimeSpan.Zero;
        long? firstMonotonic = null;
        var reason = "end-of-recording";
        try
        {
            foreach (var frame in source.Frames(cancellationToken))
            {
                if (!frame.IsReadable)
                {
                    unreadable++;
                    counters?.Add(FramesUnreadable);
                    _logger.LogWarning("Frame {CameraId}/{Sequence} skipped: {Problem}", frame.CameraId, frame.Sequence, frame.Problem);
                    continue;
                }
                if (source.IsRecorded && !pace.MaxRate)
                {
                    firstMonotonic ??= frame.MonotonicNs;
                    var due = TimeSpan.FromTicks((long)((frame.MonotonicNs - firstMonotonic.Value) / 100 / pace.Speedup));
                    var wait = due - clock.Elapsed;
                    if (wait > TimeSpan.Zero)
                    {
                        await Task.Delay(wait, cancellationToken);
                    }
                }
                var decision = Plan?.Decide(frame.CameraId, frame.CapturedAtUtc, frame.MonotonicNs) ?? default;
                if (await PublishAsync(runId, frame, decision, cancellationToken))
                {
                    published++;
                    if (decision.Decimated)
                    {
                        decimated++;
                        counters?.Add(FramesDecimated);
                    }
                    counters?.Add(FramesCaptured);
                    // Per camera too: the console shows frames per second of each camera.
                    counters?.Add(FramesCaptured + "." + frame.CameraId);
                    if (ProgressInterval is { } interval && clock.Elapsed >= progressDue)
                    {
                        await PublishProgressAsync(runId, published, cancellationToken);
                        progressDue = clock.Elapsed + interval;
                    }
                }
                else
                {
                    shed++;
                    counters?.Add(FramesShed);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stop requested: handled below.
        }
        catch (IOException ex)
        {
            // A live camera that stopped delivering: end the run's capture cleanly with what was published.
            _logger.LogError("Capture source {Source} lost: {Reason}", source.Description, ex.Message);
            reason = "source-lost";
        }
        if (cancellationToken.IsCancellationRequested)
        {
            reason = "operator";
        }
        else if (!source.IsRecorded && reason == "end-of-recording")
        {
            reason = "end-of-source";
        }
        var result = new CaptureResult(published, shed, unreadable, clock.Elapsed, reason) { FramesDecimated = decimated };
        await publisher.PublishAsync(new RunStopped
        {
            MessageId = MessageIds.For(runId, "run-stopped", 0),
            RunId = runId,
            StoppedAtUtc = DateTimeOffset.UtcNow,
            FramesPublished = published,
            FramesShed = shed,
            FramesDecimated = decimated,
            FramesUnreadable = unreadable,
            Reason = reason,
            CountsCoverRun = CountsCoverRun,
        }, CancellationToken.None);
        _logger.LogInformation("Capture of {Source} ended ({Reason}): {Published} frames published ({Decimated} of them decimated), {Shed} shed, {Unreadable} unreadable in {Elapsed:F1} s",
            source.Description, reason, published, decimated, shed, unreadable, clock.Elapsed.TotalSeconds);
        return result;
    }

    private Task PublishProgressAsync(string runId, long published, CancellationToken cancellationToken) =>
        publisher.PublishAsync(new RunCaptureProgress
        {
            MessageId = MessageIds.For(runId, "capture-progress:" + FirstSequence.ToString(CultureInfo.InvariantCulture), published),
            RunId = runId,
            ConfirmedAtUtc = DateTimeOffset.UtcNow,
            FramesPublished = published,
            FirstSequence = FirstSequence,
        }, cancellationToken);

    /// <summary>True when confirmed; false when refused because the frames queue is full (shed).</summary>
    private async Task<bool> PublishAsync(string runId, SourceFrame frame, FrameDecision decision, CancellationToken cancellationToken)
    {
        var message = new FrameCaptured
        {
            MessageId = MessageIds.For(runId, "frame:" + frame.CameraId, FirstSequence + frame.Sequence),
            RunId = runId,
            Sequence = FirstSequence + frame.Sequence,
            CameraId = frame.CameraId,
            CapturedAtUtc = frame.CapturedAtUtc,
            MonotonicNs = frame.MonotonicNs,
            Width = frame.Width,
            Height = frame.Height,
            MountRotationDeg = _mountRotation.GetValueOrDefault(frame.CameraId),
            // A decimated frame travels without its image: only its place in the run's count.
            Jpeg = decision.Decimated ? [] : frame.Jpeg!,
            Decimated = decision.Decimated,
            CanopyBand = decision.Decimated ? null : decision.CanopyBand,
        };
        var backoff = TimeSpan.FromMilliseconds(10);
        while (true)
        {
            try
            {
                await publisher.PublishAsync(message, cancellationToken);
                return true;
            }
            catch (PublishRejectedException ex) when (!(source.IsRecorded && pace.MaxRate))
            {
                _logger.LogDebug("Frame {CameraId}/{Sequence} shed: {Reason}", frame.CameraId, frame.Sequence, ex.Message);
                return false;
            }
            catch (PublishRejectedException)
            {
                // A recording can wait: hold the replay back until detection has made room (backpressure, not shedding).
                await Task.Delay(backoff, cancellationToken);
                backoff = TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, backoff.Ticks * 2));
            }
        }
    }
}

/// <summary>
/// Replays a recording folder's frames into a run — the capture half of `treescout scan`:
/// <c>await new RecordingPlayer(recording, bus, ReplayPace.AsFastAsAccepted).PlayAsync(runId, ct)</c>.
/// </summary>
public sealed class RecordingPlayer(Recording recording, IMessagePublisher publisher, ReplayPace pace, WorkerCounters? counters = null, ILogger? logger = null)
{
    /// <summary>The run's frame plan; null: every frame, whole.</summary>
    public FramePlanner? Plan { get; init; }

    public async Task<CaptureResult> PlayAsync(string runId, CancellationToken cancellationToken)
    {
        recording.Validate();
        using var source = new RecordingFrameSource(recording);
        return await new CaptureSession(source, publisher, pace, recording.ReadCameras().Cameras, counters, logger) { Plan = Plan }.RunAsync(runId, cancellationToken);
    }
}
