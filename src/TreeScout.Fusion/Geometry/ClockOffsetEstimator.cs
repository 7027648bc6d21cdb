namespace TreeScout.Fusion.Geometry;

/// <summary>
/// Camera-host clock minus GNSS time. Each fix read by the host gives one sample (host receive time − fix time − the
/// receiver's nominal output latency); the offset at a host instant is the median of the last <c>window</c> samples
/// received up to shortly after it, robust to serial and scheduling delays. Depending only on fixes older than the frame
/// (which a frame waits for anyway), the offset a frame gets does not depend on how far the fix queue had got when the
/// frame was processed: a replay after a crash places every frame exactly as the first time, so tracks and their ids
/// come out the same. Fixes without a host receive time (ReceivedAt equal to the fix time: a recording without
/// gnss-times.csv) give no sample; then the offset is 0 and <see cref="Estimate"/> is null.
/// </summary>
public sealed class ClockOffsetEstimator(TimeSpan nominalLatency, int window)
{
    /// <summary>Samples received up to this long after a frame count for it: all of them are in once the frame's pose can be fitted.</summary>
    private static readonly TimeSpan Lookahead = TimeSpan.FromMilliseconds(250);

    // (host receive time, offset) in receive order; a redelivered fix may arrive out of order and is inserted in place.
    private readonly List<(long Received, long Offset)> _samples = [];
    private (int Count, TimeSpan Offset, TimeSpan Sigma)? _cached;

    public void Add(DateTimeOffset receivedAt, DateTimeOffset gnssTime)
    {
        if (receivedAt == gnssTime)
        {
            return;
        }
        var sample = (receivedAt.UtcTicks, (receivedAt - gnssTime - nominalLatency).Ticks);
        var index = _samples.Count;
        while (index > 0 && _samples[index - 1].Received > sample.UtcTicks)
        {
            index--;
        }
        _samples.Insert(index, sample);
        _cached = null;
    }

    /// <summary>Offset from every sample so far (the run's summary), or null without samples.</summary>
    public TimeSpan? Estimate => _samples.Count == 0 ? null : At(_samples.Count).Offset;

    /// <summary>Offset for a frame captured at <paramref name="hostTime"/>, or null without samples.</summary>
    public TimeSpan? EstimateAt(DateTimeOffset hostTime) => _samples.Count == 0 ? null : At(CountAt(hostTime)).Offset;

    /// <summary>Spread of a frame's samples (median absolute deviation, scaled to a 1-sigma of their median), for its time uncertainty.</summary>
    public TimeSpan SigmaAt(DateTimeOffset hostTime) => _samples.Count == 0 ? TimeSpan.FromMilliseconds(20) : At(CountAt(hostTime)).Sigma;

    /// <summary>GNSS time of an instant on the host clock.</summary>
    public DateTimeOffset ToGnssTime(DateTimeOffset hostTime) => hostTime - (EstimateAt(hostTime) ?? TimeSpan.Zero);

    /// <summary>Forgets samples no frame captured at or after <paramref name="hostTime"/> can use.</summary>
    public void PruneBefore(DateTimeOffset hostTime)
    {
        var drop = CountAt(hostTime - Lookahead) - window;
        if (drop > 0)
        {
            _samples.RemoveRange(0, drop);
            _cached = null;
        }
    }

    /// <summary>Samples received up to <paramref name="hostTime"/> + lookahead (at least the first one).</summary>
    private int CountAt(DateTimeOffset hostTime)
    {
        var limit = (hostTime + Lookahead).UtcTicks;
        int lo = 0, hi = _samples.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) / 2;
            if (_samples[mid].Received <= limit)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }
        return Math.Max(1, lo);
    }

    /// <summary>Median and its sigma over the last <c>window</c> of the first <paramref name="count"/> samples (frames come in order: cached).</summary>
    private (TimeSpan Offset, TimeSpan Sigma) At(int count)
    {
        if (_cached is { } cached && cached.Count == count)
        {
            return (cached.Offset, cached.Sigma);
        }
        var from = Math.Max(0, count - window);
        var sorted = new long[count - from];
        for (var i = from; i < count; i++)
        {
            sorted[i - from] = _samples[i].Offset;
        }
        Array.Sort(sorted);
        var median = sorted[sorted.Length / 2];
        var sigma = TimeSpan.FromMilliseconds(20);
        if (sorted.Length >= 3)
        {
            var deviations = sorted.Select(s => Math.Abs(s - median)).Order().ToArray();
            sigma = TimeSpan.FromTicks((long)(1.4826 * deviations[deviations.Length / 2] / Math.Sqrt(sorted.Length)) + TimeSpan.TicksPerMillisecond);
        }
        _cached = (count, TimeSpan.FromTicks(median), sigma);
        return (TimeSpan.FromTicks(median), sigma);
    }
}
