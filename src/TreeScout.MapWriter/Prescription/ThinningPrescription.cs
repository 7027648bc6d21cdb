using System.Globalization;
using TreeScout.Contracts;

namespace TreeScout.MapWriter.Prescription;

/// <summary>One tree's thinning prescription.</summary>
public sealed record TreeDose(double Excess, double DosePercent, double RateLPerHa, string? ZoneClass);

/// <summary>The formula of docs/prescription.md: excess → dose–response → clamps → optional zone class → L/ha.</summary>
public static class ThinningPrescription
{
    /// <param name="clusters">The tree's confident clusters, or its calibrated count when the run has a hand-count calibration.</param>
    public static TreeDose For(VarietyProfile profile, double clusters)
    {
        var excess = (clusters - profile.TargetClustersPerTree) / profile.TargetClustersPerTree;
        var dose = Math.Clamp(Interpolate(profile.DoseResponse, excess), profile.MinDosePercent, profile.MaxDosePercent);
        string? zone = null;
        if (profile.ZoneClasses.Count > 0)
        {
            var cls = profile.ZoneClasses.FirstOrDefault(c => dose <= c.UpToDosePercent) ?? profile.ZoneClasses[^1];
            zone = cls.Name;
            dose = cls.DosePercent;
        }
        return new TreeDose(excess, dose, dose / 100.0 * profile.FullDoseLPerHa, zone);
    }

    private static double Interpolate(IReadOnlyList<DosePoint> points, double excess)
    {
        if (excess <= points[0].Excess)
        {
            return points[0].DosePercent;
        }
        for (var i = 1; i < points.Count; i++)
        {
            if (excess <= points[i].Excess)
            {
                var (a, b) = (points[i - 1], points[i]);
                return a.DosePercent + ((excess - a.Excess) / (b.Excess - a.Excess) * (b.DosePercent - a.DosePercent));
            }
        }
        return points[^1].DosePercent;
    }

    /// <summary>
    /// The bloom-timing check over the block's stage mix (confident clusters): a warning when too large a share is
    /// still before the window (too early to spray) or already past it (too late), else null.
    /// </summary>
    public static string? BloomTimingWarning(VarietyProfile profile, IReadOnlyDictionary<BbchStage, long> clustersPerStage)
    {
        var total = clustersPerStage.Values.Sum();
        if (total == 0)
        {
            return null;
        }
        var window = profile.BloomWindow;
        long before = 0, after = 0;
        foreach (var (stage, n) in clustersPerStage)
        {
            if ((int)stage < (int)window.First)
            {
                before += n;
            }
            else if ((int)stage > (int)window.Last)
            {
                after += n;
            }
        }
        var range = $"{BbchStages.Label(window.First)}–{BbchStages.Label(window.Last)}";
        var shareBefore = (double)before / total;
        var shareAfter = (double)after / total;
        if (shareBefore > window.WarnShareOutside && shareBefore >= shareAfter)
        {
            return string.Create(CultureInfo.InvariantCulture,
                $"too early to thin {profile.Variety}: {shareBefore:P0} of {total} clusters are before {BbchStages.Label(window.First)} (advised window {range})");
        }
        if (shareAfter > window.WarnShareOutside)
        {
            return string.Create(CultureInfo.InvariantCulture,
                $"too late to thin {profile.Variety}: {shareAfter:P0} of {total} clusters are past {BbchStages.Label(window.Last)} (advised window {range})");
        }
        return null;
    }
}
