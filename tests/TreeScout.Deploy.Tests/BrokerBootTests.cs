using System.Diagnostics;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using k8s.Models;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using TreeScout.Cli.Deploy;
using TreeScout.Deploy.Tests.Support;
using TreeScout.Messaging;
using TreeScout.Tests;
using Xunit.Abstractions;

namespace TreeScout.Deploy.Tests;

/// <summary>
/// Boots a throw-away RabbitMQ node (Debian's rabbitmq-server, beside the CI node, other ports) exactly as the broker
/// pod does: the ConfigMap's rabbitmq.conf and enabled_plugins, the definitions rendered by the init script from a
/// Secret, the StatefulSet's Erlang flags. Proves the configuration parses, the definitions load at boot, no default
/// (guest) user is created, the workers' users log in, and the Prometheus endpoint answers.
/// </summary>
[Trait("Category", "Integration")]
public sealed class BrokerBootTests(ITestOutputHelper output) : IAsyncLifetime, IDisposable
{
    private readonly string _node = $"tsboot{Guid.NewGuid():N}"[..14] + "@localhost";
    private DirectoryInfo _dir = null!;
    private readonly System.Text.StringBuilder _console = new();
    private Process? _server;
    private int _amqp;
    private int _prometheus;

    public async Task InitializeAsync()
    {
        var broker = (await Overlay.RenderAsync(Overlay.Tractor)).Single<V1StatefulSet>("treescout-rabbitmq");
        var config = (await Overlay.RenderAsync(Overlay.Tractor)).OfType<V1ConfigMap>().Single(c => c.Metadata.Name.StartsWith("treescout-broker-", StringComparison.Ordinal));

        _dir = Directory.CreateTempSubdirectory("ts-broker-boot-");
        // The node runs as the rabbitmq user (Debian's wrapper): it must be able to write here.
        File.SetUnixFileMode(_dir.FullName, (UnixFileMode)0b111_111_111);
        (_amqp, _prometheus) = (WorkerProcess.FreePort(), WorkerProcess.FreePort());
        var management = WorkerProcess.FreePort();
        var conf = Directory.CreateDirectory(Path.Combine(_dir.FullName, "conf.d"));
        var definitions = Path.Combine(_dir.FullName, "definitions.json");
        await File.WriteAllTextAsync(Path.Combine(conf.FullName, "10-treescout.conf"), config.Data["rabbitmq.conf"]
            .Replace("listeners.tcp.default = 5672", $"listeners.tcp.default = 127.0.0.1:{_amqp}", StringComparison.Ordinal)
            .Replace("management.tcp.port = 15672", $"management.tcp.port = {management}\nmanagement.tcp.ip = 127.0.0.1", StringComparison.Ordinal)
            .Replace("prometheus.tcp.port = 15692", $"prometheus.tcp.port = {_prometheus}\nprometheus.tcp.ip = 127.0.0.1", StringComparison.Ordinal)
            .Replace("load_definitions = /etc/rabbitmq/definitions/definitions.json", $"load_definitions = {definitions}", StringComparison.Ordinal));
        await File.WriteAllTextAsync(Path.Combine(_dir.FullName, "enabled_plugins"), config.Data["enabled_plugins"]);
        await File.WriteAllTextAsync(Path.Combine(_dir.FullName, "committed.json"), config.Data["definitions.json"]);

        var secrets = Directory.CreateDirectory(Path.Combine(_dir.FullName, "secrets"));
        foreach (var role in BrokerPermissions.Roles)
        {
            await File.WriteAllTextAsync(Path.Combine(secrets.FullName, Name(role)), Password(role));
        }
        var render = await Tool.RunAsync("sh", ["deploy/k3s/base/rabbitmq/render-definitions.sh", Path.Combine(_dir.FullName, "committed.json"), secrets.FullName, definitions]);
        Assert.True(render.ExitCode == 0, render.Stderr);
        File.SetUnixFileMode(definitions, (UnixFileMode)0b110_100_100);

        var erlangArgs = broker.Spec.Template.Spec.Containers.Single().Env.Single(e => e.Name == "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS").Value;
        var psi = new ProcessStartInfo("rabbitmq-server") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = "/" };
        psi.Environment["RABBITMQ_NODENAME"] = _node;
        psi.Environment["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1";
        psi.Environment["RABBITMQ_NODE_PORT"] = _amqp.ToString(System.Globalization.CultureInfo.InvariantCulture);
        psi.Environment["RABBITMQ_DIST_PORT"] = WorkerProcess.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        psi.Environment["RABBITMQ_MNESIA_BASE"] = Path.Combine(_dir.FullName, "mnesia");
        psi.Environment["RABBITMQ_LOG_BASE"] = Path.Combine(_dir.FullName, "log");
        psi.Environment["RABBITMQ_CONFIG_FILES"] = conf.FullName;
        psi.Environment["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(_dir.FullName, "enabled_plugins");
        psi.Environment["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"] = erlangArgs + " -kernel inet_dist_use_interface {127,0,0,1}";
        _server = new Process { StartInfo = psi };
        // log.console = true, log.file = false, as in the pod: the node logs to standard output only.
        _server.OutputDataReceived += (_, e) => Append(e.Data);
        _server.ErrorDataReceived += (_, e) => Append(e.Data);
        _server.Start();
        _server.BeginOutputReadLine();
        _server.BeginErrorReadLine();
        // await_startup needs the Erlang VM up and registered with epmd first.
        var deadline = DateTime.UtcNow.AddMinutes(3);
        ToolResult started;
        do
        {
            await Task.Delay(1000);
            started = await Tool.RunAsync("rabbitmqctl", ["-n", _node, "-q", "await_startup", "--timeout", "60"], TimeSpan.FromMinutes(2));
        }
        while (started.ExitCode != 0 && !_server.HasExited && DateTime.UtcNow < deadline);
        Assert.True(started.ExitCode == 0, $"node {_node} did not boot: {started.Stderr}{await LogTailAsync()}");
    }

    public async Task DisposeAsync()
    {
        if (_server is { HasExited: false })
        {
            await Tool.RunAsync("rabbitmqctl", ["-n", _node, "-q", "stop"], TimeSpan.FromMinutes(1));
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await _server.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                _server.Kill(entireProcessTree: true);
            }
        }
        _dir.Delete(recursive: true);
    }

    public void Dispose() => _server?.Dispose();

    [Fact]
    public async Task The_broker_boots_with_the_definitions_its_users_and_no_default_user()
    {
        var users = await Tool.OutputAsync("rabbitmqctl", ["-n", _node, "-q", "list_users", "--no-table-headers"]);
        var names = users.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')[0]).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(BrokerPermissions.Roles.Select(r => RabbitMqDefinitions.UserName(r)).Order(StringComparer.Ordinal), names);
        Assert.Contains("Will not seed default virtual host and user", await LogTailAsync(), StringComparison.Ordinal);

        var queues = await Tool.OutputAsync("rabbitmqctl", ["-n", _node, "-q", "list_queues", "-p", RabbitMqDefinitions.DefaultVhost, "name", "type", "--no-table-headers"]);
        var topology = new Topology(new TopologyOptions());
        Assert.Equal(topology.Queues.Count * 2, queues.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(l => l.EndsWith("\tquorum", StringComparison.Ordinal)));

        // Each worker logs in with its password and finds the topology the way the deployed worker does.
        foreach (var role in BrokerPermissions.Roles)
        {
            await using var connection = await Factory(RabbitMqDefinitions.UserName(role), Password(role)).CreateConnectionAsync();
            await using var channel = await connection.CreateChannelAsync();
            await new RabbitMqTopology(topology).VerifyAsync(channel, CancellationToken.None);
        }
        await Assert.ThrowsAsync<BrokerUnreachableException>(() => Factory("guest", "guest").CreateConnectionAsync());

        using var http = new HttpClient();
        var metrics = await http.GetStringAsync($"http://127.0.0.1:{_prometheus}/metrics");
        Assert.Contains("rabbitmq_build_info", metrics, StringComparison.Ordinal);
        output.WriteLine($"{_node}: {names.Count} users, {topology.Queues.Count * 2} quorum queues, metrics {metrics.Length} bytes");
    }

    private ConnectionFactory Factory(string user, string password) => new()
    {
        Uri = new Uri($"amqp://{user}:{password}@127.0.0.1:{_amqp}/{RabbitMqDefinitions.DefaultVhost}"),
        AutomaticRecoveryEnabled = false,
    };

    private static string Password(WorkerRole role) => $"BootTest{Name(role)}0123456789";

    private static string Name(WorkerRole role) => role.ToString().ToLowerInvariant();

    private void Append(string? line)
    {
        lock (_console)
        {
            _console.AppendLine(line);
        }
    }

    private Task<string> LogTailAsync()
    {
        string text;
        lock (_console)
        {
            text = _console.ToString();
        }
        return Task.FromResult(Regex.Replace(text.Length > 20000 ? text[^20000..] : text, @"\e\[[0-9;]*m", ""));
    }
}
