namespace TreeScout.Fusion.Geometry;

/// <summary>
/// Camera-host clock minus GNSS time. Each fix read by the host gives one sample (host receive time − fix time − the
/// receiver's nominal output latency); the estimate is the median of a sliding window, robust to serial and scheduling
/// delays. Fixes without a host receive time (ReceivedAt equal to the fix time: a recording without gnss-times.csv)
/// give no sample; then the offset is 0 and <see cref="Estimate"/> is null.
/// </summary>
public sealed class ClockOffsetEstimator(TimeSpan nominalLatency, int window)
{
    private readonly Queue<long> _samples = new();
    private long[]? _sorted;

    public int Samples => _samples.Count;

    public void Add(DateTimeOffset receivedAt, DateTimeOffset gnssTime)
    {
        if (receivedAt == gnssTime)
        {
            return;
        }
        _samples.Enqueue((receivedAt - gnssTime - nominalLatency).Ticks);
        if (_samples.Count > window)
        {
            _samples.Dequeue();
        }
        _sorted = null;
    }

    /// <summary>Median offset, or null without samples.</summary>
    public TimeSpan? Estimate
    {
        get
        {
            if (_samples.Count == 0)
            {
                return null;
            }
            _sorted ??= [.. _samples.Order()];
            return TimeSpan.FromTicks(_sorted[_sorted.Length / 2]);
        }
    }

    /// <summary>Spread of the samples (median absolute deviation, scaled to a 1-sigma), for the time uncertainty of a frame.</summary>
    public TimeSpan Sigma
    {
        get
        {
            if (Estimate is not { } median || _samples.Count < 3)
            {
                return TimeSpan.FromMilliseconds(20);
            }
            var deviations = _samples.Select(s => Math.Abs(s - median.Ticks)).Order().ToArray();
            return TimeSpan.FromTicks((long)(1.4826 * deviations[deviations.Length / 2] / Math.Sqrt(_samples.Count)) + TimeSpan.TicksPerMillisecond);
        }
    }

    /// <summary>GNSS time of an instant on the host clock.</summary>
    public DateTimeOffset ToGnssTime(DateTimeOffset hostTime) => hostTime - (Estimate ?? TimeSpan.Zero);
}
