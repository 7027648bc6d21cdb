using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using TreeScout.Cli.Deploy;
using TreeScout.Messaging;
using TreeScout.Tests;

namespace TreeScout.Deploy.Tests;

/// <summary>The broker definitions: generated from the code's topology, committed, and least-privilege per worker.</summary>
[Trait("Category", "Unit")]
public class BrokerDefinitionsTests
{
    private static readonly Topology Topology = new(new TopologyOptions());

    private static string CommittedPath => Path.Combine(RepoPaths.Root, "deploy/k3s/base/rabbitmq/definitions.json");

    [Fact]
    public async Task Committed_definitions_equal_the_generator_output()
    {
        var committed = await File.ReadAllTextAsync(CommittedPath);
        Assert.True(committed == RabbitMqDefinitions.Generate(Topology),
            "deploy/k3s/base/rabbitmq/definitions.json is stale: dotnet run --project src/TreeScout.Cli -- deploy rabbitmq-definitions --out deploy/k3s/base/rabbitmq/definitions.json");
    }

    [Fact]
    public async Task Definitions_declare_exactly_the_topology_the_workers_would_declare()
    {
        var d = JsonNode.Parse(await File.ReadAllTextAsync(CommittedPath))!;
        Assert.Null(d["users"]);
        Assert.Equal(["treescout"], d["vhosts"]!.AsArray().Select(v => (string)v!["name"]!));

        var exchanges = d["exchanges"]!.AsArray().ToDictionary(e => (string)e!["name"]!, e => (string)e!["type"]!);
        var expectedExchanges = Topology.Exchanges.ToDictionary(e => e, _ => "topic");
        foreach (var q in Topology.Queues)
        {
            expectedExchanges[q.DeadLetterExchange] = "fanout";
        }
        Assert.Equal(expectedExchanges.OrderBy(e => e.Key), exchanges.OrderBy(e => e.Key));
        Assert.All(d["exchanges"]!.AsArray(), e => Assert.True((bool)e!["durable"]! && !(bool)e["auto_delete"]!));

        var queues = d["queues"]!.AsArray().ToDictionary(q => (string)q!["name"]!, q => q!["arguments"]!.AsObject());
        Assert.Equal(Topology.Queues.Count * 2 + 1, queues.Count);
        // Exactly the arguments a worker declares (RabbitMqTopology.DeclareAsync): a difference would make its declare fail with 406.
        var declared = new RabbitMqTopology(Topology).Queues.ToDictionary(q => q.Name, q => Text(q.Arguments));
        Assert.Equal(declared.Keys.Order(), queues.Keys.Order());
        foreach (var (name, arguments) in queues)
        {
            Assert.Equal(declared[name], Text(arguments.ToDictionary(a => a.Key, a => (object?)a.Value!.ToString())));
        }
        Assert.All(Topology.Queues, q => Assert.Equal("quorum", (string)queues[q.DeadLetterQueue]["x-queue-type"]!));
        Assert.Equal("stream", (string)queues[Topology.RunLedgerStream]["x-queue-type"]!);

        var bindings = d["bindings"]!.AsArray().Select(b => ((string)b!["source"]!, (string)b["destination"]!, (string)b["routing_key"]!)).ToHashSet();
        var expectedBindings = Topology.Queues.SelectMany(q => q.Bindings.Select(b => (b.Exchange, q.Name, b.RoutingKey)).Append((q.DeadLetterExchange, q.DeadLetterQueue, "")))
            .Concat(Topology.RunLedgerBindings.Select(b => (b.Exchange, Topology.RunLedgerStream, b.RoutingKey))).ToHashSet();
        Assert.Equal(expectedBindings.Order(), bindings.Order());
    }

    /// <summary>
    /// RabbitMQ (3.10.8 measured) honours x-dead-letter-strategy=at-least-once only with x-overflow=reject-publish; with the
    /// quorum default, drop-head, it logs "Falling back to dead-letter-strategy at-most-once" and a message the broker
    /// dead-letters (delivery limit reached) can be lost. So every work queue has reject-publish, length limit or not, and
    /// only the frames queue has a limit.
    /// </summary>
    [Fact]
    public async Task Every_work_queue_dead_letters_at_least_once_and_only_frames_are_ever_shed()
    {
        var d = JsonNode.Parse(await File.ReadAllTextAsync(CommittedPath))!;
        var queues = d["queues"]!.AsArray().ToDictionary(q => (string)q!["name"]!, q => q!["arguments"]!.AsObject());
        foreach (var q in Topology.Queues)
        {
            var arguments = queues[q.Name];
            Assert.Equal(("at-least-once", "reject-publish"), ((string)arguments["x-dead-letter-strategy"]!, (string)arguments["x-overflow"]!));
            Assert.Equal(q.Name == Topology.DetectionFramesQueue, arguments.ContainsKey("x-max-length"));
            Assert.Equal(q.Name == Topology.DetectionFramesQueue, arguments.ContainsKey("x-max-length-bytes"));
        }
    }

    /// <summary>
    /// What each role may do, worked out here from <see cref="Topology.EndpointsOf"/> and RabbitMQ's permission rules
    /// directly (not through <see cref="BrokerPermissions"/>), then checked against the regexes in the committed file
    /// by matching every resource name there is.
    /// </summary>
    [Fact]
    public async Task Each_user_may_configure_write_and_read_exactly_what_its_worker_uses()
    {
        var d = JsonNode.Parse(await File.ReadAllTextAsync(CommittedPath))!;
        var permissions = d["permissions"]!.AsArray().ToDictionary(p => (string)p!["user"]!);
        Assert.Equal(BrokerPermissions.Roles.Count, permissions.Count);

        const string serverNamedQueue = "amq.gen-JzTY20BRgKO-HjmUJj0wLg";
        var resources = Topology.Exchanges
            .Concat(Topology.Queues.SelectMany(q => new[] { q.Name, q.DeadLetterExchange, q.DeadLetterQueue }))
            .Append(Topology.RunLedgerStream)
            .Append(serverNamedQueue).Append("amq.default").Append("treescout.unknown").ToList();

        foreach (var role in BrokerPermissions.Roles)
        {
            var endpoints = Topology.EndpointsOf(role);
            var listens = endpoints.ListenedExchanges.Count > 0;
            var expectedConfigure = listens ? new[] { serverNamedQueue } : [];
            var expectedWrite = endpoints.PublishedExchanges
                .Concat(endpoints.ConsumedQueues.Select(q => $"{q}.dlx"))
                .Concat(listens ? [serverNamedQueue] : []);
            var expectedRead = endpoints.ConsumedQueues.Append(Topology.RunLedgerStream).Concat(endpoints.ListenedExchanges).Concat(listens ? [serverNamedQueue] : []);

            var p = permissions[RabbitMqDefinitions.UserName(role)]!;
            Assert.Equal("treescout", (string)p["vhost"]!);
            Assert.Equal(expectedConfigure.Order(), Allowed(p, "configure", resources));
            Assert.Equal(expectedWrite.Order(), Allowed(p, "write", resources));
            Assert.Equal(expectedRead.Order(), Allowed(p, "read", resources));
        }
    }

    [Fact]
    public void Workers_and_the_CLI_have_separate_users_with_no_configure_right_on_any_TreeScout_resource()
    {
        var users = BrokerPermissions.Roles.Select(r => RabbitMqDefinitions.UserName(r)).ToList();
        Assert.Equal(users.Count, users.Distinct().Count());
        Assert.All(BrokerPermissions.Roles, role =>
        {
            var configure = BrokerPermissions.For(role, Topology).Configure;
            Assert.All(Topology.Exchanges.Concat(Topology.Queues.Select(q => q.Name)), name => Assert.DoesNotMatch(configure, name));
        });
    }

    private static List<KeyValuePair<string, string>> Text(IEnumerable<KeyValuePair<string, object?>> arguments) =>
        [.. arguments.Select(a => KeyValuePair.Create(a.Key, Convert.ToString(a.Value, System.Globalization.CultureInfo.InvariantCulture)!)).OrderBy(a => a.Key, StringComparer.Ordinal)];

    /// <summary>The names a permission regex lets through (RabbitMQ matches them unanchored, as .NET does).</summary>
    internal static IEnumerable<string> Allowed(JsonNode permission, string kind, IEnumerable<string> resources)
    {
        var regex = new Regex((string)permission[kind]!);
        return resources.Where(r => regex.IsMatch(r)).Order();
    }
}
