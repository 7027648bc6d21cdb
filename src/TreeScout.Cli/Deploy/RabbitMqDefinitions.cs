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

            var declarations = new RabbitMqTopology(topology);
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
        json.WriteStartObject("arguments");
        foreach (var (key, value) in queue.Arguments.OrderBy(a => a.Key, StringComparer.Ordinal))
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
                    throw new InvalidOperationException($"queue {queue.Name}: argument {key} has a type definitions cannot carry ({value?.GetType().Name ?? "null"})");
            }
        }
        json.WriteEndObject();
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
