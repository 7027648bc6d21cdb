using TreeScout.Contracts;
using TreeScout.Fusion.Tracking;
using TreeScout.Messaging;

namespace TreeScout.Fusion.Runs;

public enum FrameArrival
{
    New,

    /// <summary>Its sequence number was already given up as missing.</summary>
    Late,

    /// <summary>A redelivery of a frame already held or already acknowledged.</summary>
    Duplicate,
}

/// <summary>A held frame: its detections, every delivery's acknowledgement, and its ticket in the tracker.</summary>
public sealed class FrameEntry(FrameDetections frame)
{
    public FrameDetections Frame { get; } = frame;

    public List<IDeferredAcknowledgement> Acks { get; } = [];

    public FrameTicket Ticket { get; } = new(frame.Sequence, frame.MessageId, frame.CapturedAtUtc);

    /// <summary>Set when processed: whether it had a usable pose.</summary>
    public bool WithoutPose { get; set; }
}

/// <summary>
/// One camera's frames of a run: a reorder buffer (detection replicas finish out of order), the frames waiting for a
/// pose, the processed frames waiting for their tracks to be published, and the completed frames waiting for the next
/// progress checkpoint, acknowledged strictly in sequence order.
/// </summary>
public sealed class CameraLane(ClusterTracker tracker, RegistrationOptions registration)
{
    private readonly SortedDictionary<long, FrameEntry> _reorder = [];
    private readonly Queue<FrameEntry> _awaiting = new();
    private readonly LinkedList<FrameEntry> _processed = new();
    private readonly Dictionary<long, FrameEntry> _held = [];
    private readonly HashSet<long> _acknowledged = [];
    private readonly List<FrameEntry> _completed = [];
    private readonly List<IDeferredAcknowledgement> _late = [];
    private long _next;

    // What the run ledger's progress checkpoints account for: every frame below _accountedBelow, by outcome.
    private long _accountedBelow;
    private long _fused;
    private long _withoutPose;
    private long _lateCount;

    public ClusterTracker Tracker => tracker;

    public PassRegistration Passes { get; } = new(registration);

    public int Held => _held.Count;

    /// <summary>Capture time (host clock) of the newest frame received.</summary>
    public DateTimeOffset? NewestCapture { get; private set; }

    public long? OldestUnacknowledged => OldestHeld()?.Frame.Sequence;

    /// <summary>
    /// Capture time of the oldest frame this lane may still need fixes for: its oldest held frame, or, with none held, the
    /// newest received (frames come in sequence order, so no later one is older); null before its first frame.
    /// </summary>
    public DateTimeOffset? OldestCaptureNeedingFixes => OldestHeld()?.Frame.CapturedAtUtc ?? NewestCapture;

    /// <summary>Frames received over every process of the run: those an earlier process accounted for, and this one's.</summary>
    public long Received { get; private set; }

    /// <summary>Frames completed or given up late whose acknowledgement waits for the next progress checkpoint.</summary>
    public bool HasUnacknowledged => _completed.Count > 0 || _late.Count > 0;

    /// <summary>Takes up an earlier process's account: frames below its boundary were counted and acknowledged (a redelivery is a duplicate).</summary>
    public void Restore(CameraFusionProgress progress)
    {
        _accountedBelow = progress.AcknowledgedBelow;
        _next = Math.Max(_next, progress.AcknowledgedBelow);
        (_fused, _withoutPose, _lateCount) = (progress.FramesFused, progress.FramesWithoutPose, progress.FramesLate);
        Received = _fused + _withoutPose + _lateCount;
    }

    /// <summary>This lane's account as it will be once the pending acknowledgements are made.</summary>
    public CameraFusionProgress ProgressAfterAcknowledgement(string cameraId) => new(
        cameraId,
        _completed.Count > 0 ? Math.Max(_accountedBelow, _completed[^1].Frame.Sequence + 1) : _accountedBelow,
        _fused + _completed.Count(e => !e.WithoutPose),
        _withoutPose + _completed.Count(e => e.WithoutPose),
        _lateCount + _late.Count);

    /// <summary>Acknowledges the completed and late frames; call only once a checkpoint that counts them is confirmed.</summary>
    public void AcknowledgePending()
    {
        var after = ProgressAfterAcknowledgement("");
        (_accountedBelow, _fused, _withoutPose, _lateCount) = (after.AcknowledgedBelow, after.FramesFused, after.FramesWithoutPose, after.FramesLate);
        foreach (var entry in _completed)
        {
            entry.Acks.ForEach(a => a.Acknowledge());
        }
        _late.ForEach(a => a.Acknowledge());
        _completed.Clear();
        _late.Clear();
    }

    public FrameArrival Add(FrameDetections frame, IDeferredAcknowledgement ack)
    {
        if (_acknowledged.Contains(frame.Sequence) || frame.Sequence < _accountedBelow)
        {
            ack.Acknowledge();
            return FrameArrival.Duplicate;
        }
        if (_held.TryGetValue(frame.Sequence, out var held))
        {
            held.Acks.Add(ack);
            return FrameArrival.Duplicate;
        }
        Received++;
        if (frame.Sequence < _next)
        {
            _acknowledged.Add(frame.Sequence);
            _late.Add(ack);
            return FrameArrival.Late;
        }
        var entry = new FrameEntry(frame);
        entry.Acks.Add(ack);
        _held[frame.Sequence] = entry;
        _reorder[frame.Sequence] = entry;
        if (NewestCapture is null || frame.CapturedAtUtc > NewestCapture)
        {
            NewestCapture = frame.CapturedAtUtc;
        }
        return FrameArrival.New;
    }

    /// <summary>Releases frames in sequence order; gives up on a missing one once more than <paramref name="window"/> frames wait behind it.</summary>
    public void Order(int window)
    {
        while (_reorder.Count > 0)
        {
            var first = _reorder.First();
            if (first.Key != _next && _reorder.Count <= window)
            {
                return;
            }
            _next = first.Key + 1;
            _reorder.Remove(first.Key);
            _awaiting.Enqueue(first.Value);
        }
    }

    public FrameEntry? NextAwaitingPose() => _awaiting.Count > 0 ? _awaiting.Peek() : null;

    public void MarkProcessed(FrameEntry entry)
    {
        _awaiting.Dequeue();
        _processed.AddLast(entry);
    }

    /// <summary>Completes processed frames from the oldest while all their tracks are published; they are acknowledged at the next checkpoint.</summary>
    public void Complete()
    {
        while (_processed.First is { } node && node.Value.Ticket.OpenTracks <= 0)
        {
            var entry = node.Value;
            _processed.RemoveFirst();
            _held.Remove(entry.Frame.Sequence);
            _acknowledged.Add(entry.Frame.Sequence);
            _completed.Add(entry);
        }
    }

    private FrameEntry? OldestHeld() =>
        _processed.First?.Value ?? (_awaiting.Count > 0 ? _awaiting.Peek() : _reorder.Count > 0 ? _reorder.First().Value : null);
}
