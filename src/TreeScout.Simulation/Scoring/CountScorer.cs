using TreeScout.Contracts;
using TreeScout.Orchard.Calibration;

namespace TreeScout.Simulation.Scoring;

/// <summary>
/// Per-tree counts against a truth: R² = 1 − SSE/SST (the level counts, so a biased count scores low), r² = squared
/// Pearson correlation (the ranking alone: what a calibration can reach at best), RMSE, MAPE over trees whose truth is
/// above 0, bias = mean (count − truth). Null where a tree set gives no spread to compare with.
/// </summary>
public sealed record CountAccuracy(int Trees, double? R2, double? CorrelationR2, double Rmse, double? MapePercent, double Bias);

/// <summary>Counts after calibrating with hand counts of the trees the `--suggest` rule picks, taken from the truth.</summary>
/// <param name="Accuracy">Over the standing trees that were not hand-counted: what the agronomist did not count.</param>
/// <param name="RawAccuracy">The raw counts of those same trees, to compare with <paramref name="Accuracy"/>.</param>
/// <param name="IntervalCoverage">Share of those trees whose truth lies in their 90 % prediction interval (null without any).</param>
public sealed record CalibratedCounts(
    string Model, string Formula, double? FitR2, double? LooMapePercent, IReadOnlyList<string> HandCountedTrees, CountAccuracy Accuracy, CountAccuracy RawAccuracy, double? IntervalCoverage);

/// <summary>One truth (visible or whole-tree): the raw counts and, with --calibrate-with, the calibrated ones (or why none).</summary>
public sealed record CountTruthScore(CountAccuracy Raw, CalibratedCounts? Calibrated, string? CalibrationError);

/// <summary>One side of the row: each tree's clusters seen from it against the clusters visible from it.</summary>
public sealed record SideCountScore(string Side, CountAccuracy Accuracy);

/// <summary>
/// Per-tree counts against the clusters visible from the scanned faces and against every cluster on the tree (what an
/// agronomist counts by hand), raw and calibrated (docs/calibration.md); for a run that scanned rows from both sides
/// also each side's counts against what was visible from that side (empty otherwise, or when the store has no sides).
/// </summary>
public sealed record CountScore(int? CalibrateWith, CountTruthScore Visible, CountTruthScore WholeTree, IReadOnlyList<SideCountScore> Sides);

/// <summary>Scores per-tree counts for <see cref="Scorer"/>: standing trees only, a missed tree reported 0 clusters.</summary>
internal static class CountScorer
{
    /// <param name="matched">Each found standing tree's result tree.</param>
    public static CountScore Score(GroundTruth truth, RunResult result, IReadOnlyDictionary<string, ResultTree> matched, LocalTangentPlane plane, int? calibrateWith)
    {
        var present = truth.Trees.Where(t => t.Present).ToList();
        var scanned = present.ToDictionary(t => t.TreeId, t => matched.TryGetValue(t.TreeId, out var r) ? r.ClustersTotal : 0, StringComparer.Ordinal);
        // The agronomist is sent to the run's trees (its counts, its positions) the --suggest rule picks, and counts
        // what stands there: the matched true tree, or nothing where the run put a tree no tree stands at.
        var handCounted = calibrateWith is { } n
            ? HandCountSuggestion.Suggest(result.Trees.Select(r =>
            {
                var (e, north) = plane.ToLocal(r.Latitude, r.Longitude);
                return new SuggestionCandidate(r.TreeId, r.RowId, null, r.ClustersTotal, e, north);
            }).ToList(), n).Select(c => result.Trees.First(r => r.TreeId == c.TreeId)).ToList()
            : null;
        var truthOf = new Dictionary<ResultTree, TruthTree>(ReferenceEqualityComparer.Instance);
        foreach (var (treeId, r) in matched)
        {
            truthOf[r] = present.First(t => t.TreeId == treeId);
        }
        return new CountScore(
            calibrateWith,
            ForTruth(present, scanned, t => t.VisibleTotal, handCounted, truthOf),
            ForTruth(present, scanned, t => t.ClustersTotal, handCounted, truthOf),
            result.Trees.Any(r => r.ClustersBySide is not null) ? [.. truth.BothSides.Select(side => BySide(present, matched, side))] : []);
    }

    /// <summary>Each standing tree's clusters seen from <paramref name="side"/> (0 for a missed tree) against those visible from it.</summary>
    private static SideCountScore BySide(List<TruthTree> present, IReadOnlyDictionary<string, ResultTree> matched, string side) =>
        new(side, Accuracy(present.Select(t => (
            (double)(matched.TryGetValue(t.TreeId, out var r) ? r.ClustersBySide?.GetValueOrDefault(side) ?? 0 : 0),
            (double)t.VisibleBySide.GetValueOrDefault(side))).ToList()));

    private static CountTruthScore ForTruth(
        List<TruthTree> present, Dictionary<string, int> scanned, Func<TruthTree, int> truthOf, List<ResultTree>? handCounted, Dictionary<ResultTree, TruthTree> standingAt)
    {
        var raw = Accuracy(present.Select(t => ((double)scanned[t.TreeId], (double)truthOf(t))).ToList());
        if (handCounted is null)
        {
            return new CountTruthScore(raw, null, null);
        }
        CalibrationFit fit;
        try
        {
            fit = CountCalibration.Fit(handCounted.Select(r => new CalibrationPoint(r.ClustersTotal, standingAt.TryGetValue(r, out var t) ? truthOf(t) : 0)).ToList());
        }
        catch (CalibrationException ex)
        {
            return new CountTruthScore(raw, null, ex.Message);
        }
        var counted = handCounted.Where(standingAt.ContainsKey).Select(r => standingAt[r].TreeId).ToHashSet(StringComparer.Ordinal);
        var t90 = fit.Model.TQuantile;
        var others = present.Where(t => !counted.Contains(t.TreeId))
            .Select(t => (Scanned: (double)scanned[t.TreeId], Predicted: fit.Model.Predict(scanned[t.TreeId], t90), Truth: (double)truthOf(t))).ToList();
        double? coverage = others.Count == 0 ? null : others.Count(o => o.Predicted.Low <= o.Truth && o.Truth <= o.Predicted.High) / (double)others.Count;
        return new CountTruthScore(raw, new CalibratedCounts(
            CountModel.Name(fit.Model.Kind), fit.Model.Formula, fit.R2, fit.LooMapePercent, handCounted.Select(r => r.TreeId).ToList(),
            Accuracy(others.Select(o => (o.Predicted.Clusters, o.Truth)).ToList()), Accuracy(others.Select(o => (o.Scanned, o.Truth)).ToList()), coverage), null);
    }

    public static CountAccuracy Accuracy(IReadOnlyList<(double Count, double Truth)> trees)
    {
        if (trees.Count == 0)
        {
            return new CountAccuracy(0, null, null, 0, null, 0);
        }
        var meanTruth = trees.Average(t => t.Truth);
        var meanCount = trees.Average(t => t.Count);
        var sse = trees.Sum(t => (t.Count - t.Truth) * (t.Count - t.Truth));
        var sst = trees.Sum(t => (t.Truth - meanTruth) * (t.Truth - meanTruth));
        var scc = trees.Sum(t => (t.Count - meanCount) * (t.Count - meanCount));
        var sct = trees.Sum(t => (t.Count - meanCount) * (t.Truth - meanTruth));
        var withTruth = trees.Where(t => t.Truth > 0).ToList();
        return new CountAccuracy(
            trees.Count,
            sst > 0 ? 1 - (sse / sst) : null,
            sst > 0 && scc > 0 ? sct * sct / (sst * scc) : null,
            Math.Sqrt(sse / trees.Count),
            withTruth.Count == 0 ? null : 100 * withTruth.Average(t => Math.Abs(t.Count - t.Truth) / t.Truth),
            trees.Average(t => t.Count - t.Truth));
    }
}
