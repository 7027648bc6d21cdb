using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace TreeScout.Hosting;

/// <summary>
/// A worker's named progress counters (frames_captured, frames_detected, ...): exported on /metrics (treescout_worker_&lt;name&gt;) and
/// reported in status heartbeats so `treescout run status` shows them.
/// </summary>
public sealed class WorkerCounters : IDisposable
{
    private readonly ConcurrentDictionary<string, StrongBox> _values = new(StringComparer.Ordinal);
    private readonly Meter _meter = new("TreeScout.Worker");

    public void Add(string name, long delta = 1) => Get(name).Add(delta);

    public long this[string name] => _values.TryGetValue(name, out var box) ? box.Value : 0;

    public IReadOnlyDictionary<string, long> Snapshot() => _values.ToDictionary(kv => kv.Key, kv => kv.Value.Value, StringComparer.Ordinal);

    private StrongBox Get(string name) => _values.GetOrAdd(name, n =>
    {
        var box = new StrongBox();
        _meter.CreateObservableCounter(n, () => box.Value);
        return box;
    });

    public void Dispose() => _meter.Dispose();

    private sealed class StrongBox
    {
        private long _value;

        public long Value => Interlocked.Read(ref _value);

        public void Add(long delta) => Interlocked.Add(ref _value, delta);
    }
}

/// <summary>Conditions an operator must see (camera upside down, GNSS degraded, ...), keyed so a condition is reported once and can clear.</summary>
public sealed class WorkerWarnings
{
    private readonly ConcurrentDictionary<string, string> _active = new(StringComparer.Ordinal);

    /// <summary>Returns true when the condition is new (so the caller logs it once).</summary>
    public bool Raise(string key, string message)
    {
        var isNew = true;
        _active.AddOrUpdate(key, message, (_, _) =>
        {
            isNew = false;
            return message;
        });
        return isNew;
    }

    public void Clear(string key) => _active.TryRemove(key, out _);

    /// <summary>The condition's current message, or null while it is not raised.</summary>
    public string? Find(string key) => _active.TryGetValue(key, out var message) ? message : null;

    public IReadOnlyList<string> Snapshot() => [.. _active.Values.Order(StringComparer.Ordinal)];
}

/// <summary>The run a worker is currently working on; stamped on every log event and heartbeat.</summary>
public sealed class ActiveRun
{
    private volatile string? _runId;

    public string? RunId => _runId;

    public void Started(string runId) => _runId = runId;

    public void Stopped(string runId) => Interlocked.CompareExchange(ref _runId, null, runId);
}
