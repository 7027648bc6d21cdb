using System.Text.Json.Nodes;
using TreeScout.Cli.Deploy;
using TreeScout.Messaging;
using TreeScout.Tests;

namespace TreeScout.Deploy.Tests;

/// <summary>
/// The uplink's definitions (docs/adr/0057): the tractor's with the uplink queue and its shovel, the central broker's
/// with per-tractor permissions, and the tractor's rendered by the broker's init script from its Secret.
/// </summary>
[Trait("Category", "Unit")]
public sealed class UplinkDefinitionsTests : IDisposable
{
    internal static readonly Topology WithUplink = new(new TopologyOptions { Uplink = true });

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("ts-uplink-defs-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public void Without_uplink_the_topology_has_no_uplink_queue_and_the_definitions_no_shovel()
    {
        var topology = new Topology(new TopologyOptions());
        Assert.DoesNotContain(topology.Queues, q => q.Name == Topology.UplinkQueue);
        var d = JsonNode.Parse(RabbitMqDefinitions.Generate(topology))!;
        Assert.Null(d["parameters"]);
        Assert.DoesNotContain(d["queues"]!.AsArray(), q => ((string)q!["name"]!).StartsWith(Topology.UplinkQueue, StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_uplink_component_definitions_equal_the_generator_output()
    {
        var committed = await File.ReadAllTextAsync(Path.Combine(RepoPaths.Root, "deploy/k3s/components/uplink/definitions.json"));
        Assert.True(committed == RabbitMqDefinitions.Generate(WithUplink),
            "deploy/k3s/components/uplink/definitions.json is stale: dotnet run --project src/TreeScout.Cli -- deploy rabbitmq-definitions --uplink --out deploy/k3s/components/uplink/definitions.json");
    }

    /// <summary>The component swaps the broker's definitions for the uplink's in whatever overlay includes it.</summary>
    [Fact]
    public async Task A_tractor_overlay_with_the_uplink_component_boots_the_broker_with_the_uplink_definitions()
    {
        var overlay = Directory.CreateDirectory(Path.Combine(_dir.FullName, "overlay")).FullName;
        var root = Path.GetRelativePath(overlay, RepoPaths.Root);
        await File.WriteAllTextAsync(Path.Combine(overlay, "kustomization.yaml"), $"""
            apiVersion: kustomize.config.k8s.io/v1beta1
            kind: Kustomization
            resources:
              - {root}/deploy/k3s/overlays/tractor
            components:
              - {root}/deploy/k3s/components/uplink
            """);
        var rendered = await Tool.OutputAsync("kubectl", ["kustomize", overlay]);
        var configMap = rendered.Split("\n---\n").Single(d => d.Contains("kind: ConfigMap", StringComparison.Ordinal) && d.Contains("name: treescout-broker-", StringComparison.Ordinal));
        Assert.Contains("\"src-queue\": \"treescout.uplink\"", configMap, StringComparison.Ordinal);
        Assert.Contains("render-definitions.sh", configMap, StringComparison.Ordinal);
        var statefulSet = rendered.Split("\n---\n").Single(d => d.Contains("kind: StatefulSet", StringComparison.Ordinal));
        var name = configMap.Split('\n').Select(l => l.Trim()).First(l => l.StartsWith("name: treescout-broker-", StringComparison.Ordinal))["name: ".Length..];
        Assert.Contains($"name: {name}", statefulSet, StringComparison.Ordinal);
    }

    [Fact]
    public void The_uplink_queue_takes_run_lifecycle_observations_maps_and_progress_and_has_no_delivery_limit()
    {
        var d = JsonNode.Parse(RabbitMqDefinitions.Generate(WithUplink))!;
        var bindings = d["bindings"]!.AsArray().Where(b => (string)b!["destination"]! == Topology.UplinkQueue)
            .Select(b => ((string)b!["source"]!, (string)b["routing_key"]!)).Order().ToList();
        Assert.Equal(
            [("treescout.control", "run.started"), ("treescout.control", "run.stopped"), ("treescout.ledger", "progress"), ("treescout.maps", "map.updated"), ("treescout.observations", "#")],
            bindings);
        var queues = d["queues"]!.AsArray().ToDictionary(q => (string)q!["name"]!, q => q!["arguments"]!.AsObject());
        var uplink = queues[Topology.UplinkQueue];
        Assert.Equal(("quorum", "treescout.uplink.dlx", "reject-publish"), ((string)uplink["x-queue-type"]!, (string)uplink["x-dead-letter-exchange"]!, (string)uplink["x-overflow"]!));
        Assert.False(uplink.ContainsKey("x-delivery-limit"));
        Assert.False(uplink.ContainsKey("x-max-length"));
        Assert.True(queues.ContainsKey("treescout.uplink.dlq"));
        // No worker reads it: only the broker's own shovel does.
        Assert.All(d["permissions"]!.AsArray(), p => Assert.DoesNotMatch((string)p!["read"]!, Topology.UplinkQueue));
    }

    [Fact]
    public void The_shovel_forwards_the_uplink_queue_to_the_central_exchange_under_the_tractors_key_with_confirms()
    {
        var definitions = JsonNode.Parse(RabbitMqDefinitions.Generate(WithUplink))!;
        var shovel = definitions["parameters"]!.AsArray().Single()!;
        Assert.Equal(("shovel", "treescout-uplink", "treescout"), ((string)shovel["component"]!, (string)shovel["name"]!, (string)shovel["vhost"]!));
        var v = shovel["value"]!;
        Assert.Equal("amqp:///treescout", (string)v["src-uri"]!);
        Assert.Equal("treescout.uplink", (string)v["src-queue"]!);
        // A shovel that starts before the import created its queue declares it with these: the same quorum queue.
        var queueArguments = definitions["queues"]!.AsArray().Single(q => (string)q!["name"]! == Topology.UplinkQueue)!["arguments"]!;
        Assert.Equal(queueArguments.ToJsonString(), v["src-queue-args"]!.ToJsonString());
        Assert.Equal("@uplink-uri@", (string)v["dest-uri"]!);
        Assert.Equal("treescout.central", (string)v["dest-exchange"]!);
        Assert.Equal("tractor.@uplink-tractor@.uplink", (string)v["dest-exchange-key"]!);
        Assert.Equal("tractor-@uplink-tractor@", (string)v["dest-publish-properties"]!["user_id"]!);
        Assert.Equal("on-confirm", (string)v["ack-mode"]!);
        Assert.Equal("never", (string)v["src-delete-after"]!);
        Assert.Equal((10, 500), ((int)v["reconnect-delay"]!, (int)v["src-prefetch-count"]!));
    }

    [Fact]
    public void Central_definitions_let_each_tractor_publish_only_its_own_keys_and_the_ingest_read_only_its_queue()
    {
        var d = JsonNode.Parse(CentralDefinitions.Generate(["t1", "north-2"]))!;
        Assert.Equal(["treescout-central"], d["vhosts"]!.AsArray().Select(v => (string)v!["name"]!));
        var permissions = d["permissions"]!.AsArray().ToDictionary(p => (string)p!["user"]!, p => p!);
        Assert.Equal(["tractor-north-2", "tractor-t1", "treescout-central-ingest"], permissions.Keys.Order());

        string[] resources = ["treescout.central", "treescout.central.ingest", "treescout.central.ingest.dlx", "treescout.central.ingest.dlq", "amq.default", "treescout.other"];
        foreach (var tractor in new[] { "tractor-t1", "tractor-north-2" })
        {
            Assert.Empty(Allowed(permissions[tractor], "configure", resources));
            Assert.Equal(["treescout.central"], Allowed(permissions[tractor], "write", resources));
            Assert.Empty(Allowed(permissions[tractor], "read", resources));
        }
        var ingest = permissions["treescout-central-ingest"];
        Assert.Empty(Allowed(ingest, "configure", resources));
        Assert.Equal(["treescout.central.ingest.dlx"], Allowed(ingest, "write", resources));
        Assert.Equal(["treescout.central.ingest"], Allowed(ingest, "read", resources));

        var topic = d["topic_permissions"]!.AsArray().ToDictionary(p => (string)p!["user"]!, p => p!);
        string[] keys = ["tractor.t1.uplink", "tractor.t1.run.started", "tractor.north-2.uplink", "tractor.t10.uplink", "tractor.t1", "uplink", "x.tractor.t1.uplink"];
        Assert.Equal(["tractor.t1.run.started", "tractor.t1.uplink"], Allowed(topic["tractor-t1"], "write", keys));
        Assert.Equal(["tractor.north-2.uplink"], Allowed(topic["tractor-north-2"], "write", keys));
        Assert.All(topic.Values, p => Assert.Equal(("treescout.central", "^$"), ((string)p!["exchange"]!, (string)p["read"]!)));

        var queue = d["queues"]!.AsArray().Single(q => (string)q!["name"]! == "treescout.central.ingest")!["arguments"]!;
        Assert.Equal(("quorum", "treescout.central.ingest.dlx", 50), ((string)queue["x-queue-type"]!, (string)queue["x-dead-letter-exchange"]!, (int)queue["x-delivery-limit"]!));
        Assert.Contains(d["bindings"]!.AsArray(), b => (string)b!["source"]! == "treescout.central" && (string)b["destination"]! == "treescout.central.ingest" && (string)b["routing_key"]! == "tractor.#");
    }

    [Theory]
    [InlineData("t1,T2", "Tractor id 'T2' is not valid")]
    [InlineData("t1,t1", "Tractor id 't1' is named twice")]
    public void Central_definitions_refuse_bad_tractor_lists(string tractors, string message)
    {
        var ex = Assert.Throws<ArgumentException>(() => CentralDefinitions.Generate(tractors.Split(',')));
        Assert.StartsWith(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_init_script_fills_the_shovel_from_the_secret_and_changes_nothing_else()
    {
        var (definitions, secrets, output) = await PrepareAsync();
        var result = await Tool.RunAsync("sh", ["deploy/k3s/base/rabbitmq/render-definitions.sh", definitions, secrets, output]);
        Assert.True(result.ExitCode == 0, result.Stderr);
        var rendered = JsonNode.Parse(await File.ReadAllTextAsync(output))!;
        var v = rendered["parameters"]![0]!["value"]!;
        Assert.Equal(("amqps://tractor-north-2:Pw0123456789abcdefXYZ@central.example:5671/treescout-central", "tractor.north-2.uplink", "tractor-north-2"),
            ((string)v["dest-uri"]!, (string)v["dest-exchange-key"]!, (string)v["dest-publish-properties"]!["user_id"]!));
        rendered.AsObject().Remove("users");
        var expected = (await File.ReadAllTextAsync(definitions)).Replace("@uplink-uri@", (string)v["dest-uri"]!, StringComparison.Ordinal).Replace("@uplink-tractor@", "north-2", StringComparison.Ordinal);
        Assert.Equal(JsonNode.Parse(expected)!.ToJsonString(), rendered.ToJsonString());
    }

    [Theory]
    [InlineData(null, "amqp://tractor-t1:Pw0123456789abcdefXYZ@central:5672/treescout-central", "lacks uplink-tractor or uplink-uri")]
    [InlineData("T1", "amqp://tractor-T1:Pw0123456789abcdefXYZ@central:5672/treescout-central", "key 'uplink-tractor' of the broker Secret must be")]
    [InlineData("t1", "amqp://tractor-t2:Pw0123456789abcdefXYZ@central:5672/treescout-central", "must be amqp(s)://tractor-t1:PASSWORD@HOST:PORT/VHOST")]
    [InlineData("t1", "amqp://tractor-t1:Pw0123\"456789abcdefXYZ@central:5672/treescout-central", "characters a URI must escape")]
    public async Task The_init_script_refuses_a_missing_or_mismatched_uplink_secret(string? tractor, string uri, string message)
    {
        var (definitions, secrets, output) = await PrepareAsync();
        File.Delete(Path.Combine(secrets, "uplink-tractor"));
        if (tractor is not null)
        {
            await File.WriteAllTextAsync(Path.Combine(secrets, "uplink-tractor"), tractor);
        }
        await File.WriteAllTextAsync(Path.Combine(secrets, "uplink-uri"), uri);
        var result = await Tool.RunAsync("sh", ["deploy/k3s/base/rabbitmq/render-definitions.sh", definitions, secrets, output]);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains(message, result.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public async Task The_init_script_refuses_an_uplink_secret_made_for_another_tractor_than_the_fleet_names()
    {
        var (definitions, secrets, output) = await PrepareAsync();
        string[] args = ["deploy/k3s/base/rabbitmq/render-definitions.sh", definitions, secrets, output];
        var other = await Tool.RunAsync("sh", args, environment: new Dictionary<string, string?> { ["TRACTOR_ID"] = "t2" });
        Assert.Equal(1, other.ExitCode);
        Assert.Contains("the broker Secret is provisioned for tractor 'north-2' but this cluster is tractor 't2'", other.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(output));

        var same = await Tool.RunAsync("sh", args, environment: new Dictionary<string, string?> { ["TRACTOR_ID"] = "north-2" });
        Assert.True(same.ExitCode == 0, same.Stderr);
        Assert.True(File.Exists(output));
    }

    [Fact]
    public async Task Central_definitions_render_with_a_password_per_tractor_keyed_by_its_full_user_name()
    {
        var definitions = Path.Combine(_dir.FullName, "central.json");
        await File.WriteAllTextAsync(definitions, CentralDefinitions.Generate(["t1", "north-2"]));
        var secrets = Directory.CreateDirectory(Path.Combine(_dir.FullName, "central-secrets")).FullName;
        foreach (var key in new[] { "ingest", "tractor-t1", "tractor-north-2" })
        {
            await File.WriteAllTextAsync(Path.Combine(secrets, key), $"Pw{key.Replace("-", "", StringComparison.Ordinal)}0123456789abcdefXYZ");
        }
        var output = Path.Combine(_dir.FullName, "central-out.json");
        var result = await Tool.RunAsync("sh", ["deploy/k3s/base/rabbitmq/render-definitions.sh", definitions, secrets, output]);
        Assert.True(result.ExitCode == 0, result.Stderr);
        var users = JsonNode.Parse(await File.ReadAllTextAsync(output))!["users"]!.AsArray().Select(u => ((string)u!["name"]!, (string)u["password"]!)).Order().ToList();
        Assert.Equal(
            [("tractor-north-2", "Pwtractornorth20123456789abcdefXYZ"), ("tractor-t1", "Pwtractort10123456789abcdefXYZ"), ("treescout-central-ingest", "Pwingest0123456789abcdefXYZ")],
            users);
    }

    private static IEnumerable<string> Allowed(JsonNode permission, string kind, IEnumerable<string> names) => BrokerDefinitionsTests.Allowed(permission, kind, names);

    private async Task<(string Definitions, string Secrets, string Output)> PrepareAsync()
    {
        var definitions = Path.Combine(_dir.FullName, "definitions.json");
        await File.WriteAllTextAsync(definitions, RabbitMqDefinitions.Generate(WithUplink));
        var secrets = Directory.CreateDirectory(Path.Combine(_dir.FullName, "secrets")).FullName;
        foreach (var role in BrokerPermissions.Roles.Select(r => r.ToString().ToLowerInvariant()))
        {
            await File.WriteAllTextAsync(Path.Combine(secrets, role), $"Pw{role}0123456789abcdefXYZ");
        }
        await File.WriteAllTextAsync(Path.Combine(secrets, "uplink-tractor"), "north-2");
        await File.WriteAllTextAsync(Path.Combine(secrets, "uplink-uri"), "amqps://tractor-north-2:Pw0123456789abcdefXYZ@central.example:5671/treescout-central");
        return (definitions, secrets, Path.Combine(_dir.FullName, "out.json"));
    }
}
