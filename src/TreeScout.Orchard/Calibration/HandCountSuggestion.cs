namespace TreeScout.Orchard.Calibration;

/// <summary>A tree the scan mapped: its count and where it stands (metres east and north in any local plane).</summary>
public sealed record SuggestionCandidate(string TreeId, string? RowId, int? TreeIndex, int Scanned, double EastM, double NorthM);

/// <summary>
/// Which trees to count by hand (docs/calibration.md, "Which trees"). A calibration is only as good as the spread of
/// the trees it is fitted on: trees with low, middle and high counts pin the slope, and trees spread over the block
/// keep one corner's peculiarity (light, a border row) from passing for the block's.
/// </summary>
public static class HandCountSuggestion
{
    /// <summary>
    /// The rule: trees the scan found no cluster on are left out (usually a gap or a dead tree, nothing to count). The rest
    /// are ranked by scanned count and cut into <paramref name="count"/> bins of (nearly) equal size; one tree is taken
    /// from each bin, from the lowest bin up. In the first bin it is the tree whose count is nearest the bin's median; in
    /// every later bin the tree standing farthest from the trees already taken, ties to the count nearest the bin's
    /// median, then to the smaller tree id. The list comes back in walking order (row, then tree).
    /// </summary>
    public static IReadOnlyList<SuggestionCandidate> Suggest(IReadOnlyList<SuggestionCandidate> trees, int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var ranked = trees.Where(t => t.Scanned > 0).OrderBy(t => t.Scanned).ThenBy(t => t.TreeId, StringComparer.Ordinal).ToList();
        var bins = Math.Min(count, ranked.Count);
        var chosen = new List<SuggestionCandidate>(bins);
        for (var b = 0; b < bins; b++)
        {
            var bin = ranked.GetRange(b * ranked.Count / bins, ((b + 1) * ranked.Count / bins) - (b * ranked.Count / bins));
            var median = bin[(bin.Count - 1) / 2].Scanned + ((bin[bin.Count / 2].Scanned - bin[(bin.Count - 1) / 2].Scanned) / 2.0);
            chosen.Add(bin
                // Distances to the millimetre, so rounding never decides between two trees.
                .OrderByDescending(t => chosen.Count == 0 ? 0 : Math.Round(chosen.Min(c => Distance(c, t)), 3))
                .ThenBy(t => Math.Abs(t.Scanned - median))
                .ThenBy(t => t.TreeId, StringComparer.Ordinal)
                .First());
        }
        return chosen.OrderBy(t => t.RowId, StringComparer.Ordinal).ThenBy(t => t.TreeIndex).ThenBy(t => t.TreeId, StringComparer.Ordinal).ToList();
    }

    private static double Distance(SuggestionCandidate a, SuggestionCandidate b) =>
        Math.Sqrt(((a.EastM - b.EastM) * (a.EastM - b.EastM)) + ((a.NorthM - b.NorthM) * (a.NorthM - b.NorthM)));
}
