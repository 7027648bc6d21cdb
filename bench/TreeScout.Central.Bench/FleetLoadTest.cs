using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using TreeScout.Central.Tests;
using TreeScout.Contracts;
using TreeScout.Messaging;
using TreeScout.Tests;

namespace TreeScout.Central.Bench;

public sealed record FleetLoadOptions(int Tractors, int Runs, int Trees, int Seconds, int DuplicateEvery, int Replicas, Uri? Broker);

/// <summary>
/// The load test: every simulated tractor publishes its <see cref="FleetUpload"/> on its own connection with publisher
/// confirms, as fast as the central broker confirms (a fleet coming back to yard Wi-Fi), onto the central exchange
/// under tractor.&lt;id&gt;.uplink, while the real <see cref="IngestConsumer"/> (one or more replicas competing on the
/// queue, as ingest pods would) stores them in a PostGIS schema of its own. Prints a line per second and a summary; stops at the deadline whatever is left.
/// </summary>
public static class FleetLoadTest
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);

    public static async Task<int> RunAsync(FleetLoadOptions o)
    {
        var generated = Stopwatch.StartNew();
        var fleet = Enumerable.Range(1, o.Tractors).AsParallel().AsOrdered()
            .Select(i => FleetUpload.Tractor(FleetUpload.TractorId(i), o.Runs, o.Trees, o.DuplicateEvery, seed: i * 1000)
                .Select(m => (m, Envelope: MessageCodec.Encode(m.Message))).ToList())
            .ToList();
        var all = fleet.SelectMany(t => t).ToList();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"fleet: {o.Tractors} tractors x {o.Runs} runs x {o.Trees} trees: {all.Count} messages ({all.Count(x => x.m.Copy)} copies), {all.Sum(x => (long)x.m.Observations)} observations in them, generated in {generated.Elapsed.TotalSeconds:0.0} s"));
        foreach (var type in all.GroupBy(x => x.Envelope.Type))
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {type.Key,-18} {type.Count(),7} messages, body {type.Average(x => x.Envelope.Body.Length),9:0} B mean{(type.Key == "tree-observations" ? $", {type.Average(x => x.Envelope.Body.Length / (double)x.m.Observations):0} B per observation" : "")}"));
        }

        await using var db = await TestSeasonStore.CreateAsync();
        await using var vhost = o.Broker is null ? await TestBroker.CreateVhostAsync("central-bench") : null;
        var broker = o.Broker ?? vhost!.Uri;
        using var logs = LoggerFactory.Create(b => b.AddSimpleConsole(c => c.SingleLine = true).SetMinimumLevel(LogLevel.Warning));
        var replicas = Enumerable.Range(0, o.Replicas).Select(_ => db.Ingest(broker, logs)).ToList();
        // Copies included, whether the bus recognised them by id or the store found them already there.
        long Stored() => replicas.Sum(r => r.Stored + r.Duplicates);
        long DeadLettered() => replicas.Sum(r => r.DeadLettered);
        var factory = new ConnectionFactory { Uri = broker };
        await using var admin = await factory.CreateConnectionAsync();
        await using var channel = await admin.CreateChannelAsync();
        await RabbitMqTopology.Central(new TopologyOptions()).DeclareAsync(channel, CancellationToken.None);
        var backlogBefore = await channel.MessageCountAsync(CentralTopology.IngestQueue);
        if (backlogBefore > 0)
        {
            Console.Error.WriteLine($"central-bench: {CentralTopology.IngestQueue} on {BrokerOptions.Redact(broker.ToString())} already holds {backlogBefore} messages; use a vhost of its own");
            return 1;
        }

        var lag = new IngestLag(all.Count);
        var clock = Stopwatch.StartNew();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(o.Seconds));
        foreach (var replica in replicas)
        {
            await replica.StartAsync(CancellationToken.None);
        }
        var publishers = fleet.Select(t => Task.Run(() => PublishAsync(factory, t, lag, clock, deadline.Token))).ToList();
        var lastLine = TimeSpan.Zero;
        var lastCommitted = 0;
        var lastObservations = 0L;
        Console.WriteLine("    t  published  stored  msg/s  obs/s  ready  oldest-waiting");
        while (!deadline.IsCancellationRequested && lag.Committed < all.Count)
        {
            await Task.Delay(Poll);
            var now = clock.Elapsed;
            lag.CommittedBy(now, (int)(Stored() + DeadLettered()));
            if (now - lastLine >= TimeSpan.FromSeconds(1))
            {
                var seconds = (now - lastLine).TotalSeconds;
                var ready = await channel.MessageCountAsync(CentralTopology.IngestQueue);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{now.TotalSeconds,5:0} {lag.Published,10} {lag.Committed,7} {(lag.Committed - lastCommitted) / seconds,6:0} {(lag.ObservationsCommitted - lastObservations) / seconds,6:0} {ready,6} {lag.OldestWaiting(now).TotalSeconds,9:0.0} s"));
                (lastLine, lastCommitted, lastObservations) = (now, lag.Committed, lag.ObservationsCommitted);
            }
        }
        var elapsed = clock.Elapsed;
        await deadline.CancelAsync();
        await Task.WhenAll(publishers);
        foreach (var replica in replicas)
        {
            await replica.StopAsync(CancellationToken.None);
        }

        var partition = SeasonSchema.PartitionOf(2026);
        // The partition exists once the season's first observation arrived (not so when the deadline came first).
        var stored = await db.ScalarAsync<long>("SELECT count(*) FROM observations WHERE season = 2026");
        var partitionBytes = await db.ScalarAsync<long>($"SELECT coalesce(pg_total_relation_size(to_regclass('{partition}')), 0)");
        var heapBytes = await db.ScalarAsync<long>($"SELECT coalesce(pg_relation_size(to_regclass('{partition}')), 0)");
        var trees = await db.ScalarAsync<long>("SELECT count(*) FROM trees");
        var treeBytes = await db.ScalarAsync<long>("SELECT pg_total_relation_size('trees')");
        var expected = fleet.SelectMany(t => t).Where(x => !x.m.Copy).Sum(x => (long)x.m.Observations);
        var result = new Dictionary<string, object>
        {
            ["tractors"] = o.Tractors,
            ["runs"] = o.Runs,
            ["trees"] = o.Trees,
            ["replicas"] = o.Replicas,
            ["complete"] = lag.Committed == all.Count,
            ["seconds"] = Math.Round(elapsed.TotalSeconds, 1),
            ["messages"] = all.Count,
            ["messagesPublished"] = lag.Published,
            ["messagesStored"] = Stored(),
            ["messagesDeadLettered"] = DeadLettered(),
            ["messagesPerSecond"] = Math.Round(lag.Committed / elapsed.TotalSeconds, 1),
            ["observationsSent"] = expected,
            ["observationsStored"] = stored,
            ["observationsPerSecond"] = Math.Round(lag.ObservationsCommitted / elapsed.TotalSeconds, 0),
            ["latencyP50Seconds"] = Math.Round(lag.Latency(50).TotalSeconds, 2),
            ["latencyP99Seconds"] = Math.Round(lag.Latency(99).TotalSeconds, 2),
            ["oldestWaitingSeconds"] = Math.Round(lag.OldestWaiting(elapsed).TotalSeconds, 1),
            ["bytesPerObservation"] = stored == 0 ? 0 : Math.Round((double)partitionBytes / stored, 0),
            ["heapBytesPerObservation"] = stored == 0 ? 0 : Math.Round((double)heapBytes / stored, 0),
            ["bytesPerTree"] = trees == 0 ? 0 : Math.Round((double)treeBytes / trees, 0),
        };
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"stored {Stored()} of {all.Count} messages ({DeadLettered()} dead-lettered) and {stored} of {expected} observations in {elapsed.TotalSeconds:0.0} s: " +
            $"{result["messagesPerSecond"]} messages/s, {result["observationsPerSecond"]} observations/s; publish->commit p50 {result["latencyP50Seconds"]} s, p99 {result["latencyP99Seconds"]} s; " +
            $"{partition} {partitionBytes / 1048576.0:0.0} MiB = {result["bytesPerObservation"]} B/observation (heap {result["heapBytesPerObservation"]}), trees {result["bytesPerTree"]} B/tree"));
        // Which index costs what: the partition's own indexes (created from the partitioned table's), in bytes per row.
        await using (var cmd = db.DataSource.CreateCommand($"SELECT indexrelid::regclass::text, pg_relation_size(indexrelid) FROM pg_index WHERE indrelid = to_regclass('{partition}') ORDER BY 1"))
        await using (var reader = await cmd.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync() && stored > 0)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  index {reader.GetString(0),-40} {reader.GetInt64(1) / (double)stored,5:0} B/observation"));
            }
        }
        Console.WriteLine(JsonSerializer.Serialize(result));
        return lag.Committed == all.Count && stored == expected && DeadLettered() == 0 ? 0 : 1;
    }

    private static async Task PublishAsync(ConnectionFactory factory, List<(UplinkMessage Message, MessageEnvelope Envelope)> messages, IngestLag lag, Stopwatch clock, CancellationToken deadline)
    {
        await using var connection = await factory.CreateConnectionAsync(deadline);
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), deadline);
        try
        {
            foreach (var (message, envelope) in messages)
            {
                lag.Publishing(clock.Elapsed, message.Observations);
                await channel.BasicPublishAsync(CentralTopology.Exchange, CentralTopology.RoutingKey(message.Tractor, CentralTopology.UplinkKey), true, RabbitMqMessageBus.ToProperties(envelope), envelope.Body, deadline);
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            // The deadline: what was not published stays unpublished, what was is counted as waiting.
        }
    }
}
