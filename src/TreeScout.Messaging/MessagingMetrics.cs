using System.Diagnostics.Metrics;

namespace TreeScout.Messaging;

/// <summary>Bus counters (System.Diagnostics.Metrics; exported as Prometheus text by the hosting defaults).</summary>
public sealed class MessagingMetrics : IDisposable
{
    public const string MeterName = "TreeScout.Messaging";

    private readonly Meter _meter;
    private readonly Counter<long> _consumed;
    private readonly Counter<long> _duplicates;
    private readonly Counter<long> _retried;
    private readonly Counter<long> _deadLettered;
    private readonly Counter<long> _published;
    private readonly Counter<long> _rejected;
    private readonly Histogram<double> _handlerSeconds;
    private long _deadLetteredTotal;
    private long _consumedTotal;
    private long _duplicateTotal;

    public MessagingMetrics(IMeterFactory? meterFactory = null)
    {
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _consumed = _meter.CreateCounter<long>("treescout_messages_consumed", description: "Messages handled and acknowledged");
        _duplicates = _meter.CreateCounter<long>("treescout_messages_duplicate", description: "Redeliveries of already handled messages, acknowledged without handling");
        _retried = _meter.CreateCounter<long>("treescout_messages_retried", description: "Handler failures returned to the queue for another attempt");
        _deadLettered = _meter.CreateCounter<long>("treescout_messages_dead_lettered", description: "Messages moved to a dead-letter queue");
        _published = _meter.CreateCounter<long>("treescout_messages_published", description: "Messages published and confirmed");
        _rejected = _meter.CreateCounter<long>("treescout_messages_publish_rejected", description: "Publishes refused by the broker (queue full)");
        _handlerSeconds = _meter.CreateHistogram<double>("treescout_handler_duration", unit: "s", description: "Handler run time");
    }

    public long DeadLetteredTotal => Interlocked.Read(ref _deadLetteredTotal);

    public long ConsumedTotal => Interlocked.Read(ref _consumedTotal);

    /// <summary>Redeliveries dropped because the message id was already handled.</summary>
    public long DuplicateTotal => Interlocked.Read(ref _duplicateTotal);

    public void Consumed(string queue, double seconds)
    {
        Interlocked.Increment(ref _consumedTotal);
        _consumed.Add(1, new KeyValuePair<string, object?>("queue", queue));
        _handlerSeconds.Record(seconds, new KeyValuePair<string, object?>("queue", queue));
    }

    public void Duplicate(string queue)
    {
        Interlocked.Increment(ref _duplicateTotal);
        _duplicates.Add(1, new KeyValuePair<string, object?>("queue", queue));
    }

    public void Retried(string queue) => _retried.Add(1, new KeyValuePair<string, object?>("queue", queue));

    public void DeadLettered(string queue)
    {
        Interlocked.Increment(ref _deadLetteredTotal);
        _deadLettered.Add(1, new KeyValuePair<string, object?>("queue", queue));
    }

    public void Published(string exchange) => _published.Add(1, new KeyValuePair<string, object?>("exchange", exchange));

    public void Rejected(string exchange) => _rejected.Add(1, new KeyValuePair<string, object?>("exchange", exchange));

    public void Dispose() => _meter.Dispose();
}
