using System.Security.Cryptography;
using RabbitMQ.Client;
using TreeScout.Cli.Deploy;
using TreeScout.Contracts;
using TreeScout.Messaging;

namespace TreeScout.Tests.Uplink;

/// <summary>A broker node as a test reaches it: its AMQP address (guest from loopback) and its rabbitmqctl.</summary>
public sealed record BrokerNode(string Name, int Port, Func<string[], Task<string>> Ctl)
{
    /// <summary>The node .ci/run starts for every test (the tractor's broker here).</summary>
    public static BrokerNode Tractor { get; } = new("rabbit@localhost", 5672, args => TestBroker.CtlAsync(args));

    /// <summary>The central site's node .ci/run starts (`.ci/rabbitmq start-central`).</summary>
    public static BrokerNode Central { get; } = new("central@localhost", 5673, args => TestBroker.CtlAsync(["-n", "central@localhost", .. args]));

    public static BrokerNode Own(OwnBrokerNode node) => new(node.Name, node.Port, node.CtlAsync);

    public Uri UriFor(string vhost, string user = "guest", string password = "guest") =>
        new UriBuilder("amqp", "127.0.0.1", Port, "/" + Uri.EscapeDataString(vhost)) { UserName = user, Password = password }.Uri;
}

/// <summary>
/// Definitions rendered by the broker pod's own init script (deploy/k3s/base/rabbitmq/render-definitions.sh) with test
/// passwords and imported into a real node with `rabbitmqctl import_definitions`, as the deployment loads them at boot.
/// </summary>
public static class DefinitionsImport
{
    public static string NewPassword() => RandomNumberGenerator.GetString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 32);

    /// <summary>Renders <paramref name="definitions"/> with <paramref name="secrets"/> (Secret key → value) and imports them; returns once <paramref name="ready"/> holds.</summary>
    public static async Task ImportAsync(BrokerNode node, string definitions, IReadOnlyDictionary<string, string> secrets, Func<Task<bool>> ready)
    {
        var dir = Directory.CreateTempSubdirectory("ts-uplink-");
        try
        {
            // rabbitmqctl reads the file as the rabbitmq user.
            File.SetUnixFileMode(dir.FullName, (UnixFileMode)0b111_101_101);
            var secretsDir = Directory.CreateDirectory(Path.Combine(dir.FullName, "secrets"));
            foreach (var (key, value) in secrets)
            {
                await File.WriteAllTextAsync(Path.Combine(secretsDir.FullName, key), value);
            }
            var input = Path.Combine(dir.FullName, "definitions.json");
            await File.WriteAllTextAsync(input, definitions);
            var rendered = Path.Combine(dir.FullName, "rendered.json");
            var render = await Tool.RunAsync("sh", ["deploy/k3s/base/rabbitmq/render-definitions.sh", input, secretsDir.FullName, rendered]);
            Assert.True(render.ExitCode == 0, render.Stderr);
            File.SetUnixFileMode(rendered, (UnixFileMode)0b110_100_100);
            await node.Ctl(["import_definitions", rendered]);
            // The import is asynchronous: wait for what the caller needs.
            for (var attempt = 0; !await ready(); attempt++)
            {
                Assert.True(attempt < 100, $"definitions not in effect on {node.Name} after 20 s");
                await Task.Delay(200);
            }
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    public static async Task<bool> HasQueueAsync(BrokerNode node, string vhost, string queue) =>
        (await node.Ctl(["list_queues", "-p", vhost, "--no-table-headers", "name"])).Split('\n', StringSplitOptions.TrimEntries).Contains(queue);
}

/// <summary>
/// The central site's broker for one test: the definitions `treescout deploy central-definitions` generates for one
/// tractor, in a virtual host of the test's own, with guest allowed to read the ingest queue (standing in for the
/// ingest worker).
/// </summary>
public sealed class CentralSite : IAsyncDisposable
{
    private CentralSite(BrokerNode node, string vhost, string tractorId, string tractorPassword)
    {
        Node = node;
        Vhost = vhost;
        TractorId = tractorId;
        TractorPassword = tractorPassword;
    }

    public BrokerNode Node { get; }

    public string Vhost { get; }

    public string TractorId { get; }

    public string TractorPassword { get; }

    /// <summary>What the tractor's Secret holds as uplink-uri: the central broker with the tractor's own user.</summary>
    public Uri TractorUri => Node.UriFor(Vhost, CentralTopology.TractorUser(TractorId), TractorPassword);

    public static async Task<CentralSite> CreateAsync(BrokerNode node, string tractorId)
    {
        var vhost = $"ts-central-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
        var site = new CentralSite(node, vhost, tractorId, DefinitionsImport.NewPassword());
        var secrets = new Dictionary<string, string> { ["ingest"] = DefinitionsImport.NewPassword(), [CentralTopology.TractorUser(tractorId)] = site.TractorPassword };
        await DefinitionsImport.ImportAsync(node, CentralDefinitions.Generate([tractorId], vhost), secrets,
            () => DefinitionsImport.HasQueueAsync(node, vhost, CentralTopology.IngestQueue));
        await node.Ctl(["set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"]);
        return site;
    }

    /// <summary>Takes every message in the ingest queue (acknowledged), in queue order.</summary>
    public async Task<List<ForwardedMessage>> DrainIngestAsync()
    {
        await using var connection = await new ConnectionFactory { Uri = Node.UriFor(Vhost) }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var taken = new List<ForwardedMessage>();
        while (await channel.BasicGetAsync(CentralTopology.IngestQueue, autoAck: true) is { } got)
        {
            taken.Add(new ForwardedMessage(got.RoutingKey, got.BasicProperties.UserId, RabbitMqMessageBus.ToEnvelope(got.BasicProperties, got.Body)));
        }
        return taken;
    }

    public async ValueTask DisposeAsync()
    {
        await TryAsync(Node.Ctl(["delete_vhost", Vhost]));
        await TryAsync(Node.Ctl(["delete_user", CentralDefinitions.IngestUser]));
        await TryAsync(Node.Ctl(["delete_user", CentralTopology.TractorUser(TractorId)]));
    }

    public static async Task TryAsync(Task cleanup)
    {
        try
        {
            await cleanup;
        }
        catch (InvalidOperationException)
        {
            // Best effort: a node a test stopped, or a leftover that is harmless.
        }
    }
}

/// <summary>A message as the central ingest receives it.</summary>
public sealed record ForwardedMessage(string RoutingKey, string? UserId, MessageEnvelope Envelope)
{
    public IMessage Decode() => MessageCodec.Decode(Envelope);
}

/// <summary>
/// A tractor's broker for one test: the definitions `treescout deploy rabbitmq-definitions --uplink` generates, with
/// the tractor id and the central URI in its Secret, in a virtual host of the test's own on the shared node, so the
/// broker's shovel forwards <see cref="Topology.UplinkQueue"/> to <paramref name="central"/>.
/// </summary>
public sealed class TractorSite : IAsyncDisposable
{
    private readonly string _userPrefix;

    private TractorSite(string vhost, string userPrefix)
    {
        Vhost = vhost;
        _userPrefix = userPrefix;
    }

    public string Vhost { get; }

    public static BrokerNode Node => BrokerNode.Tractor;

    public static async Task<TractorSite> CreateAsync(CentralSite central)
    {
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        var site = new TractorSite($"ts-uplink-{id}", $"ts-uplink-{id}-");
        var secrets = BrokerPermissions.Roles.ToDictionary(r => WorkerIdentityKey(r), _ => DefinitionsImport.NewPassword());
        secrets["uplink-tractor"] = central.TractorId;
        secrets["uplink-uri"] = central.TractorUri.ToString();
        var definitions = RabbitMqDefinitions.Generate(new Topology(new TopologyOptions { Uplink = true }), site.Vhost, site._userPrefix);
        await DefinitionsImport.ImportAsync(Node, definitions, secrets, () => DefinitionsImport.HasQueueAsync(Node, site.Vhost, Topology.UplinkQueue));
        await Node.Ctl(["set_permissions", "-p", site.Vhost, "guest", ".*", ".*", ".*"]);
        return site;
    }

    /// <summary>A worker's bus on this tractor, as deployed: the broker's definitions own the topology (uplink included).</summary>
    public RabbitMqMessageBus Bus() => new(
        new BrokerOptions { Uri = Node.UriFor(Vhost).ToString(), DeclareTopology = false, Topology = new TopologyOptions { Uplink = true } },
        new Topology(new TopologyOptions { Uplink = true }), "fusion", new MessagingMetrics(), Microsoft.Extensions.Logging.Abstractions.NullLogger<RabbitMqMessageBus>.Instance);

    /// <summary>The uplink's backlog: messages in <see cref="Topology.UplinkQueue"/> (ready and unacknowledged).</summary>
    public async Task<long> BacklogAsync()
    {
        var line = await Node.Ctl(["list_queues", "-p", Vhost, "--no-table-headers", "name", "messages"]);
        return line.Split('\n', StringSplitOptions.TrimEntries).Select(l => l.Split('\t')).Where(c => c.Length == 2 && c[0] == Topology.UplinkQueue)
            .Select(c => long.Parse(c[1], System.Globalization.CultureInfo.InvariantCulture)).Single();
    }

    /// <summary>
    /// The backlog once the shovel's acknowledgements caught up (a message reaches the central queue before the
    /// central confirm comes back and the tractor's copy is acknowledged): polls up to 10 s for it to reach 0.
    /// </summary>
    public async Task<long> SettledBacklogAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        long backlog;
        while ((backlog = await BacklogAsync()) > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }
        return backlog;
    }

    /// <summary>The uplink shovel's state as `rabbitmqctl shovel_status` reports it (running, starting, terminated).</summary>
    public async Task<string> ShovelStateAsync()
    {
        // JSON, not the table: the table's header follows the first shovel's fields, and another test's shovel that is
        // starting or terminated (a termination reason spans lines) shifts the columns of every row after it.
        var shovels = System.Text.Json.JsonDocument.Parse(await Node.Ctl(["shovel_status", "--formatter", "json"])).RootElement;
        return shovels.EnumerateArray()
            .Where(s => s.GetProperty("name").GetString() == RabbitMqDefinitions.UplinkShovelName && s.GetProperty("vhost").GetString() == Vhost)
            .Select(s => s.GetProperty("state").GetString()!).FirstOrDefault() ?? "absent";
    }

    public async ValueTask DisposeAsync()
    {
        await CentralSite.TryAsync(Node.Ctl(["delete_vhost", Vhost]));
        foreach (var role in BrokerPermissions.Roles)
        {
            await CentralSite.TryAsync(Node.Ctl(["delete_user", RabbitMqDefinitions.UserName(role, _userPrefix)]));
        }
    }

    private static string WorkerIdentityKey(WorkerRole role) => role.ToString().ToLowerInvariant();
}
