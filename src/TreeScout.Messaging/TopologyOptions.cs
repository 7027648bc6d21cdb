using System.ComponentModel.DataAnnotations;

namespace TreeScout.Messaging;

/// <summary>Queue limits. Changing them on an existing broker means re-creating the queues (docs/adr/0002).</summary>
public sealed class TopologyOptions
{
    /// <summary>Deliveries of one message before it is dead-lettered (handler failures and consumer deaths both count).</summary>
    [Range(1, 100)]
    public int DeliveryLimit { get; set; } = 5;

    /// <summary>Frames waiting for detection before new frames are refused (shed and counted by capture).</summary>
    [Range(10, 1_000_000)]
    public long FramesMaxLength { get; set; } = 3000;

    [Range(1_000_000, 100_000_000_000)]
    public long FramesMaxLengthBytes { get; set; } = 1_000_000_000;
}
