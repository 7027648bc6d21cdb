using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenCvSharp;
using TreeScout.Contracts;
using TreeScout.Hosting;
using TreeScout.Messaging;
using TreeScout.Tests;
using Xunit.Abstractions;

namespace TreeScout.Detection.Tests;

/// <summary>The Detection worker's module on the in-memory bus, with the committed models.</summary>
[Trait("Category", "Unit")]
public sealed class FrameDetectionHandlerTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string RunId = "20260421-091200-test-det";
    private readonly ConcurrentQueue<FrameDetections> _detections = new();
    private ILoggerFactory _logs = null!;
    private EmbeddedWorkers _workers = null!;
    private IMessageBus _feeder = null!;
    private IAsyncDisposable _listener = null!;
    private readonly ConcurrentQueue<ReviewFrameSampled> _samples = new();
    private IAsyncDisposable _reviewListener = null!;

    public async Task InitializeAsync()
    {
        _logs = LoggerFactory.Create(b => b.AddProvider(new TestOutputLoggerProvider(output)));
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Detection:DetectorCard"] = TestModels.DetectorCard,
            ["Detection:StageCard"] = TestModels.StageCard,
            ["Detection:IntraOpThreads"] = "1",
            ["Detection:OrientationWindow"] = "3",
        }).Build();
        _workers = await EmbeddedWorkers.StartAsync([new DetectionWorkerModule()], configuration, _logs, CancellationToken.None);
        _feeder = _workers.Connect("test-feeder", _logs);
        _listener = await _feeder.ListenAsync(Topology.DetectionsExchange, "#", envelope =>
        {
            _detections.Enqueue((FrameDetections)MessageCodec.Decode(envelope));
            return Task.CompletedTask;
        }, CancellationToken.None);
        _reviewListener = await _feeder.ListenAsync(Topology.ReviewExchange, "#", envelope =>
        {
            _samples.Enqueue((ReviewFrameSampled)MessageCodec.Decode(envelope));
            return Task.CompletedTask;
        }, CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _listener.DisposeAsync();
        await _reviewListener.DisposeAsync();
        await _feeder.DisposeAsync();
        await _workers.DisposeAsync();
        _logs.Dispose();
    }

    private IServiceProvider Detection => _workers.Services[WorkerRole.Detection];

    private static FrameCaptured Frame(long sequence, byte[] image, int width, int height, int mountRotation = 0, string camera = "cam-right") => new()
    {
        MessageId = MessageIds.For(RunId, "frame-" + camera, sequence),
        RunId = RunId,
        Sequence = sequence,
        CameraId = camera,
        CapturedAtUtc = new DateTimeOffset(2026, 4, 21, 9, 12, 0, TimeSpan.Zero).AddMilliseconds(sequence * 100),
        MonotonicNs = sequence * 100_000_000,
        Width = width,
        Height = height,
        MountRotationDeg = mountRotation,
        Jpeg = image,
    };

    /// <summary>Lossless PNG bytes, so that a rotation and its undoing give the detector the very same pixels.</summary>
    private static (byte[] Bytes, int Width, int Height) Encode(Mat image, string ext = ".png") => (image.ImEncode(ext), image.Cols, image.Rows);

    private async Task<FrameDetections> NextAsync(Guid frameId)
    {
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (DateTime.UtcNow < deadline)
        {
            var found = _detections.FirstOrDefault(d => d.FrameMessageId == frameId);
            if (found is not null)
            {
                return found;
            }
            await Task.Delay(20);
        }
        throw new TimeoutException($"no detections for frame {frameId}");
    }

    [Fact]
    public async Task Publishes_detections_with_both_models_identity_and_a_derived_id()
    {
        using var image = Cv2.ImRead(Path.Combine(RepoPaths.Samples, "detector-heldout", "frames", "0000.jpg"));
        var frame = Frame(0, File.ReadAllBytes(Path.Combine(RepoPaths.Samples, "detector-heldout", "frames", "0000.jpg")), image.Cols, image.Rows);
        await _feeder.PublishAsync(frame);
        var result = await NextAsync(frame.MessageId);

        Assert.Equal(MessageIds.Derive(frame.MessageId, "detections"), result.MessageId);
        Assert.Equal((RunId, 0L, "cam-right", 1280, 720), (result.RunId, result.Sequence, result.CameraId, result.Width, result.Height));
        using var detector = Models.VerifiedModel.Open(TestModels.DetectorCard, 1);
        using var stage = Models.VerifiedModel.Open(TestModels.StageCard, 1);
        Assert.Equal(detector.Identity, result.Detector);
        Assert.Equal(stage.Identity, result.StageClassifier);
        Assert.NotEmpty(result.Detections);
        foreach (var d in result.Detections)
        {
            Assert.InRange(d.X, 0, 1280);
            Assert.InRange(d.Y, 0, 720);
            Assert.InRange(d.X + d.W, 0, 1280.01f);
            Assert.InRange(d.Score, detector.Card.Threshold("score", 0), 1);
            Assert.Equal(BbchStages.Count, d.StageProbabilities.Length);
            Assert.Equal(1.0, d.StageProbabilities.Sum(), 3);
            Assert.Equal(BbchStages.Ordered[BlossomPipeline.ArgMax(d.StageProbabilities)], d.Stage);
        }
        var counters = Detection.GetRequiredService<WorkerCounters>();
        Assert.Equal(1, counters[FrameDetectionHandler.FramesDetected]);
        Assert.Equal(result.Detections.Count, counters[FrameDetectionHandler.ClustersDetected]);
    }

    [Fact]
    public async Task A_frame_kept_for_review_travels_upright_with_the_detections_its_boxes_are_and_a_decimated_one_never()
    {
        // The camera is turned a quarter clockwise: the sensor sees the frame turned a quarter the other way.
        using var upright = Cv2.ImRead(Path.Combine(RepoPaths.Samples, "detector-heldout", "frames", "0000.jpg"));
        using var sensor = new Mat();
        Cv2.Rotate(upright, sensor, RotateFlags.Rotate90Counterclockwise);
        var frame = Frame(100, sensor.ImEncode(".jpg"), sensor.Cols, sensor.Rows, mountRotation: 90);
        var decimated = Frame(150, [], sensor.Cols, sensor.Rows, mountRotation: 90) with { Decimated = true };
        await _feeder.PublishAsync(decimated);
        await _feeder.PublishAsync(frame);
        var decimatedResult = await NextAsync(decimated.MessageId);
        var result = await NextAsync(frame.MessageId);
        // Fusion sends the pose of a kept frame only.
        Assert.Equal((true, false), (result.KeptForReview, decimatedResult.KeptForReview));

        // Sequence 100 is every 50th (the default); the sample was published before the detections.
        var sample = Assert.Single(_samples);
        Assert.Equal((MessageIds.Derive(frame.MessageId, "review-sample"), frame.MessageId, 100L, ReviewSampleReason.EveryNth, 50),
            (sample.MessageId, sample.FrameMessageId, sample.Sequence, sample.Reason, sample.WindowFrames));
        Assert.Equal((1280, 720), (sample.Width, sample.Height));
        using var image = Cv2.ImDecode(sample.Jpeg, ImreadModes.Color);
        Assert.Equal((1280, 720), (image.Cols, image.Rows));
        Assert.Equal(result.Detections.Count, sample.Detections.Count);
        Assert.Equal(result.Detections.Select(d => (d.X, d.Y, d.W, d.H, d.Score, d.Stage)), sample.Detections.Select(d => (d.X, d.Y, d.W, d.H, d.Score, d.Stage)));
        Assert.InRange(sample.Uncertainty, 0, 1);
        Assert.Equal(1, Detection.GetRequiredService<WorkerCounters>()[FrameDetectionHandler.FramesSampledForReview]);
    }

    [Fact]
    public async Task A_decimated_frame_is_passed_on_as_decimated_without_inference()
    {
        var frame = Frame(3, [], 1280, 720, mountRotation: 90) with { Decimated = true };
        await _feeder.PublishAsync(frame);
        var result = await NextAsync(frame.MessageId);

        Assert.True(result.Decimated);
        Assert.Empty(result.Detections);
        Assert.Equal(MessageIds.Derive(frame.MessageId, "detections"), result.MessageId);
        // Sized as the upright frame would be: the camera is turned a quarter.
        Assert.Equal((3L, 720, 1280, 90), (result.Sequence, result.Width, result.Height, result.Orientation.AppliedRotationDeg));
        Assert.Null(result.Orientation.SuspectedRotationDeg);
        var counters = Detection.GetRequiredService<WorkerCounters>();
        Assert.Equal((1L, 0L, 0L), (counters[FrameDetectionHandler.FramesDecimated], counters[FrameDetectionHandler.FramesDetected], counters[FrameDetectionHandler.FramesUndecodable]));
    }

    [Fact]
    public async Task On_a_canopy_band_the_clusters_are_those_of_the_band_alone_placed_in_the_whole_frame()
    {
        using var image = Cv2.ImRead(Path.Combine(RepoPaths.Samples, "detector-heldout", "frames", "0000.jpg"));
        using var band = new Mat(image, new Rect(0, 200, image.Cols, 400));
        var (whole, w, h) = Encode(image);
        var (cropped, cw, ch) = Encode(band);
        var banded = Frame(10, whole, w, h) with { CanopyBand = new ImageRows(200, 600) };
        var alone = Frame(11, cropped, cw, ch);
        await _feeder.PublishAsync(banded);
        await _feeder.PublishAsync(alone);
        var a = await NextAsync(banded.MessageId);
        var b = await NextAsync(alone.MessageId);

        Assert.Equal((1280, 720), (a.Width, a.Height));
        Assert.NotEmpty(b.Detections);
        Assert.Equal(b.Detections.Select(d => (d.X, d.Y + 200, d.W, d.H, d.Score, d.Stage)), a.Detections.Select(d => (d.X, d.Y, d.W, d.H, d.Score, d.Stage)));
        Assert.All(a.Detections, d => Assert.InRange(d.Y, 200, 600));
    }

    [Fact]
    public async Task A_canopy_band_beyond_the_frame_is_dead_lettered_with_the_reason()
    {
        using var image = Cv2.ImRead(Path.Combine(RepoPaths.Samples, "detector-heldout", "frames", "0000.jpg"));
        var (bytes, w, h) = Encode(image, ".jpg");
        var frame = Frame(12, bytes, w, h) with { CanopyBand = new ImageRows(100, 900) };
        await _feeder.PublishAsync(frame);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (_workers.Broker.DeadLetters(Topology.DetectionFramesQueue).Count == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        var dead = Assert.Single(_workers.Broker.DeadLetters(Topology.DetectionFramesQueue));
        Assert.Equal($"frame 12 of run {RunId} (camera cam-right): canopy band rows 100..900 do not fit the upright frame's 720 rows", dead.Headers[WireHeaders.Error]);
    }

    [Fact]
    public async Task Undecodable_frame_is_dead_lettered_with_the_reason_and_counted()
    {
        var frame = Frame(7, [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 4, 5], 1280, 720);
        await _feeder.PublishAsync(frame);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (_workers.Broker.DeadLetters(Topology.DetectionFramesQueue).Count == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
        var dead = Assert.Single(_workers.Broker.DeadLetters(Topology.DetectionFramesQueue));
        Assert.Equal(frame.MessageId, dead.MessageId);
        Assert.Equal($"frame 7 of run {RunId} (camera cam-right): not a decodable JPEG (9 bytes, starts with FFD8FFE0)", dead.Headers[WireHeaders.Error]);
        Assert.Equal(1, Detection.GetRequiredService<WorkerCounters>()[FrameDetectionHandler.FramesUndecodable]);
        Assert.Empty(_detections);
    }

    [Fact]
    public async Task Frame_from_a_camera_mounted_upside_down_is_detected_upright_when_configured()
    {
        using var upright = Cv2.ImRead(Path.Combine(RepoPaths.Samples, "detector-heldout", "frames", "0001.jpg"));
        using var sensor = new Mat();
        Cv2.Rotate(upright, sensor, RotateFlags.Rotate180);
        var (uBytes, w, h) = Encode(upright);
        var (sBytes, _, _) = Encode(sensor);
        var reference = Frame(0, uBytes, w, h);
        var rotated = Frame(1, sBytes, w, h, mountRotation: 180);
        await _feeder.PublishAsync(reference);
        await _feeder.PublishAsync(rotated);
        var a = await NextAsync(reference.MessageId);
        var b = await NextAsync(rotated.MessageId);

        Assert.Equal(180, b.Orientation.AppliedRotationDeg);
        Assert.Equal((w, h), (b.Width, b.Height));
        Assert.NotEmpty(a.Detections);
        // Same pixels after undoing the rotation: the same clusters, in upright coordinates.
        Assert.Equal(a.Detections.Select(d => (d.X, d.Y, d.W, d.H, d.Stage)), b.Detections.Select(d => (d.X, d.Y, d.W, d.H, d.Stage)));
    }

    [Fact]
    public async Task Upside_down_camera_configured_as_upright_raises_a_warning_naming_the_camera()
    {
        using var photo = Cv2.ImRead(RepoPaths.SharedData("orchard-frames", "Tree_9_East_b.png"));
        using var sensor = new Mat();
        Cv2.Rotate(photo, sensor, RotateFlags.Rotate180);
        var (bytes, w, h) = Encode(sensor, ".jpg");
        var frames = Enumerable.Range(0, 3).Select(i => Frame(i, bytes, w, h, mountRotation: 0, camera: "cam-left")).ToList();
        foreach (var f in frames)
        {
            await _feeder.PublishAsync(f);
        }
        var last = await NextAsync(frames[^1].MessageId);

        Assert.Equal(0, last.Orientation.AppliedRotationDeg);
        Assert.Equal(180, last.Orientation.SuspectedRotationDeg);
        Assert.InRange(last.Orientation.Confidence, 0.5, 1.0);
        var warning = Assert.Single(Detection.GetRequiredService<WorkerWarnings>().Snapshot());
        Assert.StartsWith("camera cam-left looks rotated by 180° from its configured mounting (mountRotationDeg 0;", warning, StringComparison.Ordinal);
        Assert.EndsWith("set its mountRotationDeg to 180", warning, StringComparison.Ordinal);
    }
}
