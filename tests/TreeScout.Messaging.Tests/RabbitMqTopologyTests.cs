using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using TreeScout.Contracts;
using TreeScout.Tests;
using Xunit.Abstractions;
using TreeScout.Messaging.Tests.Infrastructure;

namespace TreeScout.Messaging.Tests;

/// <summary>What a worker declares on a real RabbitMQ, read back with rabbitmqctl, and how it starts without one.</summary>
public sealed class RabbitMqTopologyTests(ITestOutputHelper output) : IDisposable
{
    private readonly CapturingLoggerProvider _logs = new(output);

    [Trait("Category", "Integration")]
    [Fact]
    public async Task Topology_is_declared_once_at_start_as_durable_quorum_queues_with_dead_letter_queues_and_limits()
    {
        await using var bus = await BusTransport.CreateAsync(BusTransport.RabbitMq, _logs.CreateFactory(), new TopologyOptions { DeliveryLimit = 4, FramesMaxLength = 500, FramesMaxLengthBytes = 200_000_000 });
        await bus.StartBusAsync("mapwriter");
        var vhost = bus.Vhost!.Name;

        var queues = Json(await TestBroker.CtlAsync("list_queues", "-p", vhost, "name", "type", "durable", "arguments", "--formatter", "json"))
            .ToDictionary(q => q.GetProperty("name").GetString()!, q => q);
        foreach (var spec in bus.Topology.Queues)
        {
            var queue = queues[spec.Name];
            Assert.Equal("quorum", queue.GetProperty("type").GetString());
            Assert.True(queue.GetProperty("durable").GetBoolean());
            var args = Arguments(queue);
            Assert.Equal("quorum", args["x-queue-type"]);
            Assert.Equal("50", args["x-delivery-limit"]); // the broker's limit (crashes count); 4 handler failures are the bus's
            Assert.Equal(spec.Name + ".dlx", args["x-dead-letter-exchange"]);
            Assert.Equal("at-least-once", args["x-dead-letter-strategy"]);
            Assert.Equal("reject-publish", args["x-overflow"]); // else RabbitMQ falls back to at-most-once dead-lettering
            if (spec.Name == Topology.DetectionFramesQueue)
            {
                Assert.Equal("500", args["x-max-length"]);
                Assert.Equal("200000000", args["x-max-length-bytes"]);
            }
            else
            {
                // Control, detections, fixes and observations are never shed.
                Assert.DoesNotContain("x-max-length", args.Keys);
                Assert.DoesNotContain("x-max-length-bytes", args.Keys);
            }
            var dlq = queues[spec.DeadLetterQueue];
            Assert.Equal("quorum", dlq.GetProperty("type").GetString());
            Assert.DoesNotContain("x-max-length", Arguments(dlq).Keys);
        }
        // And the run ledger: a stream kept for a season.
        Assert.Equal("stream", queues[Topology.RunLedgerStream].GetProperty("type").GetString());
        Assert.Equal("120D", Arguments(queues[Topology.RunLedgerStream])["x-max-age"]);
        Assert.Equal(bus.Topology.Queues.Count * 2 + 1, queues.Count);

        var exchanges = Json(await TestBroker.CtlAsync("list_exchanges", "-p", vhost, "name", "type", "durable", "--formatter", "json"))
            .Where(e => e.GetProperty("name").GetString()!.StartsWith("treescout.", StringComparison.Ordinal))
            .ToDictionary(e => e.GetProperty("name").GetString()!, e => e.GetProperty("type").GetString());
        Assert.All(Topology.Exchanges, name => Assert.Equal("topic", exchanges[name]));
        Assert.All(bus.Topology.Queues, q => Assert.Equal("fanout", exchanges[q.DeadLetterExchange]));

        var bindings = Json(await TestBroker.CtlAsync("list_bindings", "-p", vhost, "source_name", "destination_name", "routing_key", "--formatter", "json"))
            .Where(b => b.GetProperty("source_name").GetString() is { Length: > 0 })
            .Select(b => (b.GetProperty("source_name").GetString(), b.GetProperty("destination_name").GetString(), b.GetProperty("routing_key").GetString()))
            .ToHashSet();
        foreach (var spec in bus.Topology.Queues)
        {
            Assert.All(spec.Bindings, b => Assert.Contains((b.Exchange, spec.Name, b.RoutingKey), bindings));
            Assert.Contains((spec.DeadLetterExchange, spec.DeadLetterQueue, ""), bindings);
        }
    }

    [Trait("Category", "Integration")]
    [Fact]
    public async Task Every_message_type_routes_to_the_queues_that_consume_it()
    {
        await using var bus = await BusTransport.CreateAsync(BusTransport.RabbitMq, _logs.CreateFactory());
        var publisher = await bus.StartBusAsync("cli");
        var started = new RunStarted
        {
            MessageId = MessageIds.For(TestMessages.RunId, "run-started", 0),
            RunId = TestMessages.RunId,
            StartedAtUtc = DateTimeOffset.UnixEpoch,
            Block = "Noord 3",
            Cameras = [],
            Source = "live",
        };
        await publisher.PublishAsync(started);
        await publisher.PublishAsync(TestMessages.Fix(0));
        await publisher.PublishAsync(TestMessages.Frame(0));

        // RunStarted reaches capture, fusion and the map writer; each data message only its stage's queue.
        Assert.Equal(1, await bus.ReadyAsync(Topology.CaptureControlQueue));
        Assert.Equal(1, await bus.ReadyAsync(Topology.FusionDetectionsQueue));
        Assert.Equal(1, await bus.ReadyAsync(Topology.MapWriterObservationsQueue));
        Assert.Equal(1, await bus.ReadyAsync(Topology.FusionGnssQueue));
        Assert.Equal(1, await bus.ReadyAsync(Topology.DetectionFramesQueue));

        var depth = await publisher.GetQueueDepthAsync(Topology.FusionDetectionsQueue, CancellationToken.None);
        Assert.Equal(new QueueDepth(Topology.FusionDetectionsQueue, 1, 0, 0), depth);
    }

    [Trait("Category", "Unit")]
    [Fact]
    public async Task Broker_unreachable_at_start_logs_one_clear_line_retries_with_backoff_and_stays_not_ready()
    {
        // A port that accepts TCP and hangs up at once, like a broker that is not up yet: lets the test count the attempts.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var attempts = new List<DateTime>();
        using var stop = new CancellationTokenSource();
        var accepting = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var client = await listener.AcceptTcpClientAsync(stop.Token);
                lock (attempts)
                {
                    attempts.Add(DateTime.UtcNow);
                }
            }
        });
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var options = new BrokerOptions { Uri = $"amqp://guest:secret@127.0.0.1:{port}/", MaxReconnectDelay = TimeSpan.FromSeconds(4) };
        using var loggers = _logs.CreateFactory();
        await using var bus = new RabbitMqMessageBus(options, new Topology(options.Topology), "fusion", new MessagingMetrics(), loggers.CreateLogger<RabbitMqMessageBus>());
        bus.Subscribe(Topology.FusionGnssQueue, new MessageDispatcher().On(new RecordingHandler<GnssFix>()));

        await bus.StartAsync(CancellationToken.None); // returns at once: the bus keeps trying in the background
        await Wait.UntilAsync(() => { lock (attempts) { return attempts.Count >= 5; } }, TimeSpan.FromSeconds(40), "five connection attempts");
        Assert.False(bus.IsReady);
        // Health shows what the worker waits for, since when, without the password.
        Assert.Matches($@"^waiting for the broker at amqp://guest:\*\*\*@127\.0\.0\.1:{port}/ \(.+\), [0-9]+ s so far$", bus.State);
        Assert.InRange(bus.Outage!.Lasted(DateTimeOffset.UtcNow), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(30));
        Assert.False(bus.Outage.Refused);

        var errors = _logs.Entries.Where(e => e.Level >= LogLevel.Warning).ToList();
        var line = Assert.Single(errors).Message;
        Assert.Contains($"127.0.0.1:{port}", line, StringComparison.Ordinal);
        Assert.Contains("unreachable", line, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", line, StringComparison.Ordinal);

        List<double> gaps;
        lock (attempts)
        {
            gaps = attempts.Zip(attempts.Skip(1), (a, b) => (b - a).TotalSeconds).ToList();
        }
        output.WriteLine($"gaps between attempts: {string.Join(", ", gaps.Select(g => g.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)))} s");
        // Scheduled delays 0.5, 1, 2, 4 s; each gap adds the attempt's own time, which on a loaded machine was 0.5 s and
        // more (the first also JIT-compiles the client). Comparing the 1 s and the 4 s gaps leaves 3 s of margin for it.
        Assert.True(gaps[3] > gaps[1] + 1.5, "the delay between attempts grows");
        await stop.CancelAsync();
        listener.Stop();
        await Assert.ThrowsAnyAsync<Exception>(() => accepting);
    }

    private static List<JsonElement> Json(string text) => [.. JsonDocument.Parse(text).RootElement.EnumerateArray()];

    private static Dictionary<string, string> Arguments(JsonElement queue) =>
        queue.GetProperty("arguments").EnumerateArray().ToDictionary(a => a[0].GetString()!, a => a[2].ToString());

    public void Dispose() => _logs.Dispose();
}
