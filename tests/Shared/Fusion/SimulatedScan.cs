using TreeScout.Contracts;
using TreeScout.Fusion.Attribution;
using TreeScout.Fusion.Gnss;
using TreeScout.Fusion.Tracking;
using TreeScout.Orchard;
using TreeScout.Simulation;

namespace TreeScout.Tests;

/// <summary>
/// How the truth boxes are turned into "detections" to isolate fusion from the detector: centre jitter, misses (always
/// for boxes mostly hidden), a few false boxes per frame, stage probabilities peaked on the true stage.
/// </summary>
public sealed record DetectionNoise
{
    public double JitterPx { get; init; } = 2.0;

    public double MissRate { get; init; } = 0.05;

    /// <summary>Boxes with less of the cluster visible than this are not detected.</summary>
    public double MinVisibleFraction { get; init; } = 0.3;

    public double FalseBoxesPerFrame { get; init; } = 0.3;

    public int Seed { get; init; } = 7;

    public static DetectionNoise Realistic { get; } = new();
}

/// <summary>A simulated scan (the simulator's recording and truth) as the messages fusion consumes, with where each detection came from.</summary>
public sealed class SimulatedScan
{
    public required string RunId { get; init; }

    public required GroundTruth Truth { get; init; }

    public required RunStarted Started { get; init; }

    public required IReadOnlyList<GnssFix> Fixes { get; init; }

    public required IReadOnlyList<FrameDetections> Frames { get; init; }

    public required RunStopped Stopped { get; init; }

    /// <summary>True cluster id of each detection (null for a false box), keyed by the id fusion derives for a track starting there.</summary>
    public required IReadOnlyDictionary<Guid, string?> TrackOrigins { get; init; }

    /// <summary>Simulates into <paramref name="directory"/> and builds the messages.</summary>
    public static SimulatedScan Create(SimulationOptions options, string directory, DetectionNoise noise, string runId)
    {
        ScanSimulator.Run(options, directory, replace: true);
        return FromRecording(new Recording(directory), noise, runId);
    }

    public static SimulatedScan FromRecording(Recording recording, DetectionNoise noise, string runId)
    {
        var truth = GroundTruth.Load(recording.PathOf(Recording.TruthJsonFile));
        var cameras = recording.ReadCameras().Cameras;
        var plan = recording.ReadBlockPlan();
        var (fixes, _) = NmeaReplay.Read(recording, runId);
        var random = new Random(noise.Seed);
        var frames = new List<FrameDetections>();
        var origins = new Dictionary<Guid, string?>();
        foreach (var frame in truth.Frames.OrderBy(f => f.HostTimeUtc).ThenBy(f => f.CameraId, StringComparer.Ordinal))
        {
            var camera = cameras.First(c => c.CameraId == frame.CameraId);
            var detections = new List<BlossomDetection>();
            var sources = new List<string?>();
            foreach (var box in frame.Boxes)
            {
                if (box.VisibleFraction < noise.MinVisibleFraction || random.NextDouble() < noise.MissRate)
                {
                    continue;
                }
                detections.Add(Detection(box.X + random.Gaussian() * noise.JitterPx, box.Y + random.Gaussian() * noise.JitterPx, box.W, box.H, box.Stage, random));
                sources.Add(box.ClusterId);
            }
            var falseBoxes = Poisson(random, noise.FalseBoxesPerFrame);
            for (var k = 0; k < falseBoxes; k++)
            {
                var size = 15 + random.NextDouble() * 40;
                detections.Add(Detection(random.NextDouble() * (camera.ImageWidth - size), random.NextDouble() * (camera.ImageHeight - size), size, size, BbchStage.Bbch65, random));
                sources.Add(null);
            }
            var frameId = MessageIds.For(runId, $"frame/{frame.CameraId}", frame.Sequence);
            var message = new FrameDetections
            {
                MessageId = MessageIds.Derive(frameId, "detections"),
                RunId = runId,
                FrameMessageId = frameId,
                Sequence = frame.Sequence,
                CameraId = frame.CameraId,
                CapturedAtUtc = frame.HostTimeUtc,
                MonotonicNs = 0,
                Width = camera.ImageWidth,
                Height = camera.ImageHeight,
                Detector = new ModelIdentity("simulator-truth", "1", "-"),
                StageClassifier = new ModelIdentity("simulator-truth-stage", "1", "-"),
                Detections = detections,
                Orientation = new OrientationCheck { AppliedRotationDeg = camera.MountRotationDeg },
            };
            for (var d = 0; d < detections.Count; d++)
            {
                origins[ClusterTrack.IdFor(message.MessageId, d)] = sources[d];
            }
            frames.Add(message);
        }
        var started = new RunStarted
        {
            MessageId = MessageIds.For(runId, "run-started", 0),
            RunId = runId,
            StartedAtUtc = truth.Frames.Count > 0 ? truth.Frames.Min(f => f.HostTimeUtc) : DateTimeOffset.UtcNow,
            Block = truth.Block,
            BlockPlanGeoJson = plan?.ToGeoJson(),
            TreeSpacingM = truth.TreeSpacingM,
            RowSpacingM = truth.RowSpacingM,
            Cameras = cameras,
            Source = $"replay:{Path.GetFileName(recording.Directory)}",
        };
        var stopped = new RunStopped
        {
            MessageId = MessageIds.For(runId, "run-stopped", 0),
            RunId = runId,
            StoppedAtUtc = started.StartedAtUtc,
            FramesPublished = frames.Count,
            GnssFixesPublished = fixes.Count,
            Reason = "end-of-recording",
        };
        return new SimulatedScan
        {
            RunId = runId,
            Truth = truth,
            Started = started,
            Fixes = fixes,
            Frames = frames,
            Stopped = stopped,
            TrackOrigins = origins,
        };
    }

    /// <summary>The scene's block plan as fusion maps it (rows and trees in the block's UTM zone).</summary>
    public (PlanRowMap Rows, UtmProjection Projection) PlanRows()
    {
        var plan = BlockPlan.Parse(Started.BlockPlanGeoJson!, $"block plan of {RunId}");
        var projection = plan.Projection();
        return (new PlanRowMap(plan, projection, Started.TreeSpacingM, Started.RowSpacingM), projection);
    }

    /// <summary>The order messages reach fusion on a tractor: fixes when the host read them, frames a detection latency after capture.</summary>
    public IEnumerable<IMessage> ArrivalOrder(TimeSpan detectionLatency)
    {
        var data = Fixes.Select(f => (At: f.ReceivedAtUtc, Message: (IMessage)f))
            .Concat(Frames.Select(f => (At: f.CapturedAtUtc + detectionLatency, Message: (IMessage)f)))
            .OrderBy(x => x.At)
            .Select(x => x.Message);
        return [Started, .. data, Stopped];
    }

    private static BlossomDetection Detection(double x, double y, double w, double h, BbchStage stage, Random random)
    {
        var probabilities = new float[BbchStages.Count];
        var index = BbchStages.IndexOf(stage);
        probabilities[index] = 0.7f;
        probabilities[Math.Max(0, index - 1)] += 0.15f;
        probabilities[Math.Min(BbchStages.Count - 1, index + 1)] += 0.15f;
        return new BlossomDetection
        {
            X = (float)x,
            Y = (float)y,
            W = (float)w,
            H = (float)h,
            Score = (float)(0.5 + random.NextDouble() * 0.5),
            Stage = stage,
            StageProbabilities = probabilities,
        };
    }

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
