using System.Net;
using System.Text.Json;
using TreeScout.Tests;
using Xunit.Abstractions;

namespace TreeScout.Central.Tests;

/// <summary>The ingest worker's /healthz and /readyz as the kubelet probes them (deploy/central/ingest/ingest.yaml).</summary>
public static class CentralReadiness
{
    public static string Dll => WorkerProcess.ProjectDll("src", "TreeScout.Central");

    public static Dictionary<string, string> Environment(string broker, string database, int healthPort) => new()
    {
        ["TREESCOUT__Central__Broker"] = broker,
        ["TREESCOUT__Central__Database"] = database,
        ["TREESCOUT__Health__Port"] = healthPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["TREESCOUT__Health__BindAddress"] = "127.0.0.1",
    };

    public static async Task<(HttpStatusCode Status, JsonElement Body, string Text)> GetAsync(int port, string path)
    {
        using var response = await HealthEndpoint.Http.GetAsync(HealthEndpoint.Url(port, path));
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone(), text);
    }
}

/// <summary>Nothing listens where the broker and PostgreSQL should be: the worker waits, alive, and says why it is not ready.</summary>
[Trait("Category", "Unit")]
public sealed class CentralReadinessWhileAwayTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Readiness_is_503_naming_the_central_broker_and_PostgreSQL_it_waits_for_without_passwords_and_liveness_stays_200()
    {
        var (healthPort, brokerPort, dbPort) = (WorkerProcess.FreePort(), WorkerProcess.FreePort(), WorkerProcess.FreePort());
        await using var worker = WorkerProcess.Start(CentralReadiness.Dll, CentralReadiness.Environment(
            $"amqp://ingest:broker-s3cret@127.0.0.1:{brokerPort}/treescout-central",
            $"Host=127.0.0.1;Port={dbPort};Database=treescout;Username=treescout;Password=db-s3cret",
            healthPort), echo: output.WriteLine);

        await HealthEndpoint.WaitForStatusAsync(healthPort, "/healthz", HttpStatusCode.OK, TimeSpan.FromSeconds(60));
        // Both have failed once within a few seconds of starting; until then the state says "connecting"/"migrating".
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        (HttpStatusCode Status, JsonElement Body, string Text) ready;
        do
        {
            await Task.Delay(200);
            ready = await CentralReadiness.GetAsync(healthPort, "/readyz");
        }
        while (!(ready.Text.Contains("waiting for the central broker") && ready.Text.Contains("waiting for PostgreSQL")) && DateTime.UtcNow < deadline);

        output.WriteLine(ready.Text);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.Status);
        Assert.Equal("not ready", ready.Body.GetProperty("status").GetString());
        Assert.Equal("central-ingest", ready.Body.GetProperty("worker").GetString());
        Assert.Matches($@"^waiting for the central broker at amqp://ingest:\*\*\*@127\.0\.0\.1:{brokerPort}/treescout-central \(connection refused\), \d+ s so far$",
            ready.Body.GetProperty("broker").GetString());
        Assert.Matches($@"^waiting for PostgreSQL at 127\.0\.0\.1:{dbPort}/treescout \(Connection refused\), \d+ s so far$",
            ready.Body.GetProperty("seasonStore").GetString());
        Assert.DoesNotContain("s3cret", ready.Text);

        var live = await CentralReadiness.GetAsync(healthPort, "/healthz");
        Assert.Equal(HttpStatusCode.OK, live.Status);
        Assert.Equal("alive", live.Body.GetProperty("status").GetString());
        Assert.StartsWith("waiting for the central broker at ", live.Body.GetProperty("broker").GetString());
        Assert.False(worker.HasExited);
    }
}

/// <summary>The worker against the real broker (own vhost) and PostgreSQL (own schema): ready once both are there.</summary>
[Trait("Category", "Integration")]
public sealed class CentralReadinessConnectedTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Readiness_is_200_once_connected_to_the_central_broker_with_the_consumer_registered_and_the_store_migrated()
    {
        await using var db = await TestSeasonStore.CreateAsync();
        await using var vhost = await TestBroker.CreateVhostAsync("central-ready");
        var healthPort = WorkerProcess.FreePort();
        await using var worker = await WorkerProcess.StartReadyAsync(CentralReadiness.Dll,
            CentralReadiness.Environment(vhost.Uri.ToString(), db.ConnectionString, healthPort), healthPort, TimeSpan.FromSeconds(90), echo: output.WriteLine);

        var ready = await CentralReadiness.GetAsync(healthPort, "/readyz");
        output.WriteLine(ready.Text);
        Assert.Equal(HttpStatusCode.OK, ready.Status);
        Assert.Equal("ready", ready.Body.GetProperty("status").GetString());
        Assert.Equal("ready", ready.Body.GetProperty("broker").GetString());
        Assert.Equal("ready", ready.Body.GetProperty("seasonStore").GetString());
        var consumers = await TestBroker.CtlAsync("list_consumers", "-p", vhost.Name, "--no-table-headers", "queue_name");
        Assert.Equal(["treescout.central.ingest"], consumers.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(0, await worker.TerminateAsync(TimeSpan.FromSeconds(30)));
    }
}
