using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging;
using TreeScout.Contracts;
using Xunit.Abstractions;
using TreeScout.Messaging.Tests.Infrastructure;

namespace TreeScout.Messaging.Tests;

/// <summary>The delivery rules of docs/architecture.md on the embedded in-memory bus.</summary>
[Trait("Category", "Unit")]
public sealed class InMemoryDeliverySemanticsTests(ITestOutputHelper output) : DeliverySemanticsTests(BusTransport.Memory, output);

/// <summary>The same rules on the real RabbitMQ (a virtual host per test).</summary>
[Trait("Category", "Integration")]
public sealed class RabbitMqDeliverySemanticsTests(ITestOutputHelper output) : DeliverySemanticsTests(BusTransport.RabbitMq, output);

/// <summary>
/// Delivery rules of docs/architecture.md, each test run against the embedded in-memory bus and the real RabbitMQ:
/// both must behave the same, since `treescout scan` relies on the former. (Two classes so the two run in parallel.)
/// </summary>
public abstract class DeliverySemanticsTests(string transport, ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly CapturingLoggerProvider _logs = new(output);

    [Fact]
    public async Task Published_messages_are_stored_once_confirmed_and_consumed_in_order()
    {
        await using var bus = await BusTransport.CreateAsync(transport, _logs.CreateFactory());
        var publisher = await bus.StartBusAsync("capture");
        var fixes = Enumerable.Range(0, 5).Select(i => TestMessages.Fix(i)).ToList();
        foreach (var fix in fixes)
        {
            await publisher.PublishAsync(fix);
        }
        // Confirmed means stored: all five are in the queue before any consumer exists.
        Assert.Equal(5, await bus.ReadyAsync(Topology.FusionGnssQueue));

        var handler = new RecordingHandler<GnssFix>();
        await bus.StartBusAsync("fusion", b => b.Subscribe(Topology.FusionGnssQueue, new MessageDispatcher().On(handler)));
        await Wait.UntilAsync(() => handler.Count == 5, Patience, "five fixes consumed");

        Assert.Equal(fixes, handler.Calls.Select(c => c.Message));
        Assert.All(handler.Calls, c => Assert.Equal(1, c.DeliveryCount));
        await Wait.UntilAsync(async () => await bus.ReadyAsync(Topology.FusionGnssQueue) == 0, Patience, "queue drained");
    }

    [Fact]
    public async Task A_handler_that_always_throws_dead_letters_after_the_delivery_limit_and_later_messages_keep_flowing()
    {
        await using var bus = await BusTransport.CreateAsync(transport, _logs.CreateFactory(), new TopologyOptions { DeliveryLimit = 3 });
        var handler = new RecordingHandler<GnssFix>(
            (fix, _) => fix.Sequence == 1 ? throw new InvalidOperationException($"NMEA time jumped backwards at fix {fix.Sequence}") : Task.CompletedTask);
        var publisher = await bus.StartBusAsync("capture");
        await bus.StartBusAsync("fusion", b => b.Subscribe(Topology.FusionGnssQueue, new MessageDispatcher().On(handler)));

        for (var i = 0; i < 4; i++)
        {
            await publisher.PublishAsync(TestMessages.Fix(i));
        }

        await Wait.UntilAsync(async () => (await bus.DeadLettersAsync(Topology.FusionGnssQueue)).Count == 1, Patience, "the failing fix is dead-lettered");
        await Wait.UntilAsync(() => handler.Calls.Count(c => c.Message.Sequence != 1) == 3, Patience, "the other fixes are handled");

        var attempts = handler.Calls.Where(c => c.Message.Sequence == 1).Select(c => c.DeliveryCount).ToList();
        Assert.Equal([1, 2, 3], attempts);
        var dead = Assert.Single(await bus.DeadLettersAsync(Topology.FusionGnssQueue));
        Assert.Equal(TestMessages.Fix(1).MessageId, dead.MessageId);
        Assert.Equal("InvalidOperationException: NMEA time jumped backwards at fix 1", dead.Header(WireHeaders.Error));
        Assert.Equal("System.InvalidOperationException", dead.Header(WireHeaders.ErrorType));
        Assert.Equal("3", dead.Header(WireHeaders.DeliveryCount));
        Assert.Equal(Topology.FusionGnssQueue, dead.Header(WireHeaders.FailedQueue));
        Assert.Equal("fusion", dead.Header(WireHeaders.FailedWorker));
        // The dead letter is still a decodable message: it can be replayed once the cause is fixed.
        Assert.Equal(TestMessages.Fix(1), MessageCodec.Decode(dead));
        Assert.Equal([0, 2, 3], handler.Calls.Where(c => c.Message.Sequence != 1).Select(c => c.Message.Sequence).Order());
    }

    [Fact]
    public async Task Handlers_see_each_deliverys_routing_key_and_publish_time_and_a_dead_letter_keeps_the_key()
    {
        await using var bus = await BusTransport.CreateAsync(transport, _logs.CreateFactory(), new TopologyOptions { DeliveryLimit = 1 });
        var seen = new ConcurrentQueue<(long Sequence, string RoutingKey, DateTimeOffset? PublishedAt)>();
        var handler = new RecordingHandler<GnssFix>((fix, context) =>
        {
            seen.Enqueue((fix.Sequence, context.RoutingKey, context.PublishedAt));
            return fix.Sequence == 1 ? throw new InvalidOperationException($"no position in fix {fix.Sequence}") : Task.CompletedTask;
        });
        var publisher = await bus.StartBusAsync("capture");
        await bus.StartBusAsync("fusion", b => b.Subscribe(Topology.FusionGnssQueue, new MessageDispatcher().On(handler)));
        // The AMQP timestamp has whole seconds.
        var before = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        await publisher.PublishAsync(TestMessages.Fix(0));
        await publisher.PublishAsync(TestMessages.Fix(1));

        await Wait.UntilAsync(async () => (await bus.DeadLettersAsync(Topology.FusionGnssQueue)).Count == 1, Patience, "the failing fix is dead-lettered");
        await Wait.UntilAsync(() => seen.Count == 2, Patience, "both fixes handled once");
        var key = Topology.RouteOf(typeof(GnssFix)).RoutingKey;
        Assert.Equal([(0L, key), (1L, key)], seen.Select(s => (s.Sequence, s.RoutingKey)).Order());
        Assert.All(seen, s => Assert.InRange(s.PublishedAt!.Value, before, DateTimeOffset.UtcNow));
        Assert.Equal(key, Assert.Single(await bus.DeadLettersAsync(Topology.FusionGnssQueue)).Header(WireHeaders.RoutingKey));
    }

    [Fact]
    public async Task Malformed_bodies_and_unknown_schema_versions_are_dead_lettered_at_once_with_a_reason_logged_once()
    {
        await using var bus = await BusTransport.CreateAsync(transport, _logs.CreateFactory());
        var handler = new RecordingHandler<GnssFix>();
        await bus.StartBusAsync("fusion", b => b.Subscribe(Topology.FusionGnssQueue, new MessageDispatcher().On(handler)));

        var notJson = Raw("gnss-fix", "1", "{\"sequence\": 3, ");
        var newerSchema = MessageCodec.Encode(TestMessages.Fix(7)) with { MessageId = Guid.NewGuid() };
        newerSchema = newerSchema with { Headers = new Dictionary<string, string>(newerSchema.Headers) { [WireHeaders.SchemaVersion] = "2" } };
        var unknownType = Raw("gnss-almanac", "1", "{}");
        foreach (var envelope in new[] { notJson, newerSchema, unknownType })
        {
            await bus.PublishRawAsync(Topology.GnssExchange, "fix", envelope);
        }
        await bus.PublishRawAsync(Topology.GnssExchange, "fix", MessageCodec.Encode(TestMessages.Fix(8)));

        await Wait.UntilAsync(() => handler.Count == 1, Patience, "the valid fix after the broken ones is handled");
        await Wait.UntilAsync(async () => (await bus.DeadLettersAsync(Topology.FusionGnssQueue)).Count == 3, Patience, "three dead letters");

        Assert.Equal(8, handler.Calls.Single().Message.Sequence);
        var dead = (await bus.DeadLettersAsync(Topology.FusionGnssQueue)).ToDictionary(d => d.MessageId);
        Assert.StartsWith("gnss-fix: body is not valid JSON", dead[notJson.MessageId].Header(WireHeaders.Error), StringComparison.Ordinal);
        Assert.Equal("gnss-fix: unsupported schema version 2 (this worker understands 1)", dead[newerSchema.MessageId].Header(WireHeaders.Error));
        Assert.Equal("unknown message type 'gnss-almanac'", dead[unknownType.MessageId].Header(WireHeaders.Error));
        Assert.All(dead.Values, d => Assert.Equal("malformed", d.Header(WireHeaders.ErrorType)));
        Assert.All(dead.Values, d => Assert.Equal("1", d.Header(WireHeaders.DeliveryCount)));
        foreach (var id in dead.Keys)
        {
            Assert.Single(_logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains(id.ToString(), StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task A_redelivered_message_that_was_already_handled_is_acknowledged_without_running_the_handler()
    {
        await using var bus = await BusTransport.CreateAsync(transport, _logs.CreateFactory());
        var handler = new RecordingHandler<GnssFix>();
        var publisher = await bus.StartBusAsync("capture");
        await bus.StartBusAsync("fusion", b => b.Subscribe(Topology.FusionGnssQueue, new MessageDispatcher().On(handler)));

        // A publisher that lost its confirm publishes the same fact again with the same id.
        await publisher.PublishAsync(TestMessages.Fix(1));
        await publisher.PublishAsync(TestMessages.Fix(1));
        await publisher.PublishAsync(TestMessages.Fix(2));

        await Wait.UntilAsync(() => handler.Calls.Any(c => c.Message.Sequence == 2), Patience, "fix 2 handled");
        await Wait.UntilAsync(async () => await bus.ReadyAsync(Topology.FusionGnssQueue) == 0, Patience, "queue drained");
        Assert.Equal([1L, 2L], handler.Calls.Select(c => c.Message.Sequence));
    }

    [Fact]
    public async Task Deferred_acknowledgements_hold_the_prefetch_window_until_acknowledged()
    {
        await using var bus = await BusTransport.CreateAsync(transport, _logs.CreateFactory());
        var held = new ConcurrentQueue<IDeferredAcknowledgement>();
        var handler = new RecordingHandler<GnssFix>((_, context) =>
        {
            held.Enqueue(context.DeferAcknowledgement());
            return Task.CompletedTask;
        });
        var publisher = await bus.StartBusAsync("capture");
        var options = new BrokerOptions { Prefetch = 16, PrefetchByQueue = { [Topology.FusionGnssQueue] = 3 } };
        await bus.StartBusAsync("fusion", b => b.Subscribe(Topology.FusionGnssQueue, new MessageDispatcher().On(handler)), options);

        for (var i = 0; i < 8; i++)
        {
            await publisher.PublishAsync(TestMessages.Fix(i));
        }

        await Wait.UntilAsync(() => handler.Count == 3, Patience, "the prefetch window (3) is handed out");
        await Task.Delay(500);
        Assert.Equal(3, handler.Count);
        Assert.Equal(5, await bus.ReadyAsync(Topology.FusionGnssQueue));

        // Acknowledging two frees two slots: exactly two more arrive.
        for (var i = 0; i < 2; i++)
        {
            Assert.True(held.TryDequeue(out var ack));
            ack.Acknowledge();
            ack.Acknowledge(); // idempotent
        }
        await Wait.UntilAsync(() => handler.Count == 5, Patience, "two more fixes after two acks");
        await Task.Delay(300);
        Assert.Equal(5, handler.Count);

        while (handler.Count < 8 || !held.IsEmpty)
        {
            if (held.TryDequeue(out var ack))
            {
                ack.Acknowledge();
            }
            else
            {
                await Task.Delay(20);
            }
        }
        await Wait.UntilAsync(async () => await bus.ReadyAsync(Topology.FusionGnssQueue) == 0, Patience, "queue drained");
        Assert.Equal(Enumerable.Range(0, 8).Select(i => (long)i), handler.Calls.Select(c => c.Message.Sequence));
        Assert.All(handler.Calls, c => Assert.Equal(1, c.DeliveryCount));
    }

    [Fact]
    public async Task A_full_frames_queue_refuses_new_frames_while_observations_are_never_refused()
    {
        await using var bus = await BusTransport.CreateAsync(transport, _logs.CreateFactory(), new TopologyOptions { DeliveryLimit = 3, FramesMaxLength = 10 });
        var capture = await bus.StartBusAsync("capture");

        var accepted = 0;
        var refused = 0;
        for (var i = 0; i < 15; i++)
        {
            try
            {
                await capture.PublishAsync(TestMessages.Frame(i));
                accepted++;
            }
            catch (PublishRejectedException)
            {
                refused++;
            }
        }
        // Quorum queues refuse once the queue is over its limit: it holds MaxLength + 1.
        Assert.Equal(11, accepted);
        Assert.Equal(4, refused);
        Assert.Equal(11, await bus.ReadyAsync(Topology.DetectionFramesQueue));

        // Observations have no length limit: with nobody consuming, all are kept.
        for (var i = 0; i < 40; i++)
        {
            await capture.PublishAsync(TestMessages.Observations(i));
        }
        Assert.Equal(40, await bus.ReadyAsync(Topology.MapWriterObservationsQueue));

        // Once detection catches up, frames are accepted again.
        var detection = new RecordingHandler<FrameCaptured>();
        await bus.StartBusAsync("detection", b => b.Subscribe(Topology.DetectionFramesQueue, new MessageDispatcher().On(detection)));
        await Wait.UntilAsync(() => detection.Count == 11, Patience, "the stored frames are consumed");
        await capture.PublishAsync(TestMessages.Frame(100));
        await Wait.UntilAsync(() => detection.Count == 12, Patience, "a new frame is accepted and consumed");
        Assert.Equal(Enumerable.Range(0, 11).Select(i => (long)i).Append(100), detection.Calls.Select(c => c.Message.Sequence));
    }

    [Fact]
    public async Task Stopping_finishes_the_message_in_flight_and_acknowledges_it_without_counting_a_redelivery()
    {
        await using var bus = await BusTransport.CreateAsync(transport, _logs.CreateFactory());
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var completed = new ConcurrentQueue<long>();
        var slow = new RecordingHandler<GnssFix>(async (fix, _) =>
        {
            started.TrySetResult();
            await Task.Delay(TimeSpan.FromMilliseconds(800), CancellationToken.None);
            completed.Enqueue(fix.Sequence);
        });
        var publisher = await bus.StartBusAsync("capture");
        for (var i = 0; i < 4; i++)
        {
            await publisher.PublishAsync(TestMessages.Fix(i));
        }
        var first = await bus.StartBusAsync("fusion-1", b => b.Subscribe(Topology.FusionGnssQueue, new MessageDispatcher().On(slow)));
        await started.Task.WaitAsync(Patience);

        using (var grace = new CancellationTokenSource(TimeSpan.FromSeconds(20)))
        {
            await first.StopAsync(grace.Token);
        }
        Assert.Contains(0L, completed);
        Assert.Equal(slow.Count, completed.Count); // nothing was cut off mid-handler

        // A successor handles the rest; none of the four is handled twice and none counts as a failed delivery.
        var next = new RecordingHandler<GnssFix>();
        await bus.StartBusAsync("fusion-2", b => b.Subscribe(Topology.FusionGnssQueue, new MessageDispatcher().On(next)));
        await Wait.UntilAsync(() => slow.Count + next.Count == 4, Patience, "all four fixes handled");
        await Task.Delay(300);
        Assert.Equal([0L, 1L, 2L, 3L], slow.Calls.Concat(next.Calls).Select(c => c.Message.Sequence).Order());
        Assert.All(slow.Calls.Concat(next.Calls), c => Assert.Equal(1, c.DeliveryCount));
    }

    private static MessageEnvelope Raw(string type, string schema, string body) => new(
        Guid.NewGuid(), type, MessageCodec.JsonContentType,
        new Dictionary<string, string> { [WireHeaders.SchemaVersion] = schema, [WireHeaders.RunId] = TestMessages.RunId },
        Encoding.UTF8.GetBytes(body));

    public void Dispose()
    {
        _logs.Dispose();
        GC.SuppressFinalize(this);
    }
}
