namespace TreeScout.Central.Tests;

/// <summary>
/// Publish → commit lag of one ingest queue. Messages are numbered in the order they were handed to the broker (one
/// queue keeps that order closely; concurrent publishers may swap neighbours); the ingest's committed count, polled,
/// says the first <c>n</c> of them are stored. From that: the age of the oldest message not yet stored, and per message
/// the time from publish to the poll that saw it stored (so latencies carry the poll interval's resolution).
/// </summary>
public sealed class IngestLag(int capacity)
{
    private readonly TimeSpan[] _publishedAt = new TimeSpan[capacity];
    private readonly TimeSpan[] _committedAt = new TimeSpan[capacity];
    private readonly int[] _observations = new int[capacity];
    private int _published;
    private int _committed;
    private long _observationsCommitted;

    public int Published => Volatile.Read(ref _published);

    public int Committed => Volatile.Read(ref _committed);

    /// <summary>Observations in the committed messages (copies included: the store drops those by observation id).</summary>
    public long ObservationsCommitted => Interlocked.Read(ref _observationsCommitted);

    /// <summary>Takes the next number for a message about to be published at <paramref name="now"/>.</summary>
    public void Publishing(TimeSpan now, int observations)
    {
        var i = Interlocked.Increment(ref _published) - 1;
        _publishedAt[i] = now;
        _observations[i] = observations;
    }

    /// <summary>The ingest has stored <paramref name="count"/> messages by <paramref name="now"/> (counts only grow).</summary>
    public void CommittedBy(TimeSpan now, int count)
    {
        count = Math.Min(count, Published);
        for (var i = _committed; i < count; i++)
        {
            _committedAt[i] = now;
            Interlocked.Add(ref _observationsCommitted, _observations[i]);
        }
        Volatile.Write(ref _committed, Math.Max(_committed, count));
    }

    /// <summary>How long the oldest message not yet stored has waited; zero when none waits.</summary>
    public TimeSpan OldestWaiting(TimeSpan now) => Committed < Published ? now - _publishedAt[Committed] : TimeSpan.Zero;

    /// <summary>The <paramref name="percentile"/> (0–100, nearest rank) of publish → commit over the stored messages; zero when none is.</summary>
    public TimeSpan Latency(double percentile)
    {
        var n = Committed;
        if (n == 0)
        {
            return TimeSpan.Zero;
        }
        var latencies = new TimeSpan[n];
        for (var i = 0; i < n; i++)
        {
            latencies[i] = _committedAt[i] - _publishedAt[i];
        }
        Array.Sort(latencies);
        return latencies[Math.Clamp((int)Math.Ceiling(percentile / 100 * n) - 1, 0, n - 1)];
    }
}
