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
        ArgumentOutOfRangeException.ThrowIfNegative(minFrameGap);
        var open = folder.SampleIds()
            .Where(id => folder.Labels(id) is null)
            .Select(id => folder.Sample(id)!)
            .OrderByDescending(s => s.Uncertainty)
            .ThenBy(s => s.Id, StringComparer.Ordinal)
            .ToList();
        var picked = new List<ReviewSample>();
        var waiting = new List<ReviewSample>();
        foreach (var sample in open)
        {
            if (picked.Count == count)
            {
                break;
            }
            var nearPicked = picked.Any(p => p.CameraId == sample.CameraId && Math.Abs(p.Sequence - sample.Sequence) < minFrameGap);
            (nearPicked ? waiting : picked).Add(sample);
        }
        picked.AddRange(waiting.Take(count - picked.Count));
        return picked;
    }
}
