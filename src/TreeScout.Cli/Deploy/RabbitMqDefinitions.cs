using System.Text;
using System.Text.Json;
using TreeScout.Hosting;
using TreeScout.Messaging;

namespace TreeScout.Cli.Deploy;

/// <summary>
/// The broker's boot definitions (RabbitMQ definitions JSON): the virtual host, one user's permissions per
/// <see cref="WorkerRole"/>, and the exchanges, queues (with their arguments) and bindings of <see cref="RabbitMqTopology"/>,
/// the same declarations a worker makes when it declares the topology itself. Users and passwords are not in it: they
/// come from a Secret at pod start (deploy/k3s/base/rabbitmq/render-definitions.sh, docs/adr/0051).
/// The output is deterministic so the committed deploy/k3s/base/rabbitmq/definitions.json can be compared with it.
/// </summary>
public static class RabbitMqDefinitions
{
    public const string DefaultVhost = "treescout";
    public const string DefaultUserPrefix = "treescout-";

    /// <summary>In the uplink's shovel, replaced by the broker's init script with the Secret's key of the same name.</summary>
    public const string UplinkUriPlaceholder = "@uplink-uri@";

    /// <inheritdoc cref="UplinkUriPlaceholder"/>
    public const string UplinkTractorPlaceholder = "@uplink-tractor@";

    /// <summary>The dynamic shovel's name on a tractor broker.</summary>
    public const string UplinkShovelName = "treescout-uplink";

    public static string UserName(WorkerRole role, string userPrefix = DefaultUserPrefix) => userPrefix + WorkerIdentity.NameOf(role);

    /// <summary>The tractor's definitions; with <see cref="TopologyOptions.Uplink"/> also the uplink queue and its shovel.</summary>
    public static string Generate(Topology topology, string vhost = DefaultVhost, string userPrefix = DefaultUserPrefix) =>
        Write(
            vhost,
            [.. BrokerPermissions.Roles.Select(role => WorkerPermission(role, topology, userPrefix))],
            [],
            topology.Options.Uplink ? [UplinkShovel(vhost, new RabbitMqTopology(topology))] : [],
            new RabbitMqTopology(topology));

    private static UserPermission WorkerPermission(WorkerRole role, Topology topology, string userPrefix)
    {
        var p = BrokerPermissions.For(role, topology);
        return new UserPermission(UserName(role, userPrefix), p.Configure, p.Write, p.Read);
    }

    /// <summary>
    /// The uplink (docs/adr/0057): the broker itself drains <see cref="Topology.UplinkQueue"/> into the central exchange
    /// under the tractor's one key, acknowledging each message on the tractor only once the central broker confirmed
    /// it (on-confirm), so a dropped link loses nothing and resends at most the unconfirmed window. user_id makes the
    /// central broker check that the connection's user is the tractor's. The URI (with the tractor's central password)
    /// and the tractor id are placeholders the init script fills from the Secret: never in git. The source queue's
    /// arguments are the definitions' own: a definitions import starts the shovel concurrently with the queues
    /// (rabbitmq-server#2799), and a shovel that wins declares its missing source queue — with these, as the same
    /// quorum queue rather than a classic one.
    /// </summary>
    public static Shovel UplinkShovel(string vhost, RabbitMqTopology declarations) => new(
        UplinkShovelName,
        vhost,
        SourceUri: "amqp:///" + Uri.EscapeDataString(vhost),
        SourceQueue: Topology.UplinkQueue,
        SourceQueueArguments: declarations.Queues.Single(q => q.Name == Topology.UplinkQueue).Arguments,
        DestinationUri: UplinkUriPlaceholder,
        DestinationExchange: CentralTopology.Exchange,
        DestinationKey: CentralTopology.UplinkTemplate(UplinkTractorPlaceholder).RoutingKey,
        DestinationUser: CentralTopology.UplinkTemplate(UplinkTractorPlaceholder).User);

    /// <summary>Definitions JSON: vhost, permissions, topic permissions, shovels, then the topology's declarations.</summary>
    internal static string Write(string vhost, IReadOnlyList<UserPermission> permissions, IReadOnlyList<TopicPermission> topicPermissions,
        IReadOnlyList<Shovel> shovels, RabbitMqTopology declarations)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();

            json.WriteStartArray("vhosts");
            json.WriteStartObject();
            json.WriteString("name", vhost);
            json.WriteEndObject();
            json.WriteEndArray();

            json.WriteStartArray("permissions");
            foreach (var p in permissions)
            {
                json.WriteStartObject();
                json.WriteString("user", p.User);
                json.WriteString("vhost", vhost);
                json.WriteString("configure", p.Configure);
                json.WriteString("write", p.Write);
                json.WriteString("read", p.Read);
                json.WriteEndObject();
            }
            json.WriteEndArray();

            if (topicPermissions.Count > 0)
            {
                json.WriteStartArray("topic_permissions");
                foreach (var p in topicPermissions)
                {
                    json.WriteStartObject();
                    json.WriteString("user", p.User);
                    json.WriteString("vhost", vhost);
                    json.WriteString("exchange", p.Exchange);
                    json.WriteString("write", p.Write);
                    json.WriteString("read", p.Read);
                    json.WriteEndObject();
                }
                json.WriteEndArray();
            }

            if (shovels.Count > 0)
            {
                json.WriteStartArray("parameters");
                foreach (var shovel in shovels)
                {
                    WriteShovel(json, shovel);
                }
                json.WriteEndArray();
            }

            json.WriteStartArray("exchanges");
            foreach (var exchange in declarations.Exchanges)
            {
                WriteExchange(json, vhost, exchange);
            }
            json.WriteEndArray();

            json.WriteStartArray("queues");
            foreach (var queue in declarations.Queues)
            {
                WriteQueue(json, vhost, queue);
            }
            json.WriteEndArray();

            json.WriteStartArray("bindings");
            foreach (var binding in declarations.Bindings)
            {
                WriteBinding(json, vhost, binding);
            }
            json.WriteEndArray();

            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    private static void WriteShovel(Utf8JsonWriter json, Shovel shovel)
    {
        json.WriteStartObject();
        json.WriteString("vhost", shovel.Vhost);
        json.WriteString("component", "shovel");
        json.WriteString("name", shovel.Name);
        json.WriteStartObject("value");
        json.WriteString("src-protocol", "amqp091");
        json.WriteString("src-uri", shovel.SourceUri);
        json.WriteString("src-queue", shovel.SourceQueue);
        WriteArguments(json, "src-queue-args", shovel.SourceQueue, shovel.SourceQueueArguments);
        json.WriteNumber("src-prefetch-count", Shovel.PrefetchCount);
        json.WriteString("src-delete-after", "never");
        json.WriteString("dest-protocol", "amqp091");
        json.WriteString("dest-uri", shovel.DestinationUri);
        json.WriteString("dest-exchange", shovel.DestinationExchange);
        json.WriteString("dest-exchange-key", shovel.DestinationKey);
        json.WriteStartObject("dest-publish-properties");
        json.WriteString("user_id", shovel.DestinationUser);
        json.WriteEndObject();
        json.WriteString("ack-mode", "on-confirm");
        json.WriteNumber("reconnect-delay", Shovel.ReconnectDelaySeconds);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void WriteExchange(Utf8JsonWriter json, string vhost, ExchangeDeclaration exchange)
    {
        json.WriteStartObject();
        json.WriteString("name", exchange.Name);
        json.WriteString("vhost", vhost);
        json.WriteString("type", exchange.Type);
        json.WriteBoolean("durable", true);
        json.WriteBoolean("auto_delete", false);
        json.WriteBoolean("internal", false);
        json.WriteStartObject("arguments");
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void WriteQueue(Utf8JsonWriter json, string vhost, QueueDeclaration queue)
    {
        json.WriteStartObject();
        json.WriteString("name", queue.Name);
        json.WriteString("vhost", vhost);
        json.WriteBoolean("durable", true);
        json.WriteBoolean("auto_delete", false);
        WriteArguments(json, "arguments", queue.Name, queue.Arguments);
        json.WriteEndObject();
    }

    private static void WriteArguments(Utf8JsonWriter json, string property, string queue, IReadOnlyDictionary<string, object?> arguments)
    {
        json.WriteStartObject(property);
        foreach (var (key, value) in arguments.OrderBy(a => a.Key, StringComparer.Ordinal))
        {
            json.WritePropertyName(key);
            switch (value)
            {
                case string s:
                    json.WriteStringValue(s);
                    break;
                case int i:
                    json.WriteNumberValue(i);
                    break;
                case long l:
                    json.WriteNumberValue(l);
                    break;
                default:
                    throw new InvalidOperationException($"queue {queue}: argument {key} has a type definitions cannot carry ({value?.GetType().Name ?? "null"})");
            }
        }
        json.WriteEndObject();
    }

    private static void WriteBinding(Utf8JsonWriter json, string vhost, BindingDeclaration binding)
    {
        json.WriteStartObject();
        json.WriteString("source", binding.Exchange);
        json.WriteString("vhost", vhost);
        json.WriteString("destination", binding.Queue);
        json.WriteString("destination_type", "queue");
        json.WriteString("routing_key", binding.RoutingKey);
        json.WriteStartObject("arguments");
        json.WriteEndObject();
        json.WriteEndObject();
    }
}

/// <summary>One user's configure, write and read regexes in the definitions' virtual host.</summary>
public sealed record UserPermission(string User, string Configure, string Write, string Read);

/// <summary>Which routing keys a user may publish (write) to a topic exchange, or bind with (read).</summary>
public sealed record TopicPermission(string User, string Exchange, string Write, string Read);

/// <summary>A dynamic shovel (rabbitmq_shovel) from a queue of this broker to an exchange of another.</summary>
public sealed record Shovel(
    string Name,
    string Vhost,
    string SourceUri,
    string SourceQueue,
    IReadOnlyDictionary<string, object?> SourceQueueArguments,
    string DestinationUri,
    string DestinationExchange,
    string DestinationKey,
    string DestinationUser)
{
    /// <summary>Unconfirmed messages in flight: enough to fill an LTE link's round trip, and all a drop resends.</summary>
    public const int PrefetchCount = 500;

    /// <summary>Seconds between attempts while the central broker is unreachable.</summary>
    public const int ReconnectDelaySeconds = 10;
}
