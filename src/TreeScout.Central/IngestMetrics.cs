using System.Diagnostics.Metrics;
using TreeScout.Messaging;

namespace TreeScout.Central;

/// <summary>
/// What the ingest adds to the bus's own counters (<see cref="MessagingMetrics"/>: deliveries stored, duplicate,
/// retried, dead-lettered by reason): on /metrics as treescout_central_&lt;name&gt;, exported the way the tractor
/// workers' meters are (prometheus-net). Counts live here and are observed at scrape time, like the bus's.
/// </summary>
public sealed class IngestMetrics : IDisposable
{
    public const string MeterName = "TreeScout.Central";

    private readonly Meter _meter = new(MeterName);
    private readonly Histogram<double> _lag;
    private long _observationsStored;
    private long _observationsDuplicate;
    private long _databaseUnavailable;
    private volatile QueueDepth? _depth;

    public IngestMetrics()
    {
        _meter.CreateObservableCounter("observations_stored", () => ObservationsStored, description: "Observations written to the season store");
        _meter.CreateObservableCounter("observations_duplicate", () => ObservationsDuplicate,
            description: "Observations that arrived again (uplink copies, redeliveries) and were already stored");
        _meter.CreateObservableCounter("database_unavailable_retries", () => DatabaseUnavailableRetries,
            description: "Attempts that found PostgreSQL unreachable; the delivery was held and tried again");
        _meter.CreateObservableGauge("queue_ready", () => Depth(d => d.Ready), description: "Messages waiting in the ingest queue (polled every 10 s)");
        _meter.CreateObservableGauge("queue_dead_lettered", () => Depth(d => d.DeadLettered), description: "Messages in the ingest dead-letter queue (polled every 10 s)");
        // The unit in the name, as Prometheus names it (the exporter does not add it); its default buckets, 0.01 s doubling to 46 h.
        _lag = _meter.CreateHistogram<double>("ingest_lag_seconds", unit: "s",
            description: "From the tractor's publish (AMQP timestamp, whole seconds of the tractor's clock) to the season store's commit");
    }

    public long ObservationsStored => Interlocked.Read(ref _observationsStored);

    public long ObservationsDuplicate => Interlocked.Read(ref _observationsDuplicate);

    public long DatabaseUnavailableRetries => Interlocked.Read(ref _databaseUnavailable);

    /// <summary>A message committed: its observations, and its lag when the publisher stamped it (a clock ahead of ours counts as 0).</summary>
    public void Committed(IngestOutcome outcome, DateTimeOffset? publishedAt, DateTimeOffset committedAt)
    {
        Interlocked.Add(ref _observationsStored, outcome.ObservationsInserted);
        Interlocked.Add(ref _observationsDuplicate, outcome.ObservationsDuplicate);
        if (publishedAt is { } published)
        {
            _lag.Record(Math.Max(0, (committedAt - published).TotalSeconds));
        }
    }

    public void DatabaseUnavailable() => Interlocked.Increment(ref _databaseUnavailable);

    /// <summary>The ingest queue's depth as last polled; null while unknown (broker away).</summary>
    public void Polled(QueueDepth? depth) => _depth = depth;

    public void Dispose() => _meter.Dispose();

    private IEnumerable<Measurement<long>> Depth(Func<QueueDepth, long> value) =>
        _depth is { } depth ? [new Measurement<long>(value(depth), new KeyValuePair<string, object?>("queue", depth.Queue))] : [];
}
