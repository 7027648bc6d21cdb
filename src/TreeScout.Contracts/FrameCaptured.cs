namespace TreeScout.Contracts;

/// <summary>
/// One camera frame. On RabbitMQ the JPEG travels as the raw message body and the other fields as headers
/// (see docs/wire-format.md); in JSON it is base64.
/// </summary>
public sealed record FrameCaptured : IMessage
{
    public const int CurrentSchemaVersion = 1;

    public required Guid MessageId { get; init; }

    public required string RunId { get; init; }

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;

    /// <summary>0-based frame counter within the run and camera.</summary>
    public required long Sequence { get; init; }

    public required string CameraId { get; init; }

    /// <summary>Capture time on the camera host's clock (offset from GNSS time is estimated by fusion).</summary>
    public required DateTimeOffset CapturedAtUtc { get; init; }

    /// <summary>Capture time on the host's monotonic clock, nanoseconds; immune to wall-clock steps.</summary>
    public required long MonotonicNs { get; init; }

    public required int Width { get; init; }

    public required int Height { get; init; }

    /// <summary>
    /// The camera's configured mount rotation (0/90/180/270, clockwise), copied from the run's CameraMounting by capture,
    /// so detection can rotate the image upright without needing the run's control messages.
    /// </summary>
    public int MountRotationDeg { get; init; }

    public required byte[] Jpeg { get; init; }

    /// <summary>
    /// Capture's frame plan skipped this frame (more frames per metre than fusion needs at this ground speed): no image
    /// (<see cref="Jpeg"/> empty), detection passes it on as a decimated <see cref="FrameDetections"/> without inference,
    /// so the run's frame count still closes (docs/adr/0065).
    /// </summary>
    public bool Decimated { get; init; }

    /// <summary>
    /// Rows of the upright frame the canopy can appear in, by the camera's geometry; detection runs the detector on
    /// these rows only. Null: the whole frame.
    /// </summary>
    public ImageRows? CanopyBand { get; init; }
}

/// <summary>Rows <see cref="Top"/> (inclusive) to <see cref="Bottom"/> (exclusive) of an image, pixels.</summary>
public sealed record ImageRows(int Top, int Bottom)
{
    public int Height => Bottom - Top;
}
