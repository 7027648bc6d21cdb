namespace TreeScout.Contracts;

/// <summary>An operator (or a replay) started a scan run. Carries everything downstream needs to interpret the run.</summary>
public sealed record RunStarted : IMessage
{
    public const int CurrentSchemaVersion = 1;

    public required Guid MessageId { get; init; }

    public required string RunId { get; init; }

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;

    public required DateTimeOffset StartedAtUtc { get; init; }

    /// <summary>Orchard block name as the grower knows it.</summary>
    public required string Block { get; init; }

    /// <summary>Apple variety; selects the thinning prescription profile.</summary>
    public string? Variety { get; init; }

    /// <summary>The block's planting plan (GeoJSON FeatureCollection in WGS84: rows as LineStrings, trees as Points); null = infer rows and trees.</summary>
    public string? BlockPlanGeoJson { get; init; }

    /// <summary>Nominal tree spacing in the row, metres; used when no plan lists the trees.</summary>
    public double? TreeSpacingM { get; init; }

    /// <summary>Nominal distance between rows, metres.</summary>
    public double? RowSpacingM { get; init; }

    public required IReadOnlyList<CameraMounting> Cameras { get; init; }

    /// <summary>"live" or "replay:&lt;recording name&gt;".</summary>
    public required string Source { get; init; }
}

/// <summary>The operator asked to end a run; the capture side stops and then announces <see cref="RunStopped"/>.</summary>
public sealed record RunStopRequested : IMessage
{
    public const int CurrentSchemaVersion = 1;

    public required Guid MessageId { get; init; }

    public required string RunId { get; init; }

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;

    public required DateTimeOffset RequestedAtUtc { get; init; }

    public string? RequestedBy { get; init; }
}

/// <summary>
/// Capture has ended for a run. The counts let later stages know when they have seen everything
/// (messages travel on different queues, so a stop can overtake the last frames).
/// </summary>
public sealed record RunStopped : IMessage
{
    public const int CurrentSchemaVersion = 1;

    public required Guid MessageId { get; init; }

    public required string RunId { get; init; }

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;

    public required DateTimeOffset StoppedAtUtc { get; init; }

    /// <summary>Frames the broker confirmed; every one of them will reach detection.</summary>
    public required long FramesPublished { get; init; }

    /// <summary>Frames refused by the broker under overload (frames queue full) and not retried.</summary>
    public long FramesShed { get; init; }

    /// <summary>
    /// Of <see cref="FramesPublished"/>, those the frame plan skipped as more than fusion needs at the ground speed
    /// (published without an image so the count closes; never inferred).
    /// </summary>
    public long FramesDecimated { get; init; }

    /// <summary>Frames the source delivered that could not be read or encoded.</summary>
    public long FramesUnreadable { get; init; }

    /// <summary>"operator", "end-of-recording", "source-lost", ...</summary>
    public required string Reason { get; init; }

    /// <summary>
    /// A replay's GNSS fixes for the run, all published before this message (fusion then knows when the last one is in);
    /// null for a live run, whose fixes fusion reads from the receiver itself.
    /// </summary>
    public long? GnssFixesPublished { get; init; }

    /// <summary>
    /// Malformed lines in a replay's NMEA (it decodes the recording itself, so fusion reports this count for the run);
    /// null for a live run, whose malformed lines fusion's own receiver reader counts.
    /// </summary>
    public long? MalformedNmeaLines { get; init; }

    /// <summary>
    /// False when the counts cover only part of the run: capture resumed it after a restart, or the operator stopped a run
    /// whose capture is gone. Fusion then ends the run when its queues have been quiet, not by the counts.
    /// </summary>
    public bool CountsCoverRun { get; init; } = true;
}

/// <summary>
/// A marker a worker appends to the run ledger (<c>treescout.runs</c>) before reading it: once the reader sees its own
/// marker it has read every run fact published before it. Not a run fact; <see cref="RunId"/> is always <see cref="LedgerRunId"/>.
/// </summary>
public sealed record RunLedgerMark : IMessage
{
    public const int CurrentSchemaVersion = 1;

    public const string LedgerRunId = "ledger";

    public required Guid MessageId { get; init; }

    public string RunId { get; init; } = LedgerRunId;

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;

    /// <summary>Who reads the ledger ("fusion", "capture", "cli", ...).</summary>
    public required string Reader { get; init; }
}

/// <summary>
/// Capture's account of a run it is filming, appended to the run ledger every few seconds while frames are confirmed:
/// after a power cut it tells how far the run got and when, so the interruption's length is known.
/// </summary>
public sealed record RunCaptureProgress : IMessage
{
    public const int CurrentSchemaVersion = 1;

    public required Guid MessageId { get; init; }

    public required string RunId { get; init; }

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;

    /// <summary>When the last frame counted here was confirmed by the broker (the capture host's clock).</summary>
    public required DateTimeOffset ConfirmedAtUtc { get; init; }

    /// <summary>Frames the broker confirmed in this capture session (a resumed run starts a new session).</summary>
    public required long FramesPublished { get; init; }

    /// <summary>The session's first frame number: 0 for the run's start, later for a resumed run.</summary>
    public long FirstSequence { get; init; }
}

/// <summary>
/// Capture found, when it started, a run the ledger shows active that it was no longer filming (power cut, crash):
/// the gap runs from the last confirmed frame it knows of to now. <see cref="Resumed"/> when it films the run again;
/// a recorded source cannot resume, so that run waits for the operator's stop or fusion's idle finish.
/// </summary>
public sealed record RunInterrupted : IMessage
{
    public const int CurrentSchemaVersion = 1;

    public required Guid MessageId { get; init; }

    public required string RunId { get; init; }

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;

    /// <summary>The last frame confirmed before the interruption (or the run's start when none was recorded).</summary>
    public required DateTimeOffset InterruptedAtUtc { get; init; }

    /// <summary>When capture noticed it, on restart; with <see cref="Resumed"/>, when filming began again.</summary>
    public required DateTimeOffset NoticedAtUtc { get; init; }

    public required bool Resumed { get; init; }
}
