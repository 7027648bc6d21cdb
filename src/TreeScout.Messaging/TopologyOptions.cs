using System.ComponentModel.DataAnnotations;

namespace TreeScout.Messaging;

/// <summary>Queue limits. Changing them on an existing broker means re-creating the queues (docs/adr/0002).</summary>
public sealed class TopologyOptions
{
    /// <summary>Failed handler attempts (exceptions) before a message is dead-lettered with the handler's reason.</summary>
    [Range(1, 100)]
    public int DeliveryLimit { get; set; } = 5;

    /// <summary>
    /// The broker's own limit (x-delivery-limit): deliveries of one message, however they ended — consumer crashes and
    /// power cuts count too — before the broker dead-letters it. Far above <see cref="DeliveryLimit"/>, so a worker in a
    /// crash loop never loses the messages it held; it still ends a message that kills every process that takes it.
    /// </summary>
    [Range(1, 1000)]
    public int BrokerDeliveryLimit { get; set; } = 50;

    /// <summary>How long the run ledger keeps run facts (a season).</summary>
    [Range(1, 3650)]
    public int RunLedgerRetentionDays { get; set; } = 120;

    /// <summary>Frames waiting for detection before new frames are refused (shed and counted by capture).</summary>
    [Range(10, 1_000_000)]
    public long FramesMaxLength { get; set; } = 3000;

    [Range(1_000_000, 100_000_000_000)]
    public long FramesMaxLengthBytes { get; set; } = 1_000_000_000;

    /// <summary>
    /// The tractor forwards its runs to a central broker: the topology has the uplink queue the broker's shovel drains
    /// (docs/adr/0057). Off by default: without a shovel the queue would only grow.
    /// </summary>
    public bool Uplink { get; set; }
}
