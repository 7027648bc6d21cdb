using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace TreeScout.Tests;

/// <summary>
/// A RabbitMQ node a test owns, for tests that stop, kill or restart the broker: never the shared node on 5672, which
/// other tests use at the same time. It has its own node name, its own AMQP and Erlang distribution ports (below the
/// ephemeral port range, so no client connection can take them while the node is down), and its own data, logs, config,
/// env and plugins files in one temporary folder, listening on 127.0.0.1 only. Debian's scripts run the node as the
/// rabbitmq user, which owns that folder. Guest/guest can connect (from loopback).
/// <para>
/// <see cref="StopAsync"/> is a clean shutdown, <see cref="KillAsync"/> a power cut (SIGKILL of the node's VM);
/// <see cref="StartAgainAsync"/> boots it again on the same data. Each returns once the node accepts AMQP connections
/// (or stopped accepting them). Disposing kills the node and deletes its folder; a node a test left running is removed
/// when the test process exits.
/// </para>
/// </summary>
public sealed class OwnBrokerNode : IAsyncDisposable
{
    /// <summary>A first boot on a busy 2-core machine took 53 s (a restart 35 s); a node not up by then is broken.</summary>
    public static readonly TimeSpan BootTimeout = TimeSpan.FromMinutes(3);

    private static readonly ConcurrentDictionary<OwnBrokerNode, bool> Live = new();

    private readonly Dictionary<string, string?> _environment;

    static OwnBrokerNode() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        foreach (var node in Live.Keys)
        {
            try
            {
                node.Remove();
            }
            catch (IOException)
            {
                // Best effort at exit: the next node still gets removed.
            }
        }
    };

    private OwnBrokerNode(string purpose)
    {
        var id = Guid.NewGuid().ToString("N")[..8];
        Name = $"ts-{purpose}-{id}@localhost";
        Folder = Path.Combine(Path.GetTempPath(), $"ts-broker-{purpose}-{id}");
        Port = PortBelowEphemeralRange(except: 0);
        var distributionPort = PortBelowEphemeralRange(except: Port);
        _environment = new Dictionary<string, string?>
        {
            ["RABBITMQ_NODENAME"] = Name,
            ["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1",
            ["RABBITMQ_NODE_PORT"] = Port.ToString(CultureInfo.InvariantCulture),
            ["RABBITMQ_DIST_PORT"] = distributionPort.ToString(CultureInfo.InvariantCulture),
            // Its own files, so nothing of the shared node's /etc/rabbitmq applies (ports, plugins, limits).
            ["RABBITMQ_CONF_ENV_FILE"] = Path.Combine(Folder, "rabbitmq-env.conf"),
            ["RABBITMQ_CONFIG_FILE"] = Path.Combine(Folder, "rabbitmq.conf"),
            ["RABBITMQ_ADVANCED_CONFIG_FILE"] = Path.Combine(Folder, "advanced.config"),
            ["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(Folder, "enabled_plugins"),
            ["RABBITMQ_MNESIA_BASE"] = Path.Combine(Folder, "mnesia"),
            ["RABBITMQ_LOG_BASE"] = Path.Combine(Folder, "log"),
            ["RABBITMQ_PID_FILE"] = PidFile,
        };
    }

    public string Name { get; }

    /// <summary>The node's AMQP port on 127.0.0.1; the same after every restart.</summary>
    public int Port { get; }

    /// <summary>Where the node keeps its data, logs and configuration.</summary>
    public string Folder { get; }

    public Uri Uri => new($"amqp://guest:guest@127.0.0.1:{Port}/");

    /// <summary>The node VM's process id while it runs.</summary>
    public int? Pid { get; private set; }

    private string PidFile => Path.Combine(Folder, "node.pid");

    private string LogFile => Path.Combine(Folder, "log", Name + ".log");

    /// <summary>Creates the node's folder and boots it; <paramref name="purpose"/> (a short word) goes into its name.</summary>
    public static async Task<OwnBrokerNode> StartAsync(string purpose)
    {
        if (!File.Exists("/usr/lib/rabbitmq/bin/rabbitmq-server"))
        {
            throw new InvalidOperationException("RabbitMQ is not installed: `sudo .ci/rabbitmq start` installs and starts it (Debian package rabbitmq-server)");
        }
        var node = new OwnBrokerNode(purpose);
        Live[node] = true;
        try
        {
            await node.WriteFilesAsync();
            await node.StartAgainAsync();
            return node;
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }
    }

    /// <summary>Boots the node (again) on its data; returns once it accepts AMQP connections.</summary>
    public async Task StartAgainAsync()
    {
        if (Pid is not null)
        {
            throw new InvalidOperationException($"{Name} is already running");
        }
        File.Delete(PidFile); // a power cut leaves the old one
        var started = await Tool.RunAsync("rabbitmq-server", ["-detached"], TimeSpan.FromSeconds(60), Folder, _environment);
        if (started.ExitCode != 0)
        {
            throw new InvalidOperationException($"rabbitmq-server -detached for {Name} failed ({started.ExitCode}): {started.Stderr}{started.Stdout}");
        }
        var deadline = DateTime.UtcNow + BootTimeout;
        while (true)
        {
            // The node writes its pid file early in the boot; it accepts connections once every boot step has run.
            if (Pid is null)
            {
                TryReadPid();
            }
            if (Pid is not null && !IsRunning())
            {
                Pid = null;
                throw new InvalidOperationException($"{Name} died while booting. Its log ends:\n{LogTail()}");
            }
            if (Pid is not null && await AcceptsAmqpAsync())
            {
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{Name} did not accept connections on 127.0.0.1:{Port} within {BootTimeout.TotalSeconds:0}s. Its log ends:\n{LogTail()}");
            }
            await Task.Delay(250);
        }
    }

    /// <summary>Clean shutdown (`rabbitmqctl stop`): every connection is closed, the data stays; returns once the VM has exited.</summary>
    public async Task StopAsync()
    {
        await CtlAsync("stop", PidFile);
        Pid = null;
        await WaitUntilClosedAsync();
    }

    /// <summary>
    /// A power cut: SIGKILL to the node's VM, nothing flushed or closed cleanly; returns once it is gone. On RabbitMQ 3.10
    /// a quorum queue declared shortly before (its Ra server registration is saved to disk only every few minutes, or at
    /// a clean stop) can come back without a leader, refusing or never confirming publishes: stop and start the node
    /// once after declaring the topology when a test cuts the power afterwards.
    /// </summary>
    public async Task KillAsync()
    {
        using var vm = VirtualMachine() ?? throw new InvalidOperationException($"{Name} is not running");
        vm.Kill();
        await vm.WaitForExitAsync();
        Pid = null;
        await WaitUntilClosedAsync();
    }

    /// <summary>rabbitmqctl for this node (quiet); returns its standard output, throws with its error output when it fails.</summary>
    public async Task<string> CtlAsync(params string[] args)
    {
        var result = await Tool.RunAsync("rabbitmqctl", ["-q", "-n", Name, .. args], TimeSpan.FromSeconds(90), Folder, _environment);
        return result.ExitCode == 0
            ? result.Stdout
            : throw new InvalidOperationException($"rabbitmqctl -n {Name} {string.Join(' ', args)} failed ({result.ExitCode}): {result.Stderr}{result.Stdout}");
    }

    /// <summary>True when the node answers an AMQP 0-9-1 protocol header with its connection.start frame.</summary>
    public async Task<bool> AcceptsAmqpAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, Port, timeout.Token);
            await using var stream = client.GetStream();
            await stream.WriteAsync("AMQP\0\0\x09\x01"u8.ToArray(), timeout.Token);
            var frameType = new byte[1];
            return await stream.ReadAsync(frameType, timeout.Token) == 1 && frameType[0] == 1;
        }
        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException)
        {
            return false;
        }
    }

    public ValueTask DisposeAsync()
    {
        Remove();
        return ValueTask.CompletedTask;
    }

    private async Task WriteFilesAsync()
    {
        Directory.CreateDirectory(Folder);
        await File.WriteAllTextAsync(_environment["RABBITMQ_CONFIG_FILE"]!, """
            # A test node: a nearly full disk on a build machine must not raise a disk alarm that blocks publishers.
            disk_free_limit.absolute = 50MB
            """);
        await File.WriteAllTextAsync(_environment["RABBITMQ_CONF_ENV_FILE"]!, """
            # Erlang distribution and epmd on loopback only, as .ci/rabbitmq configures the shared node.
            SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
            CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
            export ERL_EPMD_ADDRESS=127.0.0.1
            """);
        await File.WriteAllTextAsync(_environment["RABBITMQ_ADVANCED_CONFIG_FILE"]!, "[].\n");
        await File.WriteAllTextAsync(_environment["RABBITMQ_ENABLED_PLUGINS_FILE"]!, "[].\n"); // no plugins: boots faster
        await Tool.OutputAsync("chown", ["-R", "rabbitmq:rabbitmq", Folder]);
    }

    private void TryReadPid()
    {
        try
        {
            Pid = int.Parse(File.ReadAllText(PidFile).Trim(), CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or FormatException)
        {
            // Not written yet (or half written).
        }
    }

    private bool IsRunning()
    {
        using var vm = VirtualMachine();
        return vm is not null;
    }

    /// <summary>The node's VM, if it runs: checked by name, so a reused process id is never taken for it.</summary>
    private Process? VirtualMachine()
    {
        if (Pid is not { } pid)
        {
            return null;
        }
        try
        {
            var process = Process.GetProcessById(pid);
            if (!process.HasExited && process.ProcessName == "beam.smp")
            {
                return process;
            }
            process.Dispose();
        }
        catch (ArgumentException)
        {
            // No such process.
        }
        return null;
    }

    private async Task WaitUntilClosedAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (await AcceptsAmqpAsync())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{Name} still accepts connections on {Port} after it was stopped");
            }
            await Task.Delay(100);
        }
    }

    /// <summary>Kills the VM if it runs and deletes the folder; synchronous, so it can run at process exit.</summary>
    private void Remove()
    {
        if (Pid is null)
        {
            TryReadPid(); // a boot that timed out before this saw its pid file
        }
        using (var vm = VirtualMachine())
        {
            vm?.Kill();
            vm?.WaitForExit(TimeSpan.FromSeconds(30));
        }
        Pid = null;
        if (Directory.Exists(Folder))
        {
            Directory.Delete(Folder, recursive: true);
        }
        Live.TryRemove(this, out _);
    }

    private string LogTail() =>
        File.Exists(LogFile) ? string.Join('\n', File.ReadLines(LogFile).TakeLast(30)) : $"(no log at {LogFile})";

    /// <summary>
    /// A free port below the kernel's ephemeral range: the node keeps its port across restarts, and while it is down an
    /// outgoing connection (which takes ephemeral ports) cannot occupy it.
    /// </summary>
    private static int PortBelowEphemeralRange(int except)
    {
        const string Range = "/proc/sys/net/ipv4/ip_local_port_range";
        var ephemeralStart = File.Exists(Range) && int.TryParse(File.ReadAllText(Range).Split('\t', ' ')[0], NumberStyles.None, CultureInfo.InvariantCulture, out var low) ? low : 32768;
        var high = Math.Clamp(ephemeralStart, 20_001, 30_000);
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var port = Random.Shared.Next(20_000, high);
            if (port == except)
            {
                continue;
            }
            try
            {
                using var probe = new TcpListener(IPAddress.Loopback, port);
                probe.Start();
                return port;
            }
            catch (SocketException)
            {
                // Taken: try another.
            }
        }
        throw new InvalidOperationException($"no free port between 20000 and {high}");
    }
}
