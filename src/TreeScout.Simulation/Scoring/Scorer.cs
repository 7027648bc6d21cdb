using TreeScout.Contracts;

namespace TreeScout.Simulation.Scoring;

/// <summary>Tolerances of the scorer (docs/simulator.md, "Scorer").</summary>
public sealed record ScoreOptions
{
    /// <summary>An observation can be a true cluster only within this horizontal distance, metres.</summary>
    public double ClusterHorizontalToleranceM { get; init; } = 0.35;

    /// <summary>... and within this height difference (when the observation has a height), metres.</summary>
    public double ClusterHeightToleranceM { get; init; } = 0.35;

    /// <summary>A result tree without a matching id matches the nearest true tree within this share of the tree spacing.</summary>
    public double TreeToleranceFraction { get; init; } = 0.5;

    /// <summary>Also score the counts calibrated on this many hand-counted trees (picked by the `calibrate --suggest` rule, counted by the truth).</summary>
    public int? CalibrateWith { get; init; }
}

/// <summary>Median and 95th percentile (linear interpolation between order statistics) of a set of errors; null when empty.</summary>
public sealed record ErrorStats(int Count, double? Median, double? P95, double? Mean);

public sealed record TreeScore(
    int TrueTrees,
    int Found,
    int Missed,
    int Extra,
    int FoundById,
    int FoundByPosition,
    ErrorStats PositionErrorM,
    string CountTruth,
    double CountMae,
    double? CountMapePercent,
    double CountBias,
    IReadOnlyList<string> MissedIds,
    IReadOnlyList<string> ExtraIds);

public sealed record ClusterScore(
    int VisibleTrue,
    int Observations,
    int MatchedVisible,
    int MatchedHidden,
    int FalsePositives,
    int AttributedCorrectly,
    double AttributionShare,
    double Recall,
    int LowConfidenceObservations,
    int LowConfidenceMatched,
    int LowConfidenceAttributedCorrectly,
    ErrorStats HorizontalErrorM,
    ErrorStats HeightErrorM,
    CauseBreakdown FalsePositiveCauses,
    CauseBreakdown MatchedHiddenCauses);

public sealed record StageScore(
    IReadOnlyList<string> Stages,
    IReadOnlyList<IReadOnlyList<int>> Confusion,
    int Compared,
    double? Accuracy,
    double? WithinOneStage,
    IReadOnlyDictionary<string, int> TrueVisibleByStage,
    IReadOnlyDictionary<string, int> ReportedByStage);

/// <summary>A run scored against the simulator's truth.</summary>
public sealed record Score(ScoreOptions Options, TreeScore Trees, ClusterScore Clusters, StageScore Stages, CountScore Counts);

/// <summary>
/// Compares a run's result with the ground truth: trees found/missed/extra and their position error, per-tree count
/// error against the clusters visible from the scanned faces, one-to-one matching of observations to true clusters
/// (greedy by distance within the tolerances, visible clusters before hidden ones) for attribution, position error and per-stage confusion.
/// </summary>
public static class Scorer
{
    public static Score Compute(GroundTruth truth, RunResult result, ScoreOptions? options = null)
    {
        options ??= new ScoreOptions();
        var first = truth.Trees.Count > 0 ? truth.Trees[0] : throw new InvalidDataException("truth has no trees");
        var plane = new LocalTangentPlane(first.Latitude, first.Longitude);
        var trees = ScoreTrees(truth, result, options, plane, out var match);
        return new Score(options, trees, ScoreClusters(truth, result, options, plane, match, out var pairs), ScoreStages(truth, result, pairs),
            CountScorer.Score(truth, result, match, plane, options.CalibrateWith));
    }

    /// <param name="matched">Each found true tree's result tree (by id, else by position), for attributing clusters.</param>
    private static TreeScore ScoreTrees(GroundTruth truth, RunResult result, ScoreOptions options, LocalTangentPlane plane, out Dictionary<string, ResultTree> matched)
    {
        var present = truth.Trees.Where(t => t.Present).ToList();
        var byId = present.ToDictionary(t => t.TreeId, StringComparer.Ordinal);
        var match = matched = new Dictionary<string, ResultTree>(StringComparer.Ordinal);
        var unmatched = new List<ResultTree>();
        var tolerance = options.TreeToleranceFraction * truth.TreeSpacingM;
        foreach (var tree in result.Trees)
        {
            // A run without a plan numbers its own trees: the same id is the same tree only where it stands.
            if (byId.TryGetValue(tree.TreeId, out var named) && !match.ContainsKey(tree.TreeId)
                && Distance(plane, tree.Latitude, tree.Longitude, named.Latitude, named.Longitude) <= tolerance)
            {
                match[tree.TreeId] = tree;
            }
            else
            {
                unmatched.Add(tree);
            }
        }
        var foundById = match.Count;
        // Trees the run named differently (no plan, inferred trees): nearest free true tree within tolerance, closest pairs first.
        var candidates = new List<(double Distance, ResultTree Result, TruthTree Truth)>();
        foreach (var r in unmatched)
        {
            foreach (var t in present.Where(t => !match.ContainsKey(t.TreeId)))
            {
                var d = Distance(plane, r.Latitude, r.Longitude, t.Latitude, t.Longitude);
                if (d <= tolerance)
                {
                    candidates.Add((d, r, t));
                }
            }
        }
        var usedResults = new HashSet<ResultTree>(ReferenceEqualityComparer.Instance);
        foreach (var (_, r, t) in candidates.OrderBy(c => c.Distance).ThenBy(c => c.Result.TreeId, StringComparer.Ordinal).ThenBy(c => c.Truth.TreeId, StringComparer.Ordinal))
        {
            if (!match.ContainsKey(t.TreeId) && usedResults.Add(r))
            {
                match[t.TreeId] = r;
            }
        }
        var extra = unmatched.Where(r => !usedResults.Contains(r) && r.ClustersTotal > 0).Select(r => r.TreeId).Order(StringComparer.Ordinal).ToList();
        var missed = present.Where(t => !match.ContainsKey(t.TreeId)).Select(t => t.TreeId).ToList();
        var positionErrors = present.Where(t => match.ContainsKey(t.TreeId))
            .Select(t => Distance(plane, match[t.TreeId].Latitude, match[t.TreeId].Longitude, t.Latitude, t.Longitude)).ToList();
        // Count error over every standing tree; a missed tree reported nothing (0). Against what the scanned faces show,
        // or, for a run that scanned rows from both sides, against the whole tree: both sides together show most of it.
        var wholeTree = truth.BothSides.Count > 0;
        var errors = present.Select(t =>
        {
            var truthCount = wholeTree ? t.ClustersTotal : t.VisibleTotal;
            return (Error: (match.TryGetValue(t.TreeId, out var r) ? r.ClustersTotal : 0) - truthCount, Truth: truthCount);
        }).ToList();
        var withTruth = errors.Where(e => e.Truth > 0).ToList();
        return new TreeScore(
            present.Count,
            match.Count,
            missed.Count,
            extra.Count,
            foundById,
            match.Count - foundById,
            Stats(positionErrors),
            wholeTree ? "whole-tree" : "visible",
            errors.Count == 0 ? 0 : errors.Average(e => Math.Abs(e.Error)),
            withTruth.Count == 0 ? null : 100 * withTruth.Average(e => Math.Abs(e.Error) / (double)e.Truth),
            errors.Count == 0 ? 0 : errors.Average(e => (double)e.Error),
            missed,
            extra);
    }

    private static ClusterScore ScoreClusters(GroundTruth truth, RunResult result, ScoreOptions options, LocalTangentPlane plane, Dictionary<string, ResultTree> treeOf, out List<(ResultObservation Observation, TruthCluster Cluster)> pairs)
    {
        var present = truth.Trees.Where(t => t.Present).Select(t => t.TreeId).ToHashSet(StringComparer.Ordinal);
        var clusters = truth.Clusters.Where(c => present.Contains(c.TreeId)).ToList();
        // Spatial hash on a grid of the tolerance: candidates are in the 3x3 neighbouring cells.
        var cell = options.ClusterHorizontalToleranceM;
        var grid = new Dictionary<(long, long), List<(TruthCluster Cluster, double E, double N)>>();
        foreach (var c in clusters)
        {
            var (e, n) = plane.ToLocal(c.Latitude, c.Longitude);
            var key = ((long)Math.Floor(e / cell), (long)Math.Floor(n / cell));
            if (!grid.TryGetValue(key, out var list))
            {
                grid[key] = list = [];
            }
            list.Add((c, e, n));
        }
        var candidates = new List<(double Cost, ResultObservation Observation, TruthCluster Cluster, double Horizontal, double? Height)>();
        foreach (var o in result.Observations)
        {
            var (e, n) = plane.ToLocal(o.Latitude, o.Longitude);
            var (cx, cy) = ((long)Math.Floor(e / cell), (long)Math.Floor(n / cell));
            for (var dx = -1; dx <= 1; dx++)
            {
                for (var dy = -1; dy <= 1; dy++)
                {
                    if (!grid.TryGetValue((cx + dx, cy + dy), out var list))
                    {
                        continue;
                    }
                    foreach (var (c, ce, cn) in list)
                    {
                        var h = Math.Sqrt((e - ce) * (e - ce) + (n - cn) * (n - cn));
                        double? dh = o.HeightM is { } height ? Math.Abs(height - c.HeightM) : null;
                        if (h <= options.ClusterHorizontalToleranceM && (dh is null || dh <= options.ClusterHeightToleranceM))
                        {
                            candidates.Add((Math.Sqrt(h * h + (dh ?? 0) * (dh ?? 0)), o, c, h, dh));
                        }
                    }
                }
            }
        }
        pairs = [];
        var horizontal = new List<double>();
        var heights = new List<double>();
        var usedObservations = new HashSet<string>(StringComparer.Ordinal);
        var usedClusters = new HashSet<string>(StringComparer.Ordinal);
        // Visible clusters are matched first: a hidden cluster may take an observation only when no visible one can, so a
        // hidden cluster a few centimetres from a visible one (clusters touch) cannot cost it its match (ADR 0022).
        var ordered = candidates.OrderBy(c => c.Cluster.Visible ? 0 : 1).ThenBy(c => c.Cost)
            .ThenBy(c => c.Observation.ObservationId, StringComparer.Ordinal).ThenBy(c => c.Cluster.ClusterId, StringComparer.Ordinal);
        foreach (var c in ordered)
        {
            if (usedObservations.Contains(c.Observation.ObservationId) || usedClusters.Contains(c.Cluster.ClusterId))
            {
                continue;
            }
            usedObservations.Add(c.Observation.ObservationId);
            usedClusters.Add(c.Cluster.ClusterId);
            pairs.Add((c.Observation, c.Cluster));
            horizontal.Add(c.Horizontal);
            if (c.Height is { } dh)
            {
                heights.Add(dh);
            }
        }
        var visible = clusters.Count(c => c.Visible);
        var matchedVisible = pairs.Where(p => p.Cluster.Visible).ToList();
        // The right tree is the one the run reports for the cluster's true tree (its plan id, or the inferred tree standing there).
        bool OnItsTree((ResultObservation Observation, TruthCluster Cluster) p) =>
            p.Observation.TreeId is { } id && treeOf.TryGetValue(p.Cluster.TreeId, out var tree) && tree.TreeId == id;
        var correct = matchedVisible.Count(p => !p.Observation.LowConfidence && OnItsTree(p));
        var low = result.Observations.Where(o => o.LowConfidence).ToList();
        var lowMatched = pairs.Where(p => p.Observation.LowConfidence).ToList();
        // What the observations that are not a visible cluster's own match were sightings of (ObservationCauses).
        var causes = new ObservationCauses(truth, plane, options, treeOf, result.Observations);
        var matchedBy = pairs.ToDictionary(p => p.Cluster.ClusterId, p => p.Observation.ObservationId, StringComparer.Ordinal);
        var falsePositives = result.Observations.Where(o => !usedObservations.Contains(o.ObservationId)).Select(o => causes.Classify(o, matchedBy)).ToList();
        var hidden = pairs.Where(p => !p.Cluster.Visible).Select(p => causes.Classify(p.Observation, matchedBy)).ToList();
        return new ClusterScore(
            visible,
            result.Observations.Count,
            matchedVisible.Count,
            pairs.Count - matchedVisible.Count,
            result.Observations.Count - pairs.Count,
            correct,
            visible == 0 ? 0 : (double)correct / visible,
            visible == 0 ? 0 : (double)matchedVisible.Count / visible,
            low.Count,
            lowMatched.Count,
            lowMatched.Count(OnItsTree),
            Stats(horizontal),
            Stats(heights),
            CauseBreakdown.Of(falsePositives),
            CauseBreakdown.Of(hidden));
    }

    private static StageScore ScoreStages(GroundTruth truth, RunResult result, List<(ResultObservation Observation, TruthCluster Cluster)> pairs)
    {
        var n = BbchStages.Count;
        var confusion = new int[n][];
        for (var i = 0; i < n; i++)
        {
            confusion[i] = new int[n];
        }
        var compared = 0;
        var exact = 0;
        var withinOne = 0;
        foreach (var (o, c) in pairs)
        {
            if (o.Stage is not { } stage)
            {
                continue;
            }
            var t = BbchStages.IndexOf(c.Stage);
            var p = BbchStages.IndexOf(stage);
            confusion[t][p]++;
            compared++;
            exact += t == p ? 1 : 0;
            withinOne += Math.Abs(t - p) <= 1 ? 1 : 0;
        }
        var labels = BbchStages.Ordered.Select(BbchStages.Label).ToList();
        var trueByStage = labels.ToDictionary(l => l, l => truth.Trees.Where(t => t.Present).Sum(t => t.VisibleByStage.GetValueOrDefault(l)));
        var reportedByStage = BbchStages.Ordered.ToDictionary(BbchStages.Label, s => result.Trees.Sum(t => t.ClustersByStage.GetValueOrDefault(s)));
        return new StageScore(
            labels,
            confusion,
            compared,
            compared == 0 ? null : (double)exact / compared,
            compared == 0 ? null : (double)withinOne / compared,
            trueByStage,
            reportedByStage);
    }

    private static double Distance(LocalTangentPlane plane, double lat1, double lon1, double lat2, double lon2)
    {
        var (e1, n1) = plane.ToLocal(lat1, lon1);
        var (e2, n2) = plane.ToLocal(lat2, lon2);
        return Math.Sqrt((e1 - e2) * (e1 - e2) + (n1 - n2) * (n1 - n2));
    }

    /// <summary>Median and p95 by linear interpolation between order statistics (numpy's default), and the mean.</summary>
    public static ErrorStats Stats(IReadOnlyCollection<double> values)
    {
        if (values.Count == 0)
        {
            return new ErrorStats(0, null, null, null);
        }
        var sorted = values.Order().ToArray();
        return new ErrorStats(sorted.Length, Percentile(sorted, 0.5), Percentile(sorted, 0.95), sorted.Average());
    }

    public static double Percentile(double[] sorted, double q)
    {
        var position = (sorted.Length - 1) * q;
        var lo = (int)Math.Floor(position);
        var hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (position - lo) * (sorted[hi] - sorted[lo]);
    }
}
