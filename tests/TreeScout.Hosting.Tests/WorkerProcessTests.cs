using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using TreeScout.Contracts;
using TreeScout.Messaging;
using TreeScout.Tests;
using Xunit.Abstractions;

namespace TreeScout.Hosting.Tests;

/// <summary>
/// A real worker process (tests/TreeScout.TestWorker: WorkerHost + a frame relay handler) against the real RabbitMQ:
/// health, readiness, Prometheus metrics, structured logs, graceful SIGTERM, configuration errors, no broker.
/// </summary>
public sealed class WorkerProcessTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Trait("Category", "Integration")]
    [Fact]
    public async Task A_worker_serves_health_readiness_and_prometheus_metrics_and_logs_json_with_worker_run_and_version()
    {
        await using var vhost = await TestBroker.CreateVhostAsync("health");
        var port = WorkerProcess.FreePort();
        await using var worker = StartWorker(vhost.Uri.ToString(), port, new() { ["TREESCOUT__Logging__Format"] = "json" });

        await WaitForStatusAsync(port, "/readyz", HttpStatusCode.OK);
        using (var health = JsonDocument.Parse(await Http.GetStringAsync(Url(port, "/healthz"))))
        {
            Assert.Equal("alive", health.RootElement.GetProperty("status").GetString());
            Assert.Equal("detection", health.RootElement.GetProperty("worker").GetString());
            Assert.StartsWith("0.", health.RootElement.GetProperty("version").GetString(), StringComparison.Ordinal);
            Assert.Equal("ready", health.RootElement.GetProperty("bus").GetString());
        }

        await using var capture = await ConnectAsync(vhost.Uri);
        var frame = Frame(3, "20260421-091200-noord-3-ab12");
        await capture.PublishAsync(frame);
        await worker.WaitForLineAsync(l => l.Contains($"Relayed frame {frame.MessageId}", StringComparison.Ordinal), Patience, "the frame was relayed");

        // The ack (and the consumed count) follows the handler's last log line.
        var metrics = "";
        var deadline = DateTime.UtcNow + Patience;
        while (!(metrics = await Http.GetStringAsync(Url(port, "/metrics"))).Contains("treescout_messaging_messages_consumed{", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }
        Assert.Equal(1, HealthEndpoint.MetricValue(metrics, "treescout_worker_frames_relayed"));
        Assert.Equal(1, HealthEndpoint.MetricValue(metrics, "treescout_messaging_messages_consumed", "queue=\"treescout.detection.frames\""));
        Assert.True(HealthEndpoint.MetricValue(metrics, "treescout_messaging_messages_published", "exchange=\"treescout.detections\"") >= 1);

        Assert.Equal(0, await worker.TerminateAsync(TimeSpan.FromSeconds(30)));
        var events = worker.Lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.NotEmpty(events);
        foreach (var e in events)
        {
            Assert.Equal("detection", e.GetProperty("Worker").GetString());
            Assert.StartsWith("0.", e.GetProperty("Version").GetString(), StringComparison.Ordinal);
            Assert.True(e.TryGetProperty("RunId", out _), $"RunId missing in {e}");
        }
        var relayed = events.Single(e => e.GetProperty("@m").GetString()!.StartsWith("Relayed frame", StringComparison.Ordinal));
        Assert.Equal(frame.RunId, relayed.GetProperty("RunId").GetString());
        Assert.Equal(frame.MessageId.ToString(), relayed.GetProperty("MessageId").GetString());
    }

    [Trait("Category", "Integration")]
    [Fact]
    public async Task SIGTERM_lets_the_message_in_flight_finish_and_be_acknowledged_before_the_worker_exits()
    {
        await using var vhost = await TestBroker.CreateVhostAsync("sigterm");
        var port = WorkerProcess.FreePort();
        await using var worker = StartWorker(vhost.Uri.ToString(), port, new() { ["TREESCOUT__Relay__HandleTime"] = "00:00:03" });
        await WaitForStatusAsync(port, "/readyz", HttpStatusCode.OK);
        await using var capture = await ConnectAsync(vhost.Uri);
        var frame = Frame(9, "20260421-091200-noord-3-ab12");
        await capture.PublishAsync(frame);
        await worker.WaitForLineAsync(l => l.Contains($"Relaying frame {frame.MessageId}", StringComparison.Ordinal), Patience, "the frame is being handled");

        Assert.Equal(0, await worker.TerminateAsync(TimeSpan.FromSeconds(30)));

        Assert.Contains(worker.Lines, l => l.Contains($"Relayed frame {frame.MessageId}", StringComparison.Ordinal));
        // Acknowledged: nothing waits for redelivery; its detections are downstream.
        var frames = await capture.GetQueueDepthAsync(Topology.DetectionFramesQueue, CancellationToken.None);
        Assert.Equal(new QueueDepth(Topology.DetectionFramesQueue, 0, 0, 0), frames);
        Assert.Equal(1, (await capture.GetQueueDepthAsync(Topology.FusionDetectionsQueue, CancellationToken.None))!.Ready);
    }

    [Trait("Category", "Unit")]
    [Fact]
    public async Task With_the_broker_unreachable_the_worker_stays_up_not_ready_and_says_how_long_it_has_been_waiting()
    {
        var port = WorkerProcess.FreePort();
        var brokerPort = WorkerProcess.FreePort();
        var waiting = $"aiting for the broker at amqp://guest:***@127.0.0.1:{brokerPort}/ (connection refused), ";
        await using var worker = StartWorker($"amqp://guest:guest@127.0.0.1:{brokerPort}/", port, new()
        {
            ["TREESCOUT__Broker__MaxReconnectDelay"] = "00:00:01",
            ["TREESCOUT__Broker__WaitReportInterval"] = "00:00:02",
        });

        await WaitForStatusAsync(port, "/healthz", HttpStatusCode.OK);
        await Task.Delay(TimeSpan.FromSeconds(5)); // several retries
        Assert.False(worker.HasExited, "no crash (and so no crash loop)");
        var ready = await Http.GetAsync(Url(port, "/readyz"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Contains(waiting, await ready.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var line = Assert.Single(worker.Lines, l => l.Contains("unreachable", StringComparison.Ordinal));
        Assert.Contains($"127.0.0.1:{brokerPort}", line, StringComparison.Ordinal);
        Assert.Contains("ERR", line, StringComparison.Ordinal);
        // Then, every report interval, for how long.
        var waitingLines = worker.Lines.Where(l => l.Contains("W" + waiting, StringComparison.Ordinal)).ToList();
        Assert.True(waitingLines.Count >= 2, string.Join('\n', worker.Lines));
        Assert.All(waitingLines, l => Assert.Contains("WRN", l, StringComparison.Ordinal));
    }

    [Trait("Category", "Unit")]
    [Theory]
    [InlineData("TREESCOUT__Broker__Prefetch", "0", "The field Prefetch must be between 1 and 65535.")]
    [InlineData("TREESCOUT__Health__Port", "http", "Failed to convert configuration value 'http' at 'Health:Port'")]
    [InlineData("TREESCOUT__Health__BindAddress", "everywhere", "Health:BindAddress must be an IP address")]
    [InlineData("TREESCOUT__Broker__Uri", "", "Broker:Uri (env TREESCOUT__Broker__Uri) is required for a worker process")]
    [InlineData("TREESCOUT__Broker__Uri", "http://127.0.0.1:5672/", "Broker:Uri 'http://127.0.0.1:5672/' is not an amqp:// or amqps:// URI")]
    public async Task Invalid_configuration_is_one_clear_line_and_exit_code_2(string variable, string value, string expected)
    {
        var environment = new Dictionary<string, string> { [variable] = value };
        await using var worker = StartWorker(environment.ContainsKey("TREESCOUT__Broker__Uri") ? value : "amqp://guest:guest@127.0.0.1:5672/", WorkerProcess.FreePort(), environment);

        Assert.Equal(2, await worker.WaitForExitAsync(Patience));
        await Task.Delay(200);
        var line = Assert.Single(worker.Lines, l => l.Trim().Length > 0);
        Assert.StartsWith("detection: invalid configuration: ", line, StringComparison.Ordinal);
        Assert.Contains(expected, line, StringComparison.Ordinal);
    }

    private WorkerProcess StartWorker(string broker, int healthPort, Dictionary<string, string> extra)
    {
        var environment = new Dictionary<string, string>
        {
            ["TREESCOUT__Broker__Uri"] = broker,
            ["TREESCOUT__Health__BindAddress"] = "127.0.0.1",
            ["TREESCOUT__Health__Port"] = healthPort.ToString(CultureInfo.InvariantCulture),
            ["TREESCOUT__Logging__Format"] = "text",
        };
        foreach (var (key, value) in extra)
        {
            environment[key] = value;
        }
        return WorkerProcess.Start(WorkerProcess.ProjectDll("tests", "TreeScout.TestWorker"), environment, echo: l => output.WriteLine("[worker] " + l));
    }

    private static async Task<RabbitMqMessageBus> ConnectAsync(Uri broker)
    {
        var options = new BrokerOptions { Uri = broker.ToString() };
        var bus = new RabbitMqMessageBus(options, new Topology(options.Topology), "test-capture", new MessagingMetrics(), NullLogger<RabbitMqMessageBus>.Instance);
        await bus.StartAsync(CancellationToken.None);
        await bus.WhenConnectedAsync(CancellationToken.None).WaitAsync(Patience);
        return bus;
    }

    private static FrameCaptured Frame(long sequence, string runId) => new()
    {
        MessageId = MessageIds.For(runId, "frame", sequence),
        RunId = runId,
        Sequence = sequence,
        CameraId = "cam-left",
        CapturedAtUtc = DateTimeOffset.UnixEpoch,
        MonotonicNs = sequence,
        Width = 64,
        Height = 48,
        Jpeg = [0xFF, 0xD8, 0xFF, 0xD9],
    };

    private static HttpClient Http => HealthEndpoint.Http;

    private static Uri Url(int port, string path) => HealthEndpoint.Url(port, path);

    private static Task WaitForStatusAsync(int port, string path, HttpStatusCode status) => HealthEndpoint.WaitForStatusAsync(port, path, status, Patience);
}
