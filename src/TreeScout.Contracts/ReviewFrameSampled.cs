namespace TreeScout.Contracts;

/// <summary>Why detection kept a frame for review (docs/labelling.md, "Which frames are kept").</summary>
public enum ReviewSampleReason
{
    /// <summary>Every Nth analysed frame of a camera.</summary>
    EveryNth,

    /// <summary>The most uncertain frame of its window so far (the map writer keeps the window's most uncertain one).</summary>
    Uncertain,
}

/// <summary>
/// A frame detection kept for the reviewers: the upright JPEG its boxes refer to, what the models proposed on it and why
/// it was kept. Published by detection, written by the map writer into the run folder's review/samples (docs/adr/0068).
/// JSON like every message but frames: the image is base64 (a few frames a minute, see docs/wire-format.md).
/// </summary>
public sealed record ReviewFrameSampled : IMessage
{
    public const int CurrentSchemaVersion = 1;

    public required Guid MessageId { get; init; }

    public required string RunId { get; init; }

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;

    public required Guid FrameMessageId { get; init; }

    public required long Sequence { get; init; }

    public required string CameraId { get; init; }

    public required DateTimeOffset CapturedAtUtc { get; init; }

    /// <summary>Size of <see cref="Jpeg"/>, the upright frame (after the mount rotation was undone).</summary>
    public required int Width { get; init; }

    public required int Height { get; init; }

    public required byte[] Jpeg { get; init; }

    public required ModelIdentity Detector { get; init; }

    public required ModelIdentity StageClassifier { get; init; }

    /// <summary>The frame's detections, as in its <see cref="FrameDetections"/>.</summary>
    public required IReadOnlyList<BlossomDetection> Detections { get; init; }

    public required ReviewSampleReason Reason { get; init; }

    /// <summary>0..1, the frame's uncertainty (docs/labelling.md).</summary>
    public required double Uncertainty { get; init; }

    /// <summary>
    /// Frames per uncertainty window: frames <c>k·W … k·W+W−1</c> of a camera form window k, of which the map writer keeps
    /// the most uncertain.
    /// </summary>
    public required int WindowFrames { get; init; }
}

/// <summary>
/// Where the tractor was when a frame kept for review was taken: fusion's pose at the frame's GNSS time (camera clock
/// corrected by fusion's offset estimate), for a frame whose <see cref="FrameDetections.KeptForReview"/> is set. Sent to
/// the map writer, which adds it to the frame's review sample (docs/labelling.md).
/// </summary>
public sealed record ReviewFramePose : IMessage
{
    public const int CurrentSchemaVersion = 1;

    public required Guid MessageId { get; init; }

    public required string RunId { get; init; }

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;

    public required string CameraId { get; init; }

    public required long Sequence { get; init; }

    /// <summary>GNSS antenna position, WGS84 degrees.</summary>
    public required double Latitude { get; init; }

    public required double Longitude { get; init; }

    /// <summary>Direction of travel, degrees clockwise from grid north.</summary>
    public required double HeadingDeg { get; init; }

    /// <summary>1-sigma horizontal position uncertainty, metres.</summary>
    public required double PositionSigmaM { get; init; }

    public required GnssQuality Quality { get; init; }

    /// <summary>Why the pose is doubtful (stretched over a GNSS gap, ...), or null.</summary>
    public string? Flag { get; init; }
}
