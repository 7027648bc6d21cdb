using System.Globalization;
using System.Text;
using TreeScout.Contracts;
using TreeScout.Fusion.Bench;

namespace TreeScout.Fusion.Tests;

/// <summary>
/// Fusion output against a synthetic scene's truth: every true cluster that was detected in two or more frames should be
/// reported once, on its tree. Observations are traced to their cluster through the detection that started the track.
/// </summary>
public sealed record SceneScore(
    string Name,
    int ObservableClusters,
    int Reported,
    int OnCorrectTree,
    int OnCorrectTreeConfident,
    int LowConfidence,
    int Duplicates,
    int FalseObservations,
    double PositionErrorP50M,
    double PositionErrorP95M,
    double TreeCountMeanAbsError)
{
    public double CorrectTreeRate => ObservableClusters == 0 ? 0 : (double)OnCorrectTree / ObservableClusters;

    public double ReportedRate => ObservableClusters == 0 ? 0 : (double)Reported / ObservableClusters;

    public double LowConfidenceRate => Reported == 0 ? 0 : (double)LowConfidence / Reported;

    public static SceneScore Of(string name, SyntheticScene scene, IReadOnlyList<BlossomClusterObservation> observations)
    {
        var origin = new Dictionary<Guid, int>();
        var sightings = new Dictionary<int, int>();
        foreach (var frame in scene.Frames)
        {
            for (var d = 0; d < frame.Detections.Count; d++)
            {
                var cluster = scene.DetectionTruth[(frame.MessageId, d)];
                origin[MessageIds.Derive(frame.MessageId, $"cluster/{d}")] = cluster;
                if (cluster >= 0)
                {
                    sightings[cluster] = sightings.GetValueOrDefault(cluster) + 1;
                }
            }
        }
        var observable = scene.Clusters.Where(c => sightings.GetValueOrDefault(c.Id) >= 2).ToDictionary(c => c.Id);
        var byCluster = observations.GroupBy(o => origin.GetValueOrDefault(o.ObservationId, -1)).ToDictionary(g => g.Key, g => g.ToList());
        int reported = 0, correct = 0, confident = 0, duplicates = 0;
        var errors = new List<double>();
        foreach (var (id, cluster) in observable)
        {
            if (!byCluster.TryGetValue(id, out var list))
            {
                continue;
            }
            reported++;
            duplicates += list.Count - 1;
            var first = list[0];
            if (first.TreeId == cluster.TreeId)
            {
                correct++;
                if (!first.LowConfidence)
                {
                    confident++;
                }
            }
            var (e, n) = scene.Projection.ToUtm(first.Latitude, first.Longitude);
            errors.Add(Math.Sqrt((e - cluster.Easting) * (e - cluster.Easting) + (n - cluster.Northing) * (n - cluster.Northing)));
        }
        var falseObservations = observations.Count(o => !observable.ContainsKey(origin.GetValueOrDefault(o.ObservationId, -1)));
        errors.Sort();
        var trueCounts = scene.Clusters.Where(c => observable.ContainsKey(c.Id)).GroupBy(c => c.TreeId).ToDictionary(g => g.Key, g => g.Count());
        var reportedCounts = observations.Where(o => o.TreeId is not null).GroupBy(o => o.TreeId!).ToDictionary(g => g.Key, g => g.Count());
        var treeIds = scene.Plan.Trees.Select(t => t.Id).Where(t => trueCounts.ContainsKey(t) || reportedCounts.ContainsKey(t)).ToList();
        var countError = treeIds.Count == 0 ? 0 : treeIds.Average(t => Math.Abs(trueCounts.GetValueOrDefault(t) - reportedCounts.GetValueOrDefault(t)));
        return new SceneScore(name, observable.Count, reported, correct, confident, observations.Count(o => o.LowConfidence), duplicates, falseObservations,
            Percentile(errors, 0.5), Percentile(errors, 0.95), countError);
    }

    private static double Percentile(List<double> sorted, double p) => sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];

    public static string Table(IEnumerable<SceneScore> scores)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| scene | true clusters | reported | correct tree | correct & confident | low-confidence | duplicates | false obs. | error p50 | error p95 | tree count MAE |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var s in scores)
        {
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {s.Name} | {s.ObservableClusters} | {s.ReportedRate:P1} | {s.CorrectTreeRate:P1} | {(double)s.OnCorrectTreeConfident / Math.Max(1, s.ObservableClusters):P1} | {s.LowConfidenceRate:P1} | {s.Duplicates} | {s.FalseObservations} | {s.PositionErrorP50M:F3} m | {s.PositionErrorP95M:F3} m | {s.TreeCountMeanAbsError:F2} |"));
        }
        return sb.ToString();
    }
}
