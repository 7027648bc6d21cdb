namespace TreeScout.Messaging;

/// <summary>A message as it travels: transport-neutral body and headers (docs/wire-format.md).</summary>
public sealed record MessageEnvelope(
    Guid MessageId,
    string Type,
    string ContentType,
    IReadOnlyDictionary<string, string> Headers,
    ReadOnlyMemory<byte> Body)
{
    public string? Header(string name) => Headers.TryGetValue(name, out var v) ? v : null;
}

/// <summary>Header names of the wire format.</summary>
public static class WireHeaders
{
    public const string SchemaVersion = "ts-schema";
    public const string RunId = "ts-run";
    public const string Sequence = "ts-seq";
    public const string CameraId = "ts-camera";
    public const string CapturedAt = "ts-captured-at";
    public const string MonotonicNs = "ts-monotonic-ns";
    public const string Width = "ts-width";
    public const string Height = "ts-height";
    public const string MountRotation = "ts-mount-rotation";

    /// <summary>"true" on a frame the frame plan skipped (absent otherwise).</summary>
    public const string Decimated = "ts-decimated";

    /// <summary>The canopy band's rows of the upright frame, "top,bottom" (absent: the whole frame).</summary>
    public const string CanopyBand = "ts-canopy-band";

    // Added when a message is dead-lettered by a TreeScout consumer.
    public const string Error = "x-treescout-error";
    public const string ErrorType = "x-treescout-error-type";
    public const string FailedQueue = "x-treescout-queue";
    public const string FailedWorker = "x-treescout-worker";
    public const string DeliveryCount = "x-treescout-delivery-count";
    public const string FailedAt = "x-treescout-failed-at";

    /// <summary>The routing key the message was published with (on the central broker it names the tractor).</summary>
    public const string RoutingKey = "x-treescout-routing-key";
}
