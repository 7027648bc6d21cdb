using System.Text;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using TreeScout.Contracts;
using TreeScout.MapWriter.Tests;
using TreeScout.Messaging;
using TreeScout.Tests;
using Xunit.Abstractions;

namespace TreeScout.Central.Tests;

/// <summary>
/// The ingest worker end to end: a run's messages published the way the uplink delivers them (central exchange,
/// tractor.&lt;id&gt;.&lt;key&gt;, body and headers as on the tractor) on the real broker, into the real PostGIS.
/// </summary>
[Trait("Category", "Integration")]
public sealed class IngestConsumerTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_run_with_duplicates_and_observations_before_RunStarted_is_stored_once_and_a_malformed_message_is_dead_lettered()
    {
        await using var db = await TestSeasonStore.CreateAsync();
        await using var vhost = await TestBroker.CreateVhostAsync("central");
        var run = new SyntheticRun("20260421-090000-noord-3-b7c8", rows: 4, treesPerRow: 25, clustersPerTree: (20, 60));
        using var logs = LoggerFactory.Create(b => b.AddProvider(new TestOutputLoggerProvider(output)).SetMinimumLevel(LogLevel.Information));
        var consumer = db.Ingest(vhost.Uri, logs);

        var factory = new ConnectionFactory { Uri = vhost.Uri };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        await RabbitMqTopology.Central(new TopologyOptions()).DeclareAsync(channel, CancellationToken.None);

        // The uplink's order within one queue, with at-least-once copies: half the observations overtake RunStarted
        // (another tractor queue drained first), a batch and RunStarted come twice, then two deliveries no store can hold.
        var half = run.Batches.Count / 2;
        var messages = new List<IMessage>();
        messages.AddRange(run.Batches.Take(half));
        messages.Add(run.Started);
        messages.Add(run.Batches[0]);
        messages.AddRange(run.Batches.Skip(half));
        messages.Add(run.Started);
        messages.Add(run.Fused);
        foreach (var message in messages)
        {
            await PublishAsync(channel, "t-07", message);
        }
        var invalid = MessageCodec.Encode(run.Batches[1] with { MessageId = Guid.NewGuid(), Observations = [run.Batches[1].Observations[0] with { PositionSigmaM = -1 }] });
        await channel.BasicPublishAsync(CentralTopology.Exchange, CentralTopology.RoutingKey("t-07", "observations"), true, RabbitMqMessageBus.ToProperties(invalid), invalid.Body);
        var unreadable = Encoding.UTF8.GetBytes("{not json");
        await channel.BasicPublishAsync(CentralTopology.Exchange, CentralTopology.RoutingKey("t-07", "observations"), true,
            new BasicProperties { Type = "tree-observations", ContentType = "application/json", MessageId = Guid.NewGuid().ToString(), Headers = new Dictionary<string, object?> { ["ts-schema"] = "1" } },
            unreadable);

        var started = DateTimeOffset.UtcNow;
        await consumer.StartAsync(CancellationToken.None);
        try
        {
            var expected = messages.Count;
            while (consumer.Settled < expected + 2)
            {
                Assert.True(DateTimeOffset.UtcNow - started < TimeSpan.FromSeconds(90), $"ingest stalled: {consumer.Stored} stored, {consumer.Duplicates} copies, {consumer.DeadLettered} dead-lettered of {expected + 2}");
                await Task.Delay(100);
            }
            var elapsed = DateTimeOffset.UtcNow - started;
            output.WriteLine($"{run.Observations.Count} observations in {messages.Count} messages ingested in {elapsed.TotalSeconds:0.0} s ({run.Observations.Count / elapsed.TotalSeconds:0} observations/s)");
        }
        finally
        {
            await consumer.StopAsync(CancellationToken.None);
        }

        // The second batch 0 and RunStarted: copies of deliveries the bus had acknowledged, dropped by message id.
        Assert.Equal((messages.Count - 2, 2L), (consumer.Stored, consumer.Duplicates));
        Assert.Equal(2, consumer.DeadLettered);
        Assert.Equal(run.Observations.Count, await db.Store.CountObservationsAsync(run.RunId, CancellationToken.None));
        TractorReference.AssertSameTrees(TractorReference.Trees(run), await db.Store.ReadTreesAsync(run.RunId, CancellationToken.None));
        Assert.Equal("t-07", await db.ScalarAsync<string>($"SELECT tractor_id FROM runs WHERE run_id = '{run.RunId}'"));

        var reasons = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            var dead = await channel.BasicGetAsync(consumer.Queue.DeadLetterQueue, autoAck: true);
            Assert.NotNull(dead);
            Assert.Equal("tractor.t-07.observations", Encoding.UTF8.GetString((byte[])dead.BasicProperties.Headers![WireHeaders.RoutingKey]!));
            Assert.Equal("malformed", Encoding.UTF8.GetString((byte[])dead.BasicProperties.Headers![WireHeaders.ErrorType]!));
            reasons.Add(Encoding.UTF8.GetString((byte[])dead.BasicProperties.Headers![WireHeaders.Error]!));
        }
        Assert.Contains(reasons, r => r == $"tree-observations {invalid.MessageId} of run {run.RunId}: observation {run.Batches[1].Observations[0].ObservationId}: positionSigmaM -1 is not a non-negative number");
        Assert.Contains(reasons, r => r.StartsWith("tree-observations: body is not valid JSON", StringComparison.Ordinal));
        Assert.Equal(0u, await channel.MessageCountAsync(CentralTopology.IngestQueue));
    }

    private static async Task PublishAsync(IChannel channel, string tractor, IMessage message)
    {
        var envelope = MessageCodec.Encode(message);
        var route = Topology.RouteOf(message.GetType());
        await channel.BasicPublishAsync(CentralTopology.Exchange, CentralTopology.RoutingKey(tractor, route.RoutingKey), true, RabbitMqMessageBus.ToProperties(envelope), envelope.Body);
    }
}
