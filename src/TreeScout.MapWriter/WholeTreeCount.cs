namespace TreeScout.MapWriter;

/// <summary>
/// A tree's whole-tree count from what was seen of it from each side of its row (ADR 0074, superseding 0035). A row
/// scanned from both sides shows most clusters twice: a fruit wall is thin, and a cluster hanging on one face is often
/// seen through the canopy from the other alley too. Which observations from the two sides are the same cluster cannot
/// be told by position (clusters hang ~0.3 m apart, monocular placement errors reach 0.2 m and go opposite ways from
/// opposite sides), so the clusters seen from both sides are estimated: a share <see cref="OverlapShare"/> of the mean of
/// the two sides' counts, but never more than <see cref="SmallerSideCap"/> × the side that saw fewer. A tree seen from one
/// side only keeps that side's count.
/// </summary>
public static class WholeTreeCount
{
    /// <summary>
    /// Clusters seen from both sides over the mean of the two sides' counts: measured on the simulator's visibility
    /// truth (docs/calibration.md, "Both sides of the row"), 894 of 1,116.5 (0.80) on seed 3501. A block whose canopy is
    /// denser or thinner shifts the level of every tree alike, which the hand-count calibration takes out.
    /// </summary>
    public const double OverlapShare = 0.80;

    /// <summary>
    /// The overlap estimate may take out at most this many times the smaller side's count. Each side's count carries its
    /// own false positives and misses, so on a tree whose two sides are unbalanced by noise the smaller side says little
    /// about the overlap: capped at the smaller side itself (1×), the count followed the larger, noisier side on a third
    /// of the trees and ranked them worse than the plain sum (r² 0.715 → 0.643 on seed 3602). At 1.5, 2 or 3 the cap binds
    /// only where one side saw almost nothing (a row end, a pass that stopped), and the ranking is the sum's
    /// (docs/calibration.md, "Both sides of the row").
    /// </summary>
    public const double SmallerSideCap = 2;

    /// <summary>
    /// <paramref name="left"/> + <paramref name="right"/> − the estimated clusters seen from both (min(share × mean,
    /// <see cref="SmallerSideCap"/> × smaller side), rounded to a whole cluster) + <paramref name="sideUnknown"/>
    /// (clusters whose side is not known, counted as they are).
    /// </summary>
    public static int Of(int left, int right, int sideUnknown) =>
        sideUnknown + left + right
        - (int)Math.Round(Math.Min(OverlapShare * (left + right) / 2, SmallerSideCap * Math.Min(left, right)), MidpointRounding.AwayFromZero);

    /// <summary>
    /// The per-stage counts of a tree whose <paramref name="seen"/> confident clusters (both sides' sightings together;
    /// <paramref name="stagesSeen"/> per stage, a cluster with no known stage in none) make the whole-tree count
    /// <paramref name="whole"/>: each stage scaled by whole ÷ seen, the clusters left by rounding down going to the
    /// largest remainders (ties: the earlier stage). Unchanged for a tree seen from one side.
    /// </summary>
    public static int[] ShareOut(IReadOnlyList<int> stagesSeen, int seen, int whole)
    {
        var sum = stagesSeen.Sum();
        var target = seen == 0 ? 0 : (int)Math.Round((double)sum * whole / seen, MidpointRounding.AwayFromZero);
        if (target == sum)
        {
            return [.. stagesSeen];
        }
        var shares = stagesSeen.Select(n => (double)n * target / sum).ToArray();
        var result = shares.Select(v => (int)Math.Floor(v)).ToArray();
        var remaining = target - result.Sum();
        foreach (var i in Enumerable.Range(0, shares.Length).OrderByDescending(i => shares[i] - result[i]).ThenBy(i => i).Take(remaining))
        {
            result[i]++;
        }
        return result;
    }
}
