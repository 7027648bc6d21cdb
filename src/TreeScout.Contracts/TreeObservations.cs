namespace TreeScout.Contracts;

/// <summary>
/// One blossom cluster, seen in one or more consecutive frames, geo-referenced and attributed to a tree.
/// Fusion emits each physical cluster once (de-duplicated across overlapping frames), possibly in several revisions.
/// </summary>
public sealed record BlossomClusterObservation
{
    /// <summary>Deterministic id (derived from run and the frames that saw it): the writer's idempotency key.</summary>
    public required Guid ObservationId { get; init; }

    /// <summary>Tree the cluster hangs on, e.g. "R03-T017"; null when it could not be attributed.</summary>
    public string? TreeId { get; init; }

    public string? RowId { get; init; }

    /// <summary>Cluster position, WGS84 degrees.</summary>
    public required double Latitude { get; init; }

    public required double Longitude { get; init; }

    /// <summary>Height above ground, metres.</summary>
    public double? HeightM { get; init; }

    /// <summary>Distance along the row from its first end, metres.</summary>
    public double? AlongRowM { get; init; }

    /// <summary>1-sigma horizontal position uncertainty of the cluster, metres.</summary>
    public required double PositionSigmaM { get; init; }

    /// <summary>True when the position is too uncertain to trust the tree attribution (sigma above half the tree spacing, no usable pose, ...).</summary>
    public required bool LowConfidence { get; init; }

    /// <summary>Why it is low-confidence, when it is.</summary>
    public string? LowConfidenceReason { get; init; }

    public required BbchStage Stage { get; init; }

    public required float[] StageProbabilities { get; init; }

    /// <summary>Best detector score over the frames that saw it.</summary>
    public required float Score { get; init; }

    public required int FramesSeen { get; init; }

    public required long FirstFrameSequence { get; init; }

    public required long LastFrameSequence { get; init; }

    public required string CameraId { get; init; }

    /// <summary>
    /// The side of its row the cluster was seen from (<see cref="RowSides"/>: the alley left or right of the row looking
    /// from its first end); null when it is on no row or came from a fusion that did not say.
    /// </summary>
    public string? RowSide { get; init; }

    /// <summary>Worst fix quality used to place it.</summary>
    public required GnssQuality GnssQuality { get; init; }

    /// <summary>GNSS time at which the cluster was best seen.</summary>
    public required DateTimeOffset ObservedAtUtc { get; init; }

    /// <summary>
    /// Version of this observation (docs/adr/0073): fusion shows a cluster when its track leaves the view (revision 1)
    /// and publishes a higher revision when the final one differs; a reader keeps the highest revision of an id and
    /// ignores a lower or equal one (a redelivery). Absent from older senders, whose observations were final: 1 (the
    /// source-generated reader sets a missing member to 0, so anything below 1 reads as 1).
    /// </summary>
    public int Revision
    {
        get => _revision;
        init => _revision = Math.Max(1, value);
    }

    private readonly int _revision = 1;

    /// <summary>
    /// This revision takes the observation off the map: the track it came from turned out to be another cluster's, or
    /// one seen through the faced row. A later, higher revision may show it again.
    /// </summary>
    public bool Retracted { get; init; }
}

/// <summary>A batch of cluster observations that fusion finalised together.</summary>
public sealed record TreeObservations : IMessage
{
    public const int CurrentSchemaVersion = 1;

    public required Guid MessageId { get; init; }

    public required string RunId { get; init; }

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;

    public required IReadOnlyList<BlossomClusterObservation> Observations { get; init; }
}

/// <summary>Per fix-quality counts of the fixes fusion used in a run.</summary>
public sealed record GnssQualitySummary(long RtkFixed, long RtkFloat, long Dgps, long Autonomous, long Other, long MalformedNmeaLines);

/// <summary>Fusion has emitted every observation of a run; sent after them on the same exchange so it arrives last.</summary>
public sealed record RunFused : IMessage
{
    public const int CurrentSchemaVersion = 1;

    public required Guid MessageId { get; init; }

    public required string RunId { get; init; }

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;

    public required long ObservationsPublished { get; init; }

    public required long FramesFused { get; init; }

    /// <summary>Frames that had no usable pose (GNSS gap beyond the limit, no fix at all): reported, their clusters flagged.</summary>
    public required long FramesWithoutPose { get; init; }

    /// <summary>Frames announced by <see cref="RunStopped"/> that never arrived (e.g. dead-lettered as undecodable).</summary>
    public required long FramesMissing { get; init; }

    public required GnssQualitySummary Gnss { get; init; }

    /// <summary>Estimated camera-host clock minus GNSS time, milliseconds.</summary>
    public double? ClockOffsetMs { get; init; }

    /// <summary>"stopped" (capture or the operator ended it) or "idle" (fusion finished it after no frame came for its idle timeout).</summary>
    public string EndReason { get; init; } = "stopped";

    /// <summary>Models whose detections were fused in this run (detector, stage classifier), so a map can be traced to them.</summary>
    public IReadOnlyList<ModelIdentity> Models { get; init; } = [];

    /// <summary>The run's block plan does not fit the block scanned (null: it fits, or the run has no plan).</summary>
    public PlanMismatch? PlanMismatch { get; init; }
}

/// <summary>One camera's frames in a <see cref="RunFusionProgress"/>: every frame numbered below <see cref="AcknowledgedBelow"/> is accounted for.</summary>
public sealed record CameraFusionProgress(string CameraId, long AcknowledgedBelow, long FramesFused, long FramesWithoutPose, long FramesLate);

/// <summary>
/// Fusion's running account of a run, appended to the run ledger (and confirmed) before the frames and fixes it counts
/// are acknowledged. Cumulative over every fusion process of the run: a process that takes the run up after a crash
/// starts from the last one, so RunFused counts each frame and fix once however often fusion restarted.
/// </summary>
public sealed record RunFusionProgress : IMessage
{
    public const int CurrentSchemaVersion = 1;

    public required Guid MessageId { get; init; }

    public required string RunId { get; init; }

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;

    public required IReadOnlyList<CameraFusionProgress> Cameras { get; init; }

    /// <summary>Fixes with an earlier time are accounted for in <see cref="Fixes"/>; null before any was.</summary>
    public DateTimeOffset? FixesBefore { get; init; }

    public required GnssQualitySummary Fixes { get; init; }
}

/// <summary>
/// Fusion saw canopy in <paramref name="FramesOffPlan"/> frames farther than Fusion:PlanMismatchDistanceM from every row
/// of the run's plan (at least Fusion:PlanMismatchFrames of them), the last <paramref name="DistanceM"/> metres away:
/// another block's plan, or latitude and longitude swapped. Clusters there are kept, flagged, not counted on trees.
/// </summary>
public sealed record PlanMismatch(long FramesOffPlan, double DistanceM);
