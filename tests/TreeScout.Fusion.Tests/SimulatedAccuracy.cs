using System.Globalization;
using System.Text;
using TreeScout.Contracts;
using TreeScout.Fusion.Geometry;
using TreeScout.Simulation;
using TreeScout.Simulation.Scoring;
using TreeScout.Tests;

namespace TreeScout.Fusion.Tests;

/// <summary>One simulated scenario fused and scored by the simulator's scorer, plus fusion's own trace-based counts.</summary>
public sealed record ScenarioResult(string Name, SimulatedScan Scan, FusionOutput Output, Score Score)
{
    /// <summary>Observations whose track started on a detection of a true cluster that already started another reported track: double counts, but also identity switches at a track's start.</summary>
    public int DuplicateTracks => Output.Observations
        .Select(o => Scan.TrackOrigins.GetValueOrDefault(o.ObservationId))
        .Where(c => c is not null)
        .GroupBy(c => c)
        .Sum(g => g.Count() - 1);

    /// <summary>Share of confident observations that name a tree other than that of the cluster their track started on: silent garbage (overstated by identity switches at track start).</summary>
    public double ConfidentWrongShare
    {
        get
        {
            var treeOf = Scan.Truth.Clusters.ToDictionary(c => c.ClusterId, c => c.TreeId);
            var confident = ConfidentWithOrigin().ToList();
            return confident.Count == 0 ? 0 : (double)confident.Count(x => x.TreeId != treeOf[x.Cluster]) / confident.Count;
        }
    }

    /// <summary>Share of visible clusters with a confident observation, from a track that started on that cluster, on its own tree (by identity, not by position).</summary>
    public double RightTreeShare
    {
        get
        {
            var visible = Scan.Truth.Clusters.Where(c => c.Visible).ToDictionary(c => c.ClusterId, c => c.TreeId);
            var found = ConfidentWithOrigin()
                .Where(x => visible.TryGetValue(x.Cluster, out var tree) && tree == x.TreeId)
                .Select(x => x.Cluster)
                .Distinct()
                .Count();
            return (double)found / visible.Count;
        }
    }

    /// <summary>Confident observations with a tree, and the true cluster their track started on (tracks started on a false box left out).</summary>
    private IEnumerable<(string TreeId, string Cluster)> ConfidentWithOrigin() => Output.Observations
        .Where(o => !o.LowConfidence && o.TreeId is not null)
        .Select(o => (TreeId: o.TreeId!, Cluster: Scan.TrackOrigins.GetValueOrDefault(o.ObservationId)))
        .Where(x => x.Cluster is not null)
        .Select(x => (x.TreeId, x.Cluster!));

    public static string Table(IEnumerable<ScenarioResult> results)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| scenario | visible clusters | observations | attributed (correct tree, confident) | recall | false pos. | low-confidence | duplicates | cluster error p50 / p95 | tree count MAE | frames fused / without pose | clock offset |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in results)
        {
            var c = r.Score.Clusters;
            var f = r.Output.Fused;
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Name} | {c.VisibleTrue} | {c.Observations} | {c.AttributionShare:P1} | {c.Recall:P1} | {c.FalsePositives} | {c.LowConfidenceObservations} | {r.DuplicateTracks} | {c.HorizontalErrorM.Median:F3} / {c.HorizontalErrorM.P95:F3} m | {r.Score.Trees.CountMae:F2} | {f.FramesFused} / {f.FramesWithoutPose} | {f.ClockOffsetMs:F0} ms (true {r.Scan.Truth.Clock.HostOffsetMs:F0}) |"));
        }
        return sb.ToString();
    }

    /// <summary>
    /// What the map writer would report: observations as they are, trees at their planned positions with the counts
    /// attributed to them; without a plan, the inferred trees at the centroid of their clusters (as the map writer places them).
    /// </summary>
    public static RunResult ResultOf(GroundTruth truth, IReadOnlyList<BlossomClusterObservation> observations, bool fromPlan = true)
    {
        var results = observations.Select(o => new ResultObservation(o.ObservationId.ToString(), o.TreeId, o.Latitude, o.Longitude, o.HeightM, o.LowConfidence, o.Stage)).ToList();
        return fromPlan ? ResultOf(truth, results) : new RunResult([.. observations.Where(o => o.TreeId is not null && !o.LowConfidence).GroupBy(o => o.TreeId!)
            .Select(g => new ResultTree(g.Key, g.First().RowId, g.Average(o => o.Latitude), g.Average(o => o.Longitude), g.Count(),
                g.GroupBy(o => o.Stage).ToDictionary(s => s.Key, s => s.Count())))], results);
    }

    private static RunResult ResultOf(GroundTruth truth, List<ResultObservation> observations)
    {
        var byTree = observations.Where(o => o.TreeId is not null && !o.LowConfidence).GroupBy(o => o.TreeId!).ToDictionary(g => g.Key, g => g.ToList());
        var trees = truth.Trees.Select(t =>
        {
            var list = byTree.GetValueOrDefault(t.TreeId) ?? [];
            return new ResultTree(t.TreeId, t.RowId, t.PlanLatitude, t.PlanLongitude, list.Count,
                list.GroupBy(o => o.Stage!.Value).ToDictionary(g => g.Key, g => g.Count()));
        }).ToList();
        return new RunResult(trees, observations);
    }

    /// <summary>
    /// The score of a perfect fusion with this run's fixes: every visible cluster reported once, confidently, at its true
    /// position moved by the receiver's error at the frame that showed it largest, on the plan's tree nearest that
    /// position. Detection, tracking, heading and triangulation are perfect; only the GNSS error the run's receiver made
    /// remains, so this is what GNSS alone allows, the reference for what fusion achieves.
    /// </summary>
    public (Score Score, double RightTreeShare) GnssOnlyReference => _reference ??= ReferenceOf(Scan);

    private (Score, double)? _reference;

    private static (Score Score, double RightTreeShare) ReferenceOf(SimulatedScan scan)
    {
        var truth = scan.Truth;
        var (rows, projection) = scan.PlanRows();
        var bestSeen = new Dictionary<string, (int Area, DateTimeOffset Time)>();
        foreach (var frame in truth.Frames)
        {
            foreach (var box in frame.Boxes)
            {
                if (!bestSeen.TryGetValue(box.ClusterId, out var seen) || box.W * box.H > seen.Area)
                {
                    bestSeen[box.ClusterId] = (box.W * box.H, frame.GnssTimeUtc);
                }
            }
        }
        var fixes = truth.Gnss.OrderBy(f => f.TimeUtc).ToList();
        var observations = new List<ResultObservation>();
        foreach (var cluster in truth.Clusters.Where(c => c.Visible && bestSeen.ContainsKey(c.ClusterId)))
        {
            var time = bestSeen[cluster.ClusterId].Time;
            var fix = fixes.MinBy(f => (f.TimeUtc - time).Duration())!;
            var (e, n) = projection.ToUtm(cluster.Latitude, cluster.Longitude);
            var point = new Vec3(e + fix.ErrorEastM, n + fix.ErrorNorthM, cluster.HeightM);
            var tree = rows.Nearest(point) is { } placed ? rows.AssignTree(placed).TreeId : null;
            var (lat, lon) = projection.ToWgs84(point.X, point.Y);
            observations.Add(new ResultObservation(cluster.ClusterId, tree, lat, lon, cluster.HeightM, false, cluster.Stage));
        }
        var treeOf = truth.Clusters.ToDictionary(c => c.ClusterId, c => c.TreeId);
        var rightTree = (double)observations.Count(o => o.TreeId == treeOf[o.ObservationId]) / truth.Clusters.Count(c => c.Visible);
        return (Scorer.Compute(truth, ResultOf(truth, observations)), rightTree);
    }
}
