using TreeScout.Tests;

namespace TreeScout.Messaging.Tests;

/// <summary>
/// A RabbitMQ node of its own (own name, ports and data under /tmp) for a test that restarts the broker: restarting
/// the shared node would disturb every other test running against it at the same time.
/// </summary>
public sealed class PrivateRabbitNode : IAsyncDisposable
{
    private readonly string _directory;

    private PrivateRabbitNode(string name, int port, string directory)
    {
        Name = name;
        Port = port;
        _directory = directory;
    }

    public string Name { get; }

    public int Port { get; }

    public Uri Uri => new($"amqp://guest:guest@127.0.0.1:{Port}/");

    public static async Task<PrivateRabbitNode> StartAsync()
    {
        TestBroker.EnsureReachable(); // the shared node proves the rabbitmq-server package is installed and usable
        var id = Guid.NewGuid().ToString("N")[..8];
        var directory = Path.Combine(Path.GetTempPath(), $"ts-rabbit-{id}");
        Directory.CreateDirectory(directory);
        // Debian's scripts run the node as the rabbitmq user: it must own the data directory.
        await Tool.OutputAsync("chown", ["-R", "rabbitmq:rabbitmq", directory]);
        var node = new PrivateRabbitNode($"ts-{id}@localhost", WorkerProcess.FreePort(), directory);
        var env = new List<string>
        {
            $"RABBITMQ_NODENAME={node.Name}",
            $"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
            $"RABBITMQ_NODE_PORT={node.Port}",
            $"RABBITMQ_DIST_PORT={WorkerProcess.FreePort()}",
            $"RABBITMQ_MNESIA_BASE={directory}/mnesia",
            $"RABBITMQ_LOG_BASE={directory}/log",
            $"RABBITMQ_PID_FILE={directory}/pid",
            $"RABBITMQ_ENABLED_PLUGINS_FILE={directory}/enabled_plugins",
        };
        await Tool.OutputAsync("env", [.. env, "rabbitmq-server", "-detached"]);
        await node.WaitUntilRunningAsync(TimeSpan.FromSeconds(90));
        return node;
    }

    /// <summary>Stops the RabbitMQ application (every connection drops; the node keeps its data) and starts it again after <paramref name="downFor"/>.</summary>
    public async Task RestartAppAsync(TimeSpan downFor)
    {
        await CtlAsync("stop_app");
        await Task.Delay(downFor);
        await CtlAsync("start_app");
        await WaitUntilRunningAsync(TimeSpan.FromSeconds(60));
    }

    public Task<string> CtlAsync(params string[] args) => Tool.OutputAsync("rabbitmqctl", ["-q", "-n", Name, .. args]);

    private async Task WaitUntilRunningAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                await Tool.OutputAsync("rabbitmq-diagnostics", ["-q", "-n", Name, "check_port_connectivity"], TimeSpan.FromSeconds(20));
                return;
            }
            catch (Exception ex) when (ex is InvalidOperationException or TimeoutException && DateTime.UtcNow < deadline)
            {
                await Task.Delay(500);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await CtlAsync("stop");
        }
        catch (InvalidOperationException)
        {
            // Already down.
        }
        Directory.Delete(_directory, recursive: true);
    }
}
