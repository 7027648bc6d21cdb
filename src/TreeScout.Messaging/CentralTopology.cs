using System.Text.RegularExpressions;

namespace TreeScout.Messaging;

/// <summary>
/// The central site's broker, where every tractor's runs arrive (store-and-forward uplink): each tractor forwards its
/// run messages unchanged (body and headers as on the tractor) into one topic exchange, under a routing key that starts
/// with its own id, <c>tractor.&lt;tractor id&gt;.&lt;the tractor's routing key&gt;</c>. The central broker lets each
/// tractor's user publish only keys of its own id; the central ingest worker reads the tractor id from the key.
/// </summary>
public static partial class CentralTopology
{
    public const string VirtualHost = "treescout-central";

    public const string Exchange = "treescout.central";

    /// <summary>The central ingest worker's queue, bound to every tractor's keys.</summary>
    public const string IngestQueue = "treescout.central.ingest";

    public const string IngestBinding = "tractor.#";

    /// <summary>
    /// The key under which a tractor's uplink shovel forwards every message (docs/adr/0057): one key per tractor, so
    /// one queue and one shovel keep the run's order; the message's type is in its own headers (MessageCodec).
    /// </summary>
    public const string UplinkKey = "uplink";

    /// <summary>The central broker user a tractor's uplink connects as; it may publish only its own tractor's keys.</summary>
    public static string TractorUser(string tractorId) => User(CheckTractorId(tractorId));

    /// <summary>The ingest queue: a quorum work queue with a dead-letter pair, like a tractor's work queues.</summary>
    public static QueueSpec IngestQueueSpec(TopologyOptions options) => Topology.WorkQueue(IngestQueue, [new(Exchange, IngestBinding)], options);

    /// <summary>The central routing key for a message a tractor published under <paramref name="tractorRoutingKey"/>.</summary>
    public static string RoutingKey(string tractorId, string tractorRoutingKey) => Key(CheckTractorId(tractorId), tractorRoutingKey);

    /// <summary>
    /// The uplink's routing key and central user for a tractor id filled in later: a tractor's broker definitions hold
    /// <paramref name="placeholder"/>, which its init script replaces with the id from the broker Secret (and checks there).
    /// </summary>
    public static (string RoutingKey, string User) UplinkTemplate(string placeholder) => (Key(placeholder, UplinkKey), User(placeholder));

    private static string Key(string tractor, string tractorRoutingKey) => $"tractor.{tractor}.{tractorRoutingKey}";

    private static string User(string tractor) => $"tractor-{tractor}";

    /// <summary>The tractor a central routing key came from; null when the key is not a tractor's.</summary>
    public static string? TractorOf(string routingKey)
    {
        var parts = routingKey.Split('.', 3);
        return parts.Length == 3 && parts[0] == "tractor" && TractorIdPattern().IsMatch(parts[1]) ? parts[1] : null;
    }

    /// <summary>Tractor ids are one routing-key word, also used in user names and Kubernetes labels.</summary>
    public static string CheckTractorId(string tractorId) =>
        TractorIdPattern().IsMatch(tractorId)
            ? tractorId
            : throw new ArgumentException(
                $"Tractor id '{tractorId}' is not valid: use 1-32 lower-case letters, digits or '-', starting with a letter or digit.",
                nameof(tractorId));

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,31}$")]
    private static partial Regex TractorIdPattern();
}
