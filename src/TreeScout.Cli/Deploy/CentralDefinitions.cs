using System.Text.RegularExpressions;
using TreeScout.Messaging;

namespace TreeScout.Cli.Deploy;

/// <summary>
/// The central broker's boot definitions (docs/adr/0057): its virtual host, exchange, ingest queue with its dead-letter
/// pair (<see cref="RabbitMqTopology.Central"/>, the declarations the ingest worker makes itself in development), the
/// ingest worker's user, and one user per tractor that may only publish to the central exchange under its own
/// tractor's keys (a topic permission: RabbitMQ refuses any other key with 403 ACCESS_REFUSED). Like the tractor's
/// definitions, no users or passwords: render-definitions.sh adds them from the central site's Secret.
/// </summary>
public static class CentralDefinitions
{
    public const string IngestUser = "treescout-central-ingest";

    /// <param name="tractorIds">The tractors that may forward their runs.</param>
    /// <param name="vhost">The central virtual host; another name only for tests sharing one broker.</param>
    public static string Generate(IReadOnlyList<string> tractorIds, string vhost = CentralTopology.VirtualHost)
    {
        if (tractorIds.Count == 0)
        {
            throw new ArgumentException("Name at least one tractor.", nameof(tractorIds));
        }
        var duplicate = tractorIds.GroupBy(t => t, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new ArgumentException($"Tractor id '{duplicate.Key}' is named twice.", nameof(tractorIds));
        }
        var tractors = tractorIds.Select(CentralTopology.CheckTractorId).Order(StringComparer.Ordinal).ToList();
        var ingest = CentralTopology.IngestQueueSpec(new TopologyOptions());
        var exchange = $"^{Regex.Escape(CentralTopology.Exchange)}$";
        return RabbitMqDefinitions.Write(
            vhost,
            [
                // The ingest worker dead-letters by publishing to its queue's dead-letter exchange, as the tractor's workers do.
                new UserPermission(IngestUser, BrokerPermissions.Nothing, $"^{Regex.Escape(ingest.DeadLetterExchange)}$", $"^{Regex.Escape(ingest.Name)}$"),
                .. tractors.Select(t => new UserPermission(CentralTopology.TractorUser(t), BrokerPermissions.Nothing, exchange, BrokerPermissions.Nothing)),
            ],
            [.. tractors.Select(t => new TopicPermission(CentralTopology.TractorUser(t), CentralTopology.Exchange, OwnKeys(t), BrokerPermissions.Nothing))],
            [],
            RabbitMqTopology.Central(new TopologyOptions()));
    }

    /// <summary>The routing keys a tractor may publish: tractor.&lt;its id&gt;.anything.</summary>
    public static string OwnKeys(string tractorId) => $"^{Regex.Escape(CentralTopology.RoutingKey(tractorId, ""))}";
}
