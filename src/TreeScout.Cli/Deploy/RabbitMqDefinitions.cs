using System.Text;
using System.Text.Json;
using TreeScout.Hosting;
using TreeScout.Messaging;

namespace TreeScout.Cli.Deploy;

/// <summary>
/// The broker's boot definitions (RabbitMQ definitions JSON) generated from the code's <see cref="Topology"/>: the
/// virtual host, every exchange, quorum queue (with exactly the arguments the workers would declare), binding and
/// dead-letter pair, and one user's permissions per <see cref="WorkerRole"/>. Users and passwords are not in it: they
/// come from a Secret at pod start (deploy/k3s/base/rabbitmq/render-definitions.sh, docs/adr/0051).
/// The output is deterministic so the committed deploy/k3s/base/rabbitmq/definitions.json can be compared with it.
/// </summary>
public static class RabbitMqDefinitions
{
    public const string DefaultVhost = "treescout";
    public const string DefaultUserPrefix = "treescout-";

    public static string UserName(WorkerRole role, string userPrefix = DefaultUserPrefix) => userPrefix + WorkerIdentity.NameOf(role);

    public static string Generate(Topology topology, string vhost = DefaultVhost, string userPrefix = DefaultUserPrefix)
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
            foreach (var role in BrokerPermissions.Roles)
            {
                var p = BrokerPermissions.For(role, topology);
                json.WriteStartObject();
                json.WriteString("user", UserName(role, userPrefix));
                json.WriteString("vhost", vhost);
                json.WriteString("configure", p.Configure);
                json.WriteString("write", p.Write);
                json.WriteString("read", p.Read);
                json.WriteEndObject();
            }
            json.WriteEndArray();

            json.WriteStartArray("exchanges");
            foreach (var exchange in Topology.Exchanges)
            {
                WriteExchange(json, vhost, exchange, "topic");
            }
            foreach (var queue in topology.Queues)
            {
                WriteExchange(json, vhost, queue.DeadLetterExchange, "fanout");
            }
            json.WriteEndArray();

            json.WriteStartArray("queues");
            foreach (var queue in topology.Queues)
            {
                WriteQueue(json, vhost, queue.Name, RabbitMqMessageBus.QueueArguments(queue));
                WriteQueue(json, vhost, queue.DeadLetterQueue, new Dictionary<string, object?> { ["x-queue-type"] = "quorum" });
            }
            WriteQueue(json, vhost, Topology.RunLedgerStream, RabbitMqMessageBus.RunLedgerArguments(topology));
            json.WriteEndArray();

            json.WriteStartArray("bindings");
            foreach (var queue in topology.Queues)
            {
                foreach (var binding in queue.Bindings)
                {
                    WriteBinding(json, vhost, binding.Exchange, queue.Name, binding.RoutingKey);
                }
                WriteBinding(json, vhost, queue.DeadLetterExchange, queue.DeadLetterQueue, "");
            }
            foreach (var binding in Topology.RunLedgerBindings)
            {
                WriteBinding(json, vhost, binding.Exchange, Topology.RunLedgerStream, binding.RoutingKey);
            }
            json.WriteEndArray();

            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    private static void WriteExchange(Utf8JsonWriter json, string vhost, string name, string type)
    {
        json.WriteStartObject();
        json.WriteString("name", name);
        json.WriteString("vhost", vhost);
        json.WriteString("type", type);
        json.WriteBoolean("durable", true);
        json.WriteBoolean("auto_delete", false);
        json.WriteBoolean("internal", false);
        json.WriteStartObject("arguments");
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void WriteQueue(Utf8JsonWriter json, string vhost, string name, IReadOnlyDictionary<string, object?> arguments)
    {
        json.WriteStartObject();
        json.WriteString("name", name);
        json.WriteString("vhost", vhost);
        json.WriteBoolean("durable", true);
        json.WriteBoolean("auto_delete", false);
        json.WriteStartObject("arguments");
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
                    throw new InvalidOperationException($"queue {name}: argument {key} has a type definitions cannot carry ({value?.GetType().Name ?? "null"})");
            }
        }
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void WriteBinding(Utf8JsonWriter json, string vhost, string source, string queue, string routingKey)
    {
        json.WriteStartObject();
        json.WriteString("source", source);
        json.WriteString("vhost", vhost);
        json.WriteString("destination", queue);
        json.WriteString("destination_type", "queue");
        json.WriteString("routing_key", routingKey);
        json.WriteStartObject("arguments");
        json.WriteEndObject();
        json.WriteEndObject();
    }
}
