using TreeScout.Contracts;
using TreeScout.Fusion.Geometry;
using TreeScout.Orchard;

namespace TreeScout.Fusion.Bench;

/// <summary>GNSS error model of a scene: white noise per fix plus a slowly wandering bias (random walk, bounded).</summary>
public sealed record GnssErrorModel(GnssQuality Quality, double WhiteSigmaM, double BiasSigmaM, double ReportedSigmaM)
{
    public static GnssErrorModel RtkFixed { get; } = new(GnssQuality.RtkFixed, 0.01, 0.01, 0.02);

    public static GnssErrorModel RtkFloat { get; } = new(GnssQuality.RtkFloat, 0.03, 0.12, 0.2);

    public static GnssErrorModel Dgps { get; } = new(GnssQuality.Dgps, 0.1, 0.5, 0.7);

    public static GnssErrorModel Autonomous { get; } = new(GnssQuality.Autonomous, 0.2, 1.5, 2.5);
}

/// <summary>What a scene looks like and how it is driven.</summary>
public sealed record SceneSpec
{
    public int Rows { get; init; } = 2;

    public int TreesPerRow { get; init; } = 15;

    public double TreeSpacingM { get; init; } = 1.0;

    public double RowSpacingM { get; init; } = 4.0;

    public int ClustersPerTree { get; init; } = 8;

    /// <summary>Sideways sway of curved rows (0 = straight), metres, over <see cref="CurvePeriodM"/>.</summary>
    public double CurveAmplitudeM { get; init; }

    public double CurvePeriodM { get; init; } = 40;

    /// <summary>Tree indices (1-based, every row) that are planted in the plan but dead (no clusters).</summary>
    public IReadOnlyList<int> MissingTrees { get; init; } = [];

    public double SpeedMps { get; init; } = 1.5;

    public double FramesPerSecond { get; init; } = 10;

    public double FixesPerSecond { get; init; } = 10;

    public GnssErrorModel Gnss { get; init; } = GnssErrorModel.RtkFixed;

    /// <summary>Camera host clock minus GNSS time.</summary>
    public TimeSpan ClockOffset { get; init; } = TimeSpan.FromMilliseconds(180);

    public TimeSpan ReceiverLatency { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>GNSS outage (no fixes) from this many seconds into the drive, for <see cref="OutageLength"/>.</summary>
    public double? OutageAtS { get; init; }

    public TimeSpan OutageLength { get; init; } = TimeSpan.FromSeconds(4);

    public double BoxJitterPx { get; init; } = 2;

    public double MissRate { get; init; } = 0.05;

    /// <summary>Random false boxes per frame (expected count).</summary>
    public double FalsePositivesPerFrame { get; init; } = 0.3;

    /// <summary>Drive the row a second time in the other direction (a U-turn at the headland) with the other camera side.</summary>
    public bool ReturnPass { get; init; }

    public int Seed { get; init; } = 1;

    /// <summary>Cap detections per frame (for throughput runs: dense canopies give ~100).</summary>
    public int MaxDetectionsPerFrame { get; init; } = 1000;
}

/// <summary>A blossom cluster of the scene and the tree it hangs on.</summary>
public sealed record TrueCluster(int Id, string TreeId, string RowId, double Easting, double Northing, double HeightM);

/// <summary>One detection with the true cluster it shows (−1 for a false box).</summary>
public sealed record TrueDetection(int FrameIndex, int DetectionIndex, int ClusterId);

/// <summary>A generated run: the messages fusion consumes and the ground truth to score its output against.</summary>
public sealed class SyntheticScene
{
    public required RunStarted Started { get; init; }

    public required IReadOnlyList<GnssFix> Fixes { get; init; }

    public required IReadOnlyList<FrameDetections> Frames { get; init; }

    public required RunStopped Stopped { get; init; }

    public required IReadOnlyList<TrueCluster> Clusters { get; init; }

    public required IReadOnlyDictionary<(Guid Frame, int Detection), int> DetectionTruth { get; init; }

    public required BlockPlan Plan { get; init; }

    public required UtmProjection Projection { get; init; }
}

/// <summary>
/// A small orchard built to known geometry: rows (straight or curved), trees, clusters in the canopy, a tractor driving
/// between two rows at constant speed, cameras per docs/recording-format.md, fixes with a chosen error model, frames with
/// the visible clusters projected to boxes (jitter, misses, false boxes). Ground truth for fusion's unit and accuracy tests.
/// </summary>
public static class SyntheticOrchard
{
    private const double OriginLat = 49.5, OriginLon = 8.3;

    public static IReadOnlyList<CameraMounting> Cameras { get; } =
    [
        new() { CameraId = "cam-right", Side = CameraSide.Right, LeverArm = new LeverArm(-0.5, 0.4, -1.3), AntennaHeightM = 2.9, YawDeg = 90, PitchDeg = 5,
            ImageWidth = 1280, ImageHeight = 720, Fx = 900, Fy = 900, Cx = 640, Cy = 360 },
        new() { CameraId = "cam-left", Side = CameraSide.Left, LeverArm = new LeverArm(-0.5, -0.4, -1.3), AntennaHeightM = 2.9, YawDeg = -90, PitchDeg = 5,
            ImageWidth = 1280, ImageHeight = 720, Fx = 900, Fy = 900, Cx = 640, Cy = 360 },
    ];

    public static SyntheticScene Generate(SceneSpec spec, string runId)
    {
        var random = new Random(spec.Seed);
        var projection = UtmProjection.For(OriginLat, OriginLon);
        var (e0, n0) = projection.ToUtm(OriginLat, OriginLon);
        var rowLength = spec.TreesPerRow * spec.TreeSpacingM;
        double RowEast(int row, double along) => e0 + row * spec.RowSpacingM + spec.CurveAmplitudeM * Math.Sin(2 * Math.PI * along / spec.CurvePeriodM);

        var rows = new List<Row>();
        var trees = new List<Tree>();
        var clusters = new List<TrueCluster>();
        for (var r = 0; r < spec.Rows; r++)
        {
            var rowId = BlockPlan.RowId(r + 1);
            var line = new List<(double, double)>();
            for (var a = -1.0; a <= rowLength + 1.0001; a += 0.5)
            {
                line.Add(projection.ToWgs84(RowEast(r, a), n0 + a));
            }
            rows.Add(new Row(rowId, line));
            for (var t = 1; t <= spec.TreesPerRow; t++)
            {
                var along = (t - 0.5) * spec.TreeSpacingM;
                var (lat, lon) = projection.ToWgs84(RowEast(r, along), n0 + along);
                var treeId = BlockPlan.TreeId(r + 1, t);
                trees.Add(new Tree(treeId, rowId, t, lat, lon));
                if (spec.MissingTrees.Contains(t))
                {
                    continue;
                }
                for (var c = 0; c < spec.ClustersPerTree; c++)
                {
                    var ca = along + (random.NextDouble() - 0.5) * 0.7 * spec.TreeSpacingM;
                    var lateral = (random.NextDouble() - 0.5) * 0.8;
                    var heading = Math.Atan2(RowEast(r, ca + 0.1) - RowEast(r, ca - 0.1), 0.2);
                    clusters.Add(new TrueCluster(clusters.Count, treeId, rowId,
                        RowEast(r, ca) + lateral * Math.Cos(heading), n0 + ca - lateral * Math.Sin(heading), 0.9 + random.NextDouble() * 1.6));
                }
            }
        }
        var plan = new BlockPlan("synthetic", rows, trees, spec.TreeSpacingM, spec.RowSpacingM, "Gala");

        // The tractor drives north between rows 1 and 2 (then back south when asked), starting before the row.
        var start = new DateTimeOffset(2026, 4, 21, 9, 0, 0, TimeSpan.Zero);
        var pathStart = -3.0;
        var pathEnd = rowLength + 3.0;
        var passSeconds = (pathEnd - pathStart) / spec.SpeedMps;
        var turnSeconds = spec.ReturnPass ? 12.0 : 0;
        var total = passSeconds * (spec.ReturnPass ? 2 : 1) + turnSeconds;
        (double E, double N) Position(double t)
        {
            double along, side = 0;
            if (t <= passSeconds)
            {
                along = pathStart + spec.SpeedMps * t;
            }
            else if (t <= passSeconds + turnSeconds)
            {
                // Headland U-turn into the next alley (one row spacing east), half a circle.
                var f = (t - passSeconds) / turnSeconds;
                var radius = spec.RowSpacingM / 2;
                along = pathEnd + radius * Math.Sin(Math.PI * f);
                side = radius - radius * Math.Cos(Math.PI * f);
            }
            else
            {
                along = pathEnd - spec.SpeedMps * (t - passSeconds - turnSeconds);
                side = spec.RowSpacingM;
            }
            return (RowEast(0, along) + spec.RowSpacingM / 2 + side, n0 + along);
        }
        (double E, double N, double Heading) Truth(double t)
        {
            var (e, n) = Position(t);
            var (e1, n1) = Position(t - 0.02);
            var (e2, n2) = Position(t + 0.02);
            return (e, n, Angles.Azimuth(e2 - e1, n2 - n1));
        }

        var fixes = new List<GnssFix>();
        double biasE = 0, biasN = 0;
        var fixInterval = 1 / spec.FixesPerSecond;
        for (var i = 0; i * fixInterval <= total + 1; i++)
        {
            var t = i * fixInterval;
            biasE = Math.Clamp(biasE + Gaussian(random) * spec.Gnss.BiasSigmaM * 0.05, -2 * spec.Gnss.BiasSigmaM, 2 * spec.Gnss.BiasSigmaM);
            biasN = Math.Clamp(biasN + Gaussian(random) * spec.Gnss.BiasSigmaM * 0.05, -2 * spec.Gnss.BiasSigmaM, 2 * spec.Gnss.BiasSigmaM);
            if (spec.OutageAtS is { } outage && t >= outage && t < outage + spec.OutageLength.TotalSeconds)
            {
                continue;
            }
            var (e, n, _) = Truth(t);
            var (lat, lon) = projection.ToWgs84(e + biasE + Gaussian(random) * spec.Gnss.WhiteSigmaM, n + biasN + Gaussian(random) * spec.Gnss.WhiteSigmaM);
            var time = start.AddSeconds(t);
            fixes.Add(new GnssFix
            {
                MessageId = MessageIds.For(runId, "fix", fixes.Count),
                RunId = runId,
                Sequence = fixes.Count,
                TimeUtc = time,
                ReceivedAtUtc = time + spec.ClockOffset + spec.ReceiverLatency + TimeSpan.FromMilliseconds(random.NextDouble() * 20),
                Latitude = lat,
                Longitude = lon,
                AltitudeM = 120,
                Mode = 3,
                Quality = spec.Gnss.Quality,
                HorizontalSigmaM = spec.Gnss.ReportedSigmaM,
            });
        }

        var frames = new List<FrameDetections>();
        var truth = new Dictionary<(Guid, int), int>();
        var models = Cameras.Select(c => new CameraModel(c)).ToList();
        var frameInterval = 1 / spec.FramesPerSecond;
        var sequences = new long[models.Count];
        for (var f = 0; f * frameInterval <= total; f++)
        {
            var t = f * frameInterval + 0.013;
            var (e, n, heading) = Truth(t);
            var pose = new Pose(start.AddSeconds(t), e, n, heading, 0, 0, spec.SpeedMps, spec.Gnss.Quality, null);
            for (var c = 0; c < models.Count; c++)
            {
                var model = models[c];
                var detections = new List<BlossomDetection>();
                var ids = new List<int>();
                foreach (var cluster in clusters)
                {
                    var (u, v, depth) = model.Project(pose, new Vec3(cluster.Easting, cluster.Northing, cluster.HeightM));
                    if (depth <= 0.3 || depth > 6 || !model.InImage(u, v, -10) || random.NextDouble() < spec.MissRate)
                    {
                        continue;
                    }
                    var size = 900 * 0.08 / depth;
                    detections.Add(Box(u + Gaussian(random) * spec.BoxJitterPx, v + Gaussian(random) * spec.BoxJitterPx, size, random));
                    ids.Add(cluster.Id);
                }
                var falseBoxes = Poisson(random, spec.FalsePositivesPerFrame);
                for (var k = 0; k < falseBoxes; k++)
                {
                    detections.Add(Box(random.NextDouble() * 1280, random.NextDouble() * 720, 30, random));
                    ids.Add(-1);
                }
                if (detections.Count > spec.MaxDetectionsPerFrame)
                {
                    detections.RemoveRange(spec.MaxDetectionsPerFrame, detections.Count - spec.MaxDetectionsPerFrame);
                }
                var sequence = sequences[c]++;
                var frameId = MessageIds.For(runId, $"frame/{model.Mounting.CameraId}", sequence);
                var message = new FrameDetections
                {
                    MessageId = MessageIds.Derive(frameId, "detections"),
                    RunId = runId,
                    FrameMessageId = frameId,
                    Sequence = sequence,
                    CameraId = model.Mounting.CameraId,
                    CapturedAtUtc = pose.TimeUtc + spec.ClockOffset,
                    MonotonicNs = (long)(t * 1e9),
                    Width = 1280,
                    Height = 720,
                    Detector = new ModelIdentity("synthetic", "1", "none"),
                    StageClassifier = new ModelIdentity("synthetic", "1", "none"),
                    Detections = detections,
                    Orientation = new OrientationCheck { AppliedRotationDeg = 0 },
                };
                for (var d = 0; d < detections.Count; d++)
                {
                    truth[(message.MessageId, d)] = ids[d];
                }
                frames.Add(message);
            }
        }

        var started = new RunStarted
        {
            MessageId = MessageIds.For(runId, "run-started", 0),
            RunId = runId,
            StartedAtUtc = start,
            Block = "synthetic",
            Variety = "Gala",
            BlockPlanGeoJson = plan.ToGeoJson(),
            TreeSpacingM = spec.TreeSpacingM,
            RowSpacingM = spec.RowSpacingM,
            Cameras = Cameras,
            Source = "synthetic",
        };
        var stopped = new RunStopped
        {
            MessageId = MessageIds.For(runId, "run-stopped", 0),
            RunId = runId,
            StoppedAtUtc = start.AddSeconds(total),
            FramesPublished = frames.Count,
            Reason = "end-of-recording",
        };
        return new SyntheticScene
        {
            Started = started,
            Fixes = fixes,
            Frames = frames,
            Stopped = stopped,
            Clusters = clusters,
            DetectionTruth = truth,
            Plan = plan,
            Projection = projection,
        };
    }

    private static BlossomDetection Box(double u, double v, double size, Random random)
    {
        var probabilities = new float[BbchStages.Count];
        probabilities[6] = 0.8f;
        probabilities[5] = 0.2f;
        return new BlossomDetection
        {
            X = (float)(u - size / 2),
            Y = (float)(v - size / 2),
            W = (float)size,
            H = (float)size,
            Score = (float)(0.5 + random.NextDouble() * 0.5),
            Stage = BbchStage.Bbch65,
            StageProbabilities = probabilities,
        };
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    private static int Poisson(Random random, double mean)
    {
        var limit = Math.Exp(-mean);
        var k = 0;
        var p = random.NextDouble();
        while (p > limit)
        {
            k++;
            p *= random.NextDouble();
        }
        return k;
    }
}
