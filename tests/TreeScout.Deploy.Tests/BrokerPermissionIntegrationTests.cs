using System.Security.Cryptography;
using System.Text;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using TreeScout.Cli.Deploy;
using TreeScout.Deploy.Tests.Support;
using TreeScout.Messaging;
using TreeScout.Tests;

namespace TreeScout.Deploy.Tests;

/// <summary>
/// The generated definitions, rendered with passwords by the broker pod's own init script, load into a real RabbitMQ
/// (`rabbitmqctl import_definitions`, in a throw-away virtual host) and every worker's user can do exactly what its
/// worker needs and nothing else. Needs the broker .ci/run starts (or `sudo .ci/rabbitmq start`) and rabbitmqctl.
/// </summary>
[Trait("Category", "Integration")]
public sealed class BrokerPermissionIntegrationTests : IAsyncLifetime
{
    private static readonly Uri AdminUri = new(Environment.GetEnvironmentVariable("TREESCOUT_TEST_AMQP") is { Length: > 0 } uri ? uri : "amqp://guest:guest@127.0.0.1:5672/");

    private readonly Topology _topology = new(new TopologyOptions());
    private readonly string _id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
    private readonly Dictionary<WorkerRole, string> _passwords = [];
    private DirectoryInfo _dir = null!;

    private string Vhost => $"ts-deploy-{_id}";

    private string UserPrefix => $"ts-deploy-{_id}-";

    public async Task InitializeAsync()
    {
        _dir = Directory.CreateTempSubdirectory("ts-deploy-");
        // rabbitmqctl reads the file as the rabbitmq user.
        File.SetUnixFileMode(_dir.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        var secrets = Directory.CreateDirectory(Path.Combine(_dir.FullName, "secrets"));
        foreach (var role in BrokerPermissions.Roles)
        {
            _passwords[role] = RandomNumberGenerator.GetString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 32);
            await File.WriteAllTextAsync(Path.Combine(secrets.FullName, role.ToString().ToLowerInvariant()), _passwords[role]);
        }
        var definitions = Path.Combine(_dir.FullName, "definitions.json");
        await File.WriteAllTextAsync(definitions, RabbitMqDefinitions.Generate(_topology, Vhost, UserPrefix));

        var rendered = Path.Combine(_dir.FullName, "rendered.json");
        var render = await Tool.RunAsync("sh", ["deploy/k3s/base/rabbitmq/render-definitions.sh", definitions, secrets.FullName, rendered]);
        Assert.True(render.ExitCode == 0, render.Stderr);
        File.SetUnixFileMode(rendered, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        await Tool.OutputAsync("rabbitmqctl", ["-q", "import_definitions", rendered]);
        // The import is asynchronous: wait for the last thing it creates.
        for (var attempt = 0; ; attempt++)
        {
            var permissions = await Tool.OutputAsync("rabbitmqctl", ["-q", "list_permissions", "-p", Vhost]);
            var bindings = await Tool.OutputAsync("rabbitmqctl", ["-q", "list_bindings", "-p", Vhost, "source_name"]);
            if (BrokerPermissions.Roles.All(r => permissions.Contains(RabbitMqDefinitions.UserName(r, UserPrefix), StringComparison.Ordinal))
                && bindings.Contains(_topology.Queues[^1].DeadLetterExchange, StringComparison.Ordinal))
            {
                break;
            }
            Assert.True(attempt < 50, $"definitions not imported into {Vhost} after 10 s");
            await Task.Delay(200);
        }
    }

    public async Task DisposeAsync()
    {
        await Tool.RunAsync("rabbitmqctl", ["-q", "delete_vhost", Vhost]);
        foreach (var role in BrokerPermissions.Roles)
        {
            await Tool.RunAsync("rabbitmqctl", ["-q", "delete_user", RabbitMqDefinitions.UserName(role, UserPrefix)]);
        }
        _dir.Delete(recursive: true);
    }

    [Fact]
    public async Task Each_worker_user_can_publish_consume_and_dead_letter_exactly_where_its_worker_does()
    {
        var exchanges = Topology.Exchanges.Concat(_topology.Queues.Select(q => q.DeadLetterExchange)).ToList();
        var queues = _topology.Queues.SelectMany(q => new[] { q.Name, q.DeadLetterQueue }).ToList();
        var report = new List<string>();

        foreach (var role in BrokerPermissions.Roles)
        {
            var endpoints = Topology.EndpointsOf(role);
            var mayWrite = endpoints.PublishedExchanges.Concat(endpoints.ConsumedQueues.Select(q => _topology.Queue(q).DeadLetterExchange)).ToHashSet();
            var mayRead = endpoints.ConsumedQueues.ToHashSet();
            await using var connection = await ConnectAsync(role);

            foreach (var exchange in exchanges)
            {
                var published = await AllowedAsync(connection, ch => ch.BasicPublishAsync(exchange, "probe", false, new BasicProperties(), Encoding.UTF8.GetBytes("probe")).AsTask());
                Assert.True(published == mayWrite.Contains(exchange), $"{role} {(published ? "could" : "could not")} publish to {exchange}");
            }
            foreach (var queue in queues)
            {
                var consumed = await AllowedAsync(connection, ch => ch.BasicGetAsync(queue, autoAck: false));
                Assert.True(consumed == mayRead.Contains(queue), $"{role} {(consumed ? "could" : "could not")} read {queue}");
            }
            report.Add($"{role}: publishes {string.Join(", ", mayWrite.Order())}; reads {string.Join(", ", mayRead.Order())}");
        }
        Assert.Equal(BrokerPermissions.Roles.Count, report.Count);
    }

    [Fact]
    public async Task Worker_users_find_the_topology_passively_but_cannot_declare_change_or_delete_it()
    {
        foreach (var role in BrokerPermissions.Roles)
        {
            await using var connection = await ConnectAsync(role);
            Assert.True(await AllowedAsync(connection, ch => new RabbitMqTopology(_topology).VerifyAsync(ch, CancellationToken.None)), $"{role}: passive check of the topology refused");
            Assert.False(await AllowedAsync(connection, ch => new RabbitMqTopology(_topology).DeclareAsync(ch, CancellationToken.None)), $"{role}: may declare the topology");
            Assert.False(await AllowedAsync(connection, ch => ch.QueueDeleteAsync(Topology.DetectionFramesQueue)), $"{role}: may delete the frames queue");
            Assert.False(await AllowedAsync(connection, ch => ch.QueueDeclareAsync("treescout.rogue", durable: true, exclusive: false, autoDelete: false)), $"{role}: may create a queue");
        }
    }

    [Fact]
    public async Task A_frame_published_as_capture_reaches_detection_and_only_detection_can_take_it()
    {
        await using var capture = await ConnectAsync(WorkerRole.Capture);
        await using var detection = await ConnectAsync(WorkerRole.Detection);
        await using var fusion = await ConnectAsync(WorkerRole.Fusion);
        var body = Encoding.UTF8.GetBytes($"frame {_id}");

        await using (var ch = await capture.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true)))
        {
            await ch.BasicPublishAsync(Topology.FramesExchange, "frame", mandatory: true, new BasicProperties { DeliveryMode = DeliveryModes.Persistent }, body);
        }
        Assert.False(await AllowedAsync(fusion, ch => ch.BasicGetAsync(Topology.DetectionFramesQueue, autoAck: true)));
        await using var dch = await detection.CreateChannelAsync();
        var got = await dch.BasicGetAsync(Topology.DetectionFramesQueue, autoAck: true);
        Assert.NotNull(got);
        Assert.Equal(body, got.Body.ToArray());
    }

    [Fact]
    public async Task The_CLI_user_listens_on_maps_and_status_through_server_named_queues_and_nowhere_else()
    {
        await using var cli = await ConnectAsync(WorkerRole.Cli);
        foreach (var exchange in Topology.EndpointsOf(WorkerRole.Cli).ListenedExchanges)
        {
            // As RabbitMqMessageBus.ListenAsync does: a queue that outlives a reconnect, deleted when the listener is done.
            Assert.True(await AllowedAsync(cli, async ch =>
            {
                var q = await ch.QueueDeclareAsync("", durable: true, exclusive: false, autoDelete: false, arguments: RabbitMqMessageBus.ListenerQueueArguments());
                Assert.StartsWith("amq.gen-", q.QueueName, StringComparison.Ordinal);
                await ch.QueueBindAsync(q.QueueName, exchange, "#");
                await ch.QueueDeclarePassiveAsync(q.QueueName);
                await ch.BasicConsumeAsync(q.QueueName, autoAck: false, new AsyncEventingBasicConsumerStub(ch));
                await ch.QueueDeleteAsync(q.QueueName);
            }), $"cli cannot listen on {exchange}");
        }
        Assert.False(await AllowedAsync(cli, async ch =>
        {
            var q = await ch.QueueDeclareAsync("", durable: true, exclusive: false, autoDelete: false, arguments: RabbitMqMessageBus.ListenerQueueArguments());
            await ch.QueueBindAsync(q.QueueName, Topology.FramesExchange, "#");
        }), "cli may tap the frames exchange");
        Assert.False(await AllowedAsync(cli, ch => ch.QueueDeclareAsync("treescout.cli.mine", durable: true, exclusive: false, autoDelete: false)), "cli may declare a named queue");
    }

    [Fact]
    public async Task A_wrong_password_is_refused()
    {
        var factory = new ConnectionFactory { Uri = UserUri(WorkerRole.Capture, "not-the-password"), AutomaticRecoveryEnabled = false };
        await Assert.ThrowsAsync<BrokerUnreachableException>(() => factory.CreateConnectionAsync());
    }

    private Uri UserUri(WorkerRole role, string password) =>
        new UriBuilder(AdminUri) { UserName = RabbitMqDefinitions.UserName(role, UserPrefix), Password = password, Path = "/" + Uri.EscapeDataString(Vhost) }.Uri;

    private Task<IConnection> ConnectAsync(WorkerRole role) =>
        new ConnectionFactory { Uri = UserUri(role, _passwords[role]), AutomaticRecoveryEnabled = false }.CreateConnectionAsync();

    /// <summary>Runs the operation on a fresh confirming channel: true if the broker allowed it, false on 403 ACCESS_REFUSED.</summary>
    private static async Task<bool> AllowedAsync(IConnection connection, Func<IChannel, Task> operation)
    {
        var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        try
        {
            await operation(channel);
            return true;
        }
        catch (Exception ex) when (IsAccessRefused(ex))
        {
            return false;
        }
        finally
        {
            try
            {
                await channel.DisposeAsync();
            }
            catch (Exception ex) when (ex is AlreadyClosedException or OperationInterruptedException)
            {
                // The broker closed it with the refusal.
            }
        }
    }

    private static bool IsAccessRefused(Exception ex) => ex switch
    {
        OperationInterruptedException o when o.ShutdownReason?.ReplyCode == 403 => true,
        AlreadyClosedException a when a.ShutdownReason?.ReplyCode == 403 => true,
        _ => ex.InnerException is { } inner && IsAccessRefused(inner),
    };

    private sealed class AsyncEventingBasicConsumerStub(IChannel channel) : AsyncDefaultBasicConsumer(channel);
}
