using TreeScout.Contracts;
using TreeScout.Orchard;

namespace TreeScout.MapWriter.Tests;

/// <summary>
/// A deterministic scan run of a synthetic block (rows at a bearing, one curved row, seeded cluster counts and stages,
/// some low-confidence clusters): the messages fusion would send the map writer, and the per-tree counts they imply.
/// Shared by the MapWriter tests, the crash host and the benchmark (linked source), so all three replay the same run.
/// </summary>
internal sealed class SyntheticRun
{
    public const double TreeSpacingM = 1.0;
    public const double RowSpacingM = 3.5;

    public SyntheticRun(string runId, int rows, int treesPerRow, int seed = 7, int batchSize = 40, string variety = "Gala", double lowConfidenceShare = 0.05, (int Min, int Max)? clustersPerTree = null)
    {
        RunId = runId;
        var rng = new Random(seed);
        var origin = (Lat: 47.6123, Lon: 9.5871);
        var utm = UtmProjection.For(origin.Lat, origin.Lon);
        var (e0, n0) = utm.ToUtm(origin.Lat, origin.Lon);
        var bearing = 20 * Math.PI / 180; // rows run NNE
        var along = (E: Math.Sin(bearing), N: Math.Cos(bearing));
        var across = (E: Math.Cos(bearing), N: -Math.Sin(bearing));
        var rowList = new List<Row>();
        var trees = new List<Tree>();
        for (var r = 1; r <= rows; r++)
        {
            var line = new List<(double, double)>();
            for (var i = 1; i <= treesPerRow; i++)
            {
                // The last row bends (a curved headland row): 0.2 m sideways per 10 m, quadratically.
                var s = (i - 1) * TreeSpacingM;
                var bend = r == rows && rows > 1 ? 0.002 * s * s / 10 : 0;
                var e = e0 + (along.E * s) + (across.E * (((r - 1) * RowSpacingM) + bend));
                var n = n0 + (along.N * s) + (across.N * (((r - 1) * RowSpacingM) + bend));
                var (lat, lon) = utm.ToWgs84(e, n);
                trees.Add(new Tree(BlockPlan.TreeId(r, i), BlockPlan.RowId(r), i, lat, lon));
                line.Add((lat, lon));
            }
            // The row line runs one spacing past its last tree (a row is a line even with a single tree).
            var endS = treesPerRow * TreeSpacingM;
            var endBend = r == rows && rows > 1 ? 0.002 * endS * endS / 10 : 0;
            line.Add(utm.ToWgs84(e0 + (along.E * endS) + (across.E * (((r - 1) * RowSpacingM) + endBend)), n0 + (along.N * endS) + (across.N * (((r - 1) * RowSpacingM) + endBend))));
            rowList.Add(new Row(BlockPlan.RowId(r), line));
        }
        Plan = new BlockPlan("Synthetic block", rowList, trees, TreeSpacingM, RowSpacingM, variety);

        var runGuid = MessageIds.For(runId, "run", 0);
        var observations = new List<BlossomClusterObservation>();
        var observedAt = new DateTimeOffset(2026, 4, 21, 9, 0, 0, TimeSpan.Zero);
        long frame = 0;
        foreach (var tree in trees)
        {
            var clusters = rng.Next(clustersPerTree?.Min ?? 40, clustersPerTree?.Max ?? 260);
            var (te, tn) = utm.ToUtm(tree.Latitude, tree.Longitude);
            for (var k = 0; k < clusters; k++)
            {
                var stageIndex = Math.Clamp(6 + (int)Math.Round(Gaussian(rng) * 1.1), 0, BbchStages.Count - 1);
                var stage = BbchStages.Ordered[stageIndex];
                var low = rng.NextDouble() < lowConfidenceShare;
                var (lat, lon) = utm.ToWgs84(te + ((rng.NextDouble() - 0.5) * 0.8), tn + ((rng.NextDouble() - 0.5) * 0.8));
                var probabilities = new float[BbchStages.Count];
                probabilities[stageIndex] = 0.8f;
                var first = frame + rng.Next(0, 4);
                var seen = rng.Next(1, 6);
                observations.Add(new BlossomClusterObservation
                {
                    ObservationId = MessageIds.Derive(runGuid, $"obs/{tree.Id}/{k}"),
                    TreeId = low && rng.NextDouble() < 0.5 ? null : tree.Id,
                    RowId = tree.RowId,
                    Latitude = lat,
                    Longitude = lon,
                    HeightM = 0.8 + (rng.NextDouble() * 2.2),
                    AlongRowM = ((tree.Index - 1) * TreeSpacingM) + ((rng.NextDouble() - 0.5) * 0.8),
                    PositionSigmaM = low ? 0.9 : 0.05,
                    LowConfidence = low,
                    LowConfidenceReason = low ? "sigma above half the tree spacing" : null,
                    Stage = stage,
                    StageProbabilities = probabilities,
                    Score = (float)(0.5 + (rng.NextDouble() * 0.5)),
                    FramesSeen = seen,
                    FirstFrameSequence = first,
                    LastFrameSequence = first + seen - 1,
                    CameraId = "cam-right",
                    GnssQuality = low ? GnssQuality.RtkFloat : GnssQuality.RtkFixed,
                    ObservedAtUtc = observedAt.AddMilliseconds(frame * 100),
                });
                if (!low && observations[^1].TreeId is not null)
                {
                    ExpectedClusters[tree.Id] = ExpectedClusters.GetValueOrDefault(tree.Id) + 1;
                    ExpectedPerStage[stage] = ExpectedPerStage.GetValueOrDefault(stage) + 1;
                }
            }
            frame += 10;
        }
        Observations = observations;
        Batches = observations.Chunk(batchSize).Select((chunk, i) => new TreeObservations
        {
            MessageId = MessageIds.For(runId, "observations", i),
            RunId = runId,
            Observations = chunk,
        }).ToList();
        Started = new RunStarted
        {
            MessageId = MessageIds.For(runId, "run-started", 0),
            RunId = runId,
            StartedAtUtc = observedAt,
            Block = Plan.Name,
            Variety = variety,
            BlockPlanGeoJson = Plan.ToGeoJson(),
            TreeSpacingM = TreeSpacingM,
            RowSpacingM = RowSpacingM,
            Cameras = [],
            Source = "replay:synthetic",
        };
        Fused = new RunFused
        {
            MessageId = MessageIds.For(runId, "run-fused", 0),
            RunId = runId,
            ObservationsPublished = observations.Count,
            FramesFused = frame,
            FramesWithoutPose = 0,
            FramesMissing = 0,
            Gnss = new GnssQualitySummary(frame, 0, 0, 0, 0, 0),
            Models = [new ModelIdentity("blossom-detector", "test", "0000")],
        };
    }

    public string RunId { get; }

    public BlockPlan Plan { get; }

    public RunStarted Started { get; }

    public IReadOnlyList<BlossomClusterObservation> Observations { get; }

    public IReadOnlyList<TreeObservations> Batches { get; }

    public RunFused Fused { get; }

    /// <summary>Confident clusters per tree: what the store's clusters_total must say.</summary>
    public Dictionary<string, int> ExpectedClusters { get; } = new(StringComparer.Ordinal);

    public Dictionary<BbchStage, int> ExpectedPerStage { get; } = [];

    private static double Gaussian(Random rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
