using System.Text;
using RabbitMQ.Client;
using TreeScout.Contracts;
using TreeScout.MapWriter.Tests;
using TreeScout.Messaging;
using TreeScout.Tests;
using Xunit.Abstractions;

namespace TreeScout.Central.Tests;

/// <summary>
/// The ingest worker as a process (its own vhost and schema) takes a few uplinked messages; its /metrics, on the health
/// port the scrape annotation names (deploy/central/ingest/ingest.yaml), counts them.
/// </summary>
[Trait("Category", "Integration")]
public sealed class CentralMetricsTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Metrics_count_stored_copied_and_dead_lettered_deliveries_observations_lag_and_the_queue()
    {
        await using var db = await TestSeasonStore.CreateAsync();
        await using var vhost = await TestBroker.CreateVhostAsync("central-metrics");
        var healthPort = WorkerProcess.FreePort();
        await using var worker = await WorkerProcess.StartReadyAsync(CentralReadiness.Dll,
            CentralReadiness.Environment(vhost.Uri.ToString(), db.ConnectionString, healthPort), healthPort, TimeSpan.FromSeconds(90), echo: output.WriteLine);

        var run = new SyntheticRun("20260421-090000-metrics-0001", rows: 1, treesPerRow: 4, clustersPerTree: (5, 10));
        // RunStarted, every batch, one batch again (an uplink copy), then a body no store can read.
        IMessage[] messages = [run.Started, .. run.Batches, run.Batches[0]];
        await using (var connection = await new ConnectionFactory { Uri = vhost.Uri }.CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true)))
        {
            var key = CentralTopology.RoutingKey("t-09", CentralTopology.UplinkKey);
            foreach (var message in messages)
            {
                var envelope = MessageCodec.Encode(message);
                await channel.BasicPublishAsync(CentralTopology.Exchange, key, true, RabbitMqMessageBus.ToProperties(envelope), envelope.Body);
            }
            await channel.BasicPublishAsync(CentralTopology.Exchange, key, true,
                new BasicProperties { Type = "tree-observations", MessageId = Guid.NewGuid().ToString(), Headers = new Dictionary<string, object?> { ["ts-schema"] = "1" } },
                Encoding.UTF8.GetBytes("{not json"));
        }

        const string Queue = $"queue=\"{CentralTopology.IngestQueue}\"";
        var stored = messages.Length - 1;
        string metrics;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        // The queue's depth is polled every 10 s: wait until a poll has seen it drained and the dead letter there.
        while (!Done(metrics = await HealthEndpoint.Http.GetStringAsync(HealthEndpoint.Url(healthPort, "/metrics"))) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(500);
        }
        output.WriteLine(string.Join('\n', metrics.Split('\n').Where(l => l.StartsWith("treescout_", StringComparison.Ordinal))));

        Assert.Equal(stored, HealthEndpoint.MetricValue(metrics, "treescout_messaging_messages_consumed", Queue));
        Assert.Equal(1, HealthEndpoint.MetricValue(metrics, "treescout_messaging_messages_duplicate", Queue));
        Assert.Equal(1, HealthEndpoint.MetricValue(metrics, "treescout_messaging_messages_dead_lettered", Queue, "reason=\"malformed\""));
        Assert.Equal(run.Observations.Count, HealthEndpoint.MetricValue(metrics, "treescout_central_observations_stored"));
        Assert.Equal(0, HealthEndpoint.MetricValue(metrics, "treescout_central_observations_duplicate"));
        Assert.Equal(0, HealthEndpoint.MetricValue(metrics, "treescout_central_database_unavailable_retries"));
        // Every stored message carried its publish time; on one machine the lag is seconds at most.
        Assert.Equal(stored, HealthEndpoint.MetricValue(metrics, "treescout_central_ingest_lag_seconds_count"));
        Assert.InRange(HealthEndpoint.MetricValue(metrics, "treescout_central_ingest_lag_seconds_sum"), 0.001, 60.0 * stored);
        Assert.Equal(0, HealthEndpoint.MetricValue(metrics, "treescout_central_queue_ready", Queue));
        Assert.Equal(1, HealthEndpoint.MetricValue(metrics, "treescout_central_queue_dead_lettered", Queue));
        Assert.Equal(run.Observations.Count, await db.Store.CountObservationsAsync(run.RunId, CancellationToken.None));

        bool Done(string m) =>
            m.Contains("treescout_central_queue_dead_lettered{", StringComparison.Ordinal)
            && HealthEndpoint.MetricValue(m, "treescout_central_queue_dead_lettered", Queue) == 1
            && HealthEndpoint.MetricValue(m, "treescout_central_queue_ready", Queue) == 0
            && m.Contains("treescout_messaging_messages_consumed{", StringComparison.Ordinal)
            && HealthEndpoint.MetricValue(m, "treescout_messaging_messages_consumed", Queue) == stored;
    }
}
