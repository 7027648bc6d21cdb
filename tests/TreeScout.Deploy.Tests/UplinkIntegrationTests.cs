using System.Diagnostics;
using System.Text;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using TreeScout.Deploy.Tests.Support;
using TreeScout.Tests.Uplink;
using TreeScout.Messaging;
using Xunit.Abstractions;

namespace TreeScout.Deploy.Tests;

/// <summary>
/// The store-and-forward uplink on real brokers (docs/adr/0057): a tractor broker (a virtual host of the node on 5672)
/// with the definitions `treescout deploy rabbitmq-definitions --uplink` renders, and the central site's broker (the
/// node `.ci/rabbitmq start-central` runs on 5673) with `treescout deploy central-definitions`'. Needs both nodes and
/// rabbitmq_shovel on the first (.ci/run).
/// </summary>
[Trait("Category", "Integration")]
public sealed class UplinkIntegrationTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Batches = 300;

    private readonly string _tractorId = $"t{Guid.NewGuid():N}"[..9];
    private CentralSite _central = null!;
    private TractorSite _tractor = null!;

    public async Task InitializeAsync()
    {
        _central = await CentralSite.CreateAsync(BrokerNode.Central, _tractorId);
        _tractor = await TractorSite.CreateAsync(_central);
    }

    public async Task DisposeAsync()
    {
        await _tractor.DisposeAsync();
        await _central.DisposeAsync();
    }

    [Fact]
    public async Task A_run_published_on_the_tractor_arrives_at_the_central_ingest_queue_once_and_in_order()
    {
        var run = UplinkRun.Messages($"run-{_tractorId}", Batches);
        var clock = Stopwatch.StartNew();
        await using (var bus = _tractor.Bus())
        {
            await bus.StartAsync(CancellationToken.None);
            foreach (var message in run)
            {
                await bus.PublishAsync(message);
            }
            await bus.StopAsync(CancellationToken.None);
        }
        var published = clock.Elapsed;

        var arrived = await WaitForAsync(_central, run.Count, TimeSpan.FromSeconds(60));
        output.WriteLine($"{run.Count} messages published in {published.TotalSeconds:0.0} s, all at the central ingest queue after {clock.Elapsed.TotalSeconds:0.0} s; tractor backlog {await _tractor.BacklogAsync()}");

        Assert.Equal(run.Select(m => m.MessageId), arrived.Select(m => m.Envelope.MessageId));
        // Unchanged on the way: the central ingest decodes exactly what the tractor's workers encoded.
        Assert.All(run.Zip(arrived), pair =>
        {
            var sent = MessageCodec.Encode(pair.First);
            Assert.Equal((sent.Type, sent.ContentType), (pair.Second.Envelope.Type, pair.Second.Envelope.ContentType));
            Assert.Equal(sent.Body.ToArray(), pair.Second.Envelope.Body.ToArray());
            // The client and the tractor's queue add their own x- headers (publish sequence number, x-delivery-count).
            Assert.Equal(sent.Headers.OrderBy(h => h.Key), pair.Second.Envelope.Headers.Where(h => !h.Key.StartsWith("x-", StringComparison.Ordinal)).OrderBy(h => h.Key));
            Assert.Equal(pair.First.GetType(), pair.Second.Decode().GetType());
        });
        Assert.All(arrived, m => Assert.Equal((CentralTopology.RoutingKey(_tractorId, CentralTopology.UplinkKey), CentralTopology.TractorUser(_tractorId)), (m.RoutingKey, m.UserId)));
        Assert.Equal(0, await _tractor.SettledBacklogAsync());
        Assert.Equal("running", await _tractor.ShovelStateAsync());
        // The import loads parameters before queues: the shovel must not have declared its source queue first (classic).
        var queues = await TractorSite.Node.Ctl(["list_queues", "-p", _tractor.Vhost, "--no-table-headers", "name", "type", "arguments"]);
        output.WriteLine(queues);
        Assert.Contains($"{Topology.UplinkQueue}\tquorum", queues, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_tractor_may_publish_its_own_keys_on_the_central_broker_and_is_refused_another_tractors()
    {
        await using var connection = await new ConnectionFactory { Uri = _central.TractorUri, AutomaticRecoveryEnabled = false }.CreateConnectionAsync();

        var own = await PublishAsync(connection, CentralTopology.RoutingKey(_tractorId, CentralTopology.UplinkKey));
        var other = await PublishAsync(connection, CentralTopology.RoutingKey("t-neighbour", CentralTopology.UplinkKey));
        var bare = await PublishAsync(connection, CentralTopology.UplinkKey);

        Assert.Equal((null, 403, 403), (own, other, bare));
        Assert.Equal([CentralTopology.RoutingKey(_tractorId, CentralTopology.UplinkKey)], (await _central.DrainIngestAsync()).Select(m => m.RoutingKey));
    }

    /// <summary>Publishes one message on a confirming channel; null when confirmed, else the broker's reply code.</summary>
    private static async Task<int?> PublishAsync(IConnection connection, string routingKey)
    {
        var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        try
        {
            await channel.BasicPublishAsync(CentralTopology.Exchange, routingKey, mandatory: false, new BasicProperties(), Encoding.UTF8.GetBytes("probe"));
            return null;
        }
        catch (OperationInterruptedException ex)
        {
            return ex.ShutdownReason?.ReplyCode;
        }
        finally
        {
            await CentralSite.TryAsync(channel.DisposeAsync().AsTask());
        }
    }

    /// <summary>Drains the central ingest queue until <paramref name="count"/> messages came (or the time is up).</summary>
    internal static async Task<List<ForwardedMessage>> WaitForAsync(CentralSite central, int count, TimeSpan timeout)
    {
        var arrived = new List<ForwardedMessage>();
        var deadline = DateTime.UtcNow + timeout;
        while (arrived.Count < count && DateTime.UtcNow < deadline)
        {
            arrived.AddRange(await central.DrainIngestAsync());
            await Task.Delay(200);
        }
        return arrived;
    }
}
