namespace TreeScout.Fusion.Tracking;

/// <summary>A frame as the tracker sees it; <see cref="OpenTracks"/> counts its tracks not yet reported (acknowledgement waits for 0).</summary>
public sealed class FrameTicket(long sequence, Guid messageId, DateTimeOffset capturedAtUtc)
{
    public long Sequence { get; } = sequence;

    public Guid MessageId { get; } = messageId;

    /// <summary>Capture time on the camera host's clock.</summary>
    public DateTimeOffset CapturedAtUtc { get; } = capturedAtUtc;

    public int OpenTracks { get; set; }
}
