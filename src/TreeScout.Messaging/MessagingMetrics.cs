using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace TreeScout.Messaging;

/// <summary>
/// Bus counters (System.Diagnostics.Metrics; on /metrics as treescout_messaging_&lt;name&gt;, labelled by queue or exchange).
/// The counts live here and are observed at scrape time, so nothing counted before the exporter attached is lost.
/// </summary>
public sealed class MessagingMetrics : IDisposable
{
    public const string MeterName = "TreeScout.Messaging";

    private readonly Meter _meter;
    private readonly Histogram<double> _handlerSeconds;
    // Reason: the second label of a dead-lettered count (malformed or failed); null for every other counter.
    private readonly ConcurrentDictionary<(string Counter, string Label, string Value, string? Reason), Count> _counts = new();

    public MessagingMetrics(IMeterFactory? meterFactory = null)
    {
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        Observe("messages_consumed", "queue", "Messages handled and acknowledged");
        Observe("messages_duplicate", "queue", "Redeliveries of already handled messages, acknowledged without handling");
        Observe("messages_retried", "queue", "Handler failures returned to the queue for another attempt");
        Observe("messages_dead_lettered", "queue", "Messages moved to a dead-letter queue, by reason: malformed (never handleable) or failed (the handler failed every attempt)");
        Observe("messages_published", "exchange", "Messages published and confirmed");
        Observe("messages_publish_rejected", "exchange", "Publishes refused by the broker (queue full)");
        _handlerSeconds = _meter.CreateHistogram<double>("handler_duration", unit: "s", description: "Handler run time");
    }

    public long DeadLetteredTotal => Total("messages_dead_lettered");

    public long ConsumedTotal => Total("messages_consumed");

    /// <summary>Redeliveries dropped because the message id was already handled.</summary>
    public long DuplicateTotal => Total("messages_duplicate");

    public void Consumed(string queue, double seconds)
    {
        Add("messages_consumed", "queue", queue);
        _handlerSeconds.Record(seconds, new KeyValuePair<string, object?>("queue", queue));
    }

    public void Duplicate(string queue) => Add("messages_duplicate", "queue", queue);

    public void Retried(string queue) => Add("messages_retried", "queue", queue);

    /// <param name="reason"><see cref="DeadLetterReasons.Malformed"/> or <see cref="DeadLetterReasons.Failed"/>.</param>
    public void DeadLettered(string queue, string reason) => Add("messages_dead_lettered", "queue", queue, reason);

    public void Published(string exchange) => Add("messages_published", "exchange", exchange);

    public void Rejected(string exchange) => Add("messages_publish_rejected", "exchange", exchange);

    public void Dispose() => _meter.Dispose();

    private void Add(string counter, string label, string value, string? reason = null) => _counts.GetOrAdd((counter, label, value, reason), _ => new Count()).Increment();

    private long Total(string counter) => _counts.Where(kv => kv.Key.Counter == counter).Sum(kv => kv.Value.Value);

    private void Observe(string counter, string label, string description) =>
        _meter.CreateObservableCounter(counter, () => _counts
            .Where(kv => kv.Key.Counter == counter)
            .Select(kv => kv.Key.Reason is { } reason
                ? new Measurement<long>(kv.Value.Value, new KeyValuePair<string, object?>(label, kv.Key.Value), new KeyValuePair<string, object?>("reason", reason))
                : new Measurement<long>(kv.Value.Value, new KeyValuePair<string, object?>(label, kv.Key.Value))), description: description);

    private sealed class Count
    {
        private long _value;

        public long Value => Interlocked.Read(ref _value);

        public void Increment() => Interlocked.Increment(ref _value);
    }
}

/// <summary>Why a message was dead-lettered, as the reason label of treescout_messaging_messages_dead_lettered counts it.</summary>
public static class DeadLetterReasons
{
    /// <summary>It can never be handled: undecodable, an unknown type or version, or refused by the handler as invalid.</summary>
    public const string Malformed = "malformed";

    /// <summary>The handler failed on it as many times as the queue's delivery limit allows.</summary>
    public const string Failed = "failed";
}
