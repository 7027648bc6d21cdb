namespace TreeScout.Labelling;

/// <summary>
/// Which frames to review next so that an hour of review teaches the detector most (docs/labelling.md, "What to review
/// next"): the frames not reviewed yet, most uncertain first, but a frame within <c>minFrameGap</c> frames of one already
/// picked from the same camera waits until every other frame is picked, since neighbouring frames show the same trees and
/// a second label of the same clusters adds little.
/// </summary>
public static class ReviewQueue
{
    public const int DefaultMinFrameGap = 10;

    public static IReadOnlyList<ReviewSample> Next(ReviewFolder folder, int count, int minFrameGap = DefaultMinFrameGap)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        var open = folder.SampleIds().Where(id => folder.Labels(id) is null).Select(id => folder.Sample(id)!);
        return [.. Order(open, s => (s.CameraId, s.Sequence, s.Uncertainty, s.Id), minFrameGap).Take(count)];
    }

    /// <summary>
    /// Every one of <paramref name="frames"/> in review order (what <see cref="Next"/> lists first comes first): most
    /// uncertain first, a frame within <paramref name="minFrameGap"/> frames of one already placed from the same camera
    /// after every frame that is not. The console's queue and `treescout dataset next` both order by this.
    /// </summary>
    public static IReadOnlyList<T> Order<T>(IEnumerable<T> frames, Func<T, (string CameraId, long Sequence, double Uncertainty, string Id)> key, int minFrameGap = DefaultMinFrameGap)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(minFrameGap);
        var placed = new List<(string CameraId, long Sequence)>();
        var first = new List<T>();
        var waiting = new List<T>();
        foreach (var frame in frames.OrderByDescending(f => key(f).Uncertainty).ThenBy(f => key(f).Id, StringComparer.Ordinal))
        {
            var (camera, sequence, _, _) = key(frame);
            if (placed.Any(p => p.CameraId == camera && Math.Abs(p.Sequence - sequence) < minFrameGap))
            {
                waiting.Add(frame);
            }
            else
            {
                placed.Add((camera, sequence));
                first.Add(frame);
            }
        }
        return [.. first, .. waiting];
    }
}
