using System.Text.RegularExpressions;
using TreeScout.Messaging;

namespace TreeScout.Cli.Deploy;

/// <summary>One broker user's permissions in a virtual host: three regexes matched against resource names.</summary>
public sealed record BrokerPermission(WorkerRole Role, string Configure, string Write, string Read);

/// <summary>
/// Least-privilege RabbitMQ permissions derived from <see cref="Topology.EndpointsOf"/>, never from a hand-kept list.
/// RabbitMQ checks: basic.publish → write on the exchange; basic.consume → read on the queue; queue.bind → write on
/// the queue and read on the exchange; a non-passive declare → configure on the name (passive declares need nothing).
/// Workers do not declare in the deployment (docs/adr/0050), so they get no configure right; a worker dead-letters by
/// publishing to its queue's dead-letter exchange, so it writes there. The CLI listens on exclusive server-named
/// queues (amq.gen-*), which it declares, binds and consumes. Every role reads the run ledger stream.
/// </summary>
public static class BrokerPermissions
{
    public const string ServerNamedQueues = "amq.gen-";

    /// <summary>Matches nothing: RabbitMQ's idiom for "no permission".</summary>
    public const string Nothing = "^$";

    public static IReadOnlyList<WorkerRole> Roles { get; } = Enum.GetValues<WorkerRole>();

    public static BrokerPermission For(WorkerRole role, Topology topology)
    {
        var endpoints = Topology.EndpointsOf(role);
        var deadLetterExchanges = endpoints.ConsumedQueues.Select(q => topology.Queue(q).DeadLetterExchange);
        var listens = endpoints.ListenedExchanges.Count > 0;
        return new BrokerPermission(
            role,
            Configure: listens ? Prefix(ServerNamedQueues) : Nothing,
            Write: Join([.. endpoints.PublishedExchanges, .. deadLetterExchanges], listens),
            Read: Join([.. endpoints.ConsumedQueues, Topology.RunLedgerStream, .. endpoints.ListenedExchanges], listens));
    }

    /// <summary>^(a|b)$ over exact names (dots escaped), plus the server-named queue prefix when the role listens.</summary>
    private static string Join(IEnumerable<string> names, bool withServerNamedQueues)
    {
        var alternatives = names.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).Select(Regex.Escape).ToList();
        if (withServerNamedQueues)
        {
            alternatives.Add(Regex.Escape(ServerNamedQueues) + ".*");
        }
        return alternatives.Count == 0 ? Nothing : $"^({string.Join('|', alternatives)})$";
    }

    private static string Prefix(string prefix) => $"^{Regex.Escape(prefix)}.*$";
}
