using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TreeScout.Messaging;
using TreeScout.Tests;

namespace TreeScout.Hosting.Tests;

/// <summary>
/// /healthz and /readyz as <see cref="WorkerHealth"/> maps them, on a real Kestrel listener, with a real bus: the
/// in-memory one, or a RabbitMQ bus whose broker port is closed (no broker needed).
/// </summary>
[Trait("Category", "Unit")]
public sealed class WorkerHealthTests
{
    [Fact]
    public async Task With_the_broker_away_the_worker_is_alive_but_not_ready_and_both_say_what_it_waits_for()
    {
        var brokerPort = WorkerProcess.FreePort();
        var options = new BrokerOptions { Uri = $"amqp://guest:secret@127.0.0.1:{brokerPort}/" };
        await using var bus = new RabbitMqMessageBus(options, new Topology(options.Topology), "detection", new MessagingMetrics(), NullLogger<RabbitMqMessageBus>.Instance);
        await bus.StartAsync(CancellationToken.None);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (bus.Outage is null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
        var waiting = $"waiting for the broker at amqp://guest:***@127.0.0.1:{brokerPort}/ (connection refused), ";

        await using var endpoints = await Endpoints.StartAsync(bus, new WorkerWarnings());
        var (live, health) = await endpoints.GetAsync(WorkerHealth.LivenessPath);
        var (ready, readiness) = await endpoints.GetAsync(WorkerHealth.ReadinessPath);

        Assert.Equal(HttpStatusCode.OK, live);
        Assert.Equal(("alive", "detection"), (health.GetProperty("status").GetString(), health.GetProperty("worker").GetString()));
        Assert.StartsWith("0.", health.GetProperty("version").GetString(), StringComparison.Ordinal);
        Assert.StartsWith(waiting, health.GetProperty("bus").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, health.GetProperty("warnings").GetArrayLength());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready);
        Assert.Equal("not ready", readiness.GetProperty("status").GetString());
        Assert.StartsWith(waiting, readiness.GetProperty("bus").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_ready_worker_with_a_warning_stays_alive_and_ready_and_lists_the_warning()
    {
        using var metrics = new MessagingMetrics();
        var broker = new InMemoryBroker(new Topology(new TopologyOptions()));
        await using var bus = new InMemoryMessageBus(broker, "detection", new BrokerOptions(), metrics, NullLogger<InMemoryMessageBus>.Instance);
        var warnings = new WorkerWarnings();
        await using var endpoints = await Endpoints.StartAsync(bus, warnings);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await endpoints.GetAsync(WorkerHealth.ReadinessPath)).Status); // not started yet
        await bus.StartAsync(CancellationToken.None);
        warnings.Raise("low-disk", "low disk at /var/lib/treescout/runs: 3900 MiB free");
        warnings.Raise("camera", "camera cam-left looks rotated by 180°");
        var (live, health) = await endpoints.GetAsync(WorkerHealth.LivenessPath);
        var (ready, readiness) = await endpoints.GetAsync(WorkerHealth.ReadinessPath);

        Assert.Equal(HttpStatusCode.OK, live);
        Assert.Equal(("alive", "ready (embedded)"), (health.GetProperty("status").GetString(), health.GetProperty("bus").GetString()));
        Assert.Equal(["camera cam-left looks rotated by 180°", "low disk at /var/lib/treescout/runs: 3900 MiB free"],
            health.GetProperty("warnings").EnumerateArray().Select(w => w.GetString()));
        Assert.Equal(HttpStatusCode.OK, ready);
        Assert.Equal(("ready", "ready (embedded)"), (readiness.GetProperty("status").GetString(), readiness.GetProperty("bus").GetString()));
        Assert.False(readiness.TryGetProperty("warnings", out _)); // warnings never make a worker unready
    }

    /// <summary>The two endpoints on 127.0.0.1, with the services a worker host registers for them.</summary>
    private sealed class Endpoints(WebApplication app, int port) : IAsyncDisposable
    {
        private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

        public static async Task<Endpoints> StartAsync(IMessageBus bus, WorkerWarnings warnings)
        {
            var port = WorkerProcess.FreePort();
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
            builder.Services.AddSingleton(bus).AddSingleton(warnings).AddSingleton(WorkerIdentity.For(WorkerRole.Detection));
            builder.Services.AddWorkerHealthChecks();
            var app = builder.Build();
            app.MapWorkerHealthEndpoints();
            await app.StartAsync();
            return new Endpoints(app, port);
        }

        public async Task<(HttpStatusCode Status, JsonElement Body)> GetAsync(string path)
        {
            using var response = await Http.GetAsync(new Uri($"http://127.0.0.1:{port}{path}"));
            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return (response.StatusCode, body.RootElement.Clone());
        }

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}
