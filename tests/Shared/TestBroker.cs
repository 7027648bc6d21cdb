using System.Net.Sockets;

namespace TreeScout.Tests;

/// <summary>
/// The real RabbitMQ the integration tests run against (started by .ci/run, or by hand with `.ci/rabbitmq start`).
/// URI from TREESCOUT_TEST_AMQP, default amqp://guest:guest@127.0.0.1:5672/. Each test gets its own virtual host
/// (<see cref="CreateVhostAsync"/>), so tests running in parallel never see each other's queues or messages.
/// Never skips: an unreachable broker fails the test with instructions.
/// </summary>
public static class TestBroker
{
    public static Uri BaseUri { get; } = new(Environment.GetEnvironmentVariable("TREESCOUT_TEST_AMQP") is { Length: > 0 } uri ? uri : "amqp://guest:guest@127.0.0.1:5672/");

    public static string User => Uri.UnescapeDataString(BaseUri.UserInfo.Split(':')[0]);

    private static readonly Lazy<string?> Unreachable = new(Probe);

    /// <summary>Throws with a clear message (how to start the broker) when nothing accepts connections at <see cref="BaseUri"/>.</summary>
    public static void EnsureReachable()
    {
        if (Unreachable.Value is { } reason)
        {
            throw new InvalidOperationException(
                $"RabbitMQ is not reachable at {BaseUri.Host}:{Port(BaseUri)} ({reason}). The integration tests need a real broker: " +
                "run `sudo .ci/rabbitmq start` from the repository root (Debian package rabbitmq-server), or point TREESCOUT_TEST_AMQP at one " +
                "(rabbitmqctl must reach it too: tests create virtual hosts and close connections with it).");
        }
    }

    /// <summary>A fresh virtual host with full permissions for the test user; deleted on dispose.</summary>
    public static async Task<TestVhost> CreateVhostAsync(string purpose)
    {
        EnsureReachable();
        var name = $"ts-{purpose}-{Guid.NewGuid():N}"[..Math.Min(60, purpose.Length + 36)];
        await CtlAsync("add_vhost", name);
        await CtlAsync("set_permissions", "-p", name, User, ".*", ".*", ".*");
        return new TestVhost(name, new UriBuilder(BaseUri) { Path = "/" + Uri.EscapeDataString(name) }.Uri);
    }

    /// <summary>Runs rabbitmqctl (quiet) and returns its standard output; throws with its error output on failure.</summary>
    public static Task<string> CtlAsync(params string[] args) => Tool.OutputAsync("rabbitmqctl", ["-q", .. args]);

    private static int Port(Uri uri) => uri.Port > 0 ? uri.Port : 5672;

    private static string? Probe()
    {
        try
        {
            using var client = new TcpClient();
            if (!client.ConnectAsync(BaseUri.Host, Port(BaseUri)).Wait(TimeSpan.FromSeconds(3)))
            {
                return "connect timed out";
            }
            return null;
        }
        catch (Exception ex)
        {
            return ex.GetBaseException().Message;
        }
    }
}

/// <summary>A test's own virtual host on the test broker.</summary>
public sealed class TestVhost(string name, Uri uri) : IAsyncDisposable
{
    public string Name { get; } = name;

    /// <summary>amqp URI of this virtual host (with the test user's credentials).</summary>
    public Uri Uri { get; } = uri;

    /// <summary>Closes every client connection to this virtual host, as `rabbitmqctl close_connection` would for a broker-side disconnect.</summary>
    public async Task<int> CloseConnectionsAsync(string reason)
    {
        var lines = await TestBroker.CtlAsync("list_connections", "--no-table-headers", "pid", "vhost");
        var pids = lines.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => l.Split('\t'))
            .Where(c => c.Length == 2 && c[1] == Name && c[0].StartsWith('<'))
            .Select(c => c[0])
            .ToList();
        foreach (var pid in pids)
        {
            await TestBroker.CtlAsync("close_connection", pid, reason);
        }
        return pids.Count;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await TestBroker.CtlAsync("delete_vhost", Name);
        }
        catch (InvalidOperationException)
        {
            // Best effort: a leftover test vhost is harmless.
        }
    }
}
