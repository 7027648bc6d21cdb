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
}
