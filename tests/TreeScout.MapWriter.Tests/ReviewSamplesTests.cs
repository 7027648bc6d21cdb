using OpenCvSharp;
using TreeScout.Contracts;
using TreeScout.Labelling;
using TreeScout.MapWriter.Store;
using TreeScout.Messaging;

namespace TreeScout.MapWriter.Tests;

[Trait("Category", "Unit")]
public sealed class ReviewSamplesTests : IDisposable
{
    private const string Run = "20260421-091200-test-review";
    private static readonly DateTimeOffset T0 = new(2026, 4, 21, 9, 12, 0, TimeSpan.Zero);
    private static readonly LabelledBox[] OneBox = [new(10, 20, 40, 20, BbchStage.Bbch65, BoxOrigin.Accepted, 0)];
    private readonly string _run = Directory.CreateTempSubdirectory("treescout-review-keep-").FullName;

    public void Dispose() => Directory.Delete(_run, recursive: true);

    private static byte[] Jpeg(int width = 64, int height = 48)
    {
        // Noise: a frame of some kilobytes, far more than a labels file, as a camera's frame is.
        using var image = new Mat(height, width, MatType.CV_8UC3);
        Cv2.Randu(image, new Scalar(0, 0, 0), new Scalar(255, 255, 255));
        return image.ImEncode(".jpg");
    }

    private static ReviewFrameSampled Message(long sequence, ReviewSampleReason reason, double uncertainty, byte[]? jpeg = null, int width = 64, int height = 48) => new()
    {
        MessageId = MessageIds.For(Run, "review", sequence),
        RunId = Run,
        FrameMessageId = MessageIds.For(Run, "frame", sequence),
        Sequence = sequence,
        CameraId = "cam-right",
        CapturedAtUtc = T0.AddSeconds(sequence),
        Width = width,
        Height = height,
        Jpeg = jpeg ?? Jpeg(),
        Detector = new ModelIdentity("blossom-detector", "3", "aa"),
        StageClassifier = new ModelIdentity("bbch-stage", "2", "bb"),
        Detections = [new BlossomDetection { X = 10, Y = 20, W = 40, H = 20, Score = 0.5f, Stage = BbchStage.Bbch65, StageProbabilities = [0, 0, 1, 0, 0] }],
        Reason = reason,
        Uncertainty = uncertainty,
        WindowFrames = 4,
    };

    private ReviewKeepResult Keep(ReviewFolder folder, ReviewFrameSampled message, long budgetBytes = long.MaxValue) =>
        ReviewSamples.Keep(folder, ReviewSamples.ToSample(message, "B7", []), message.Jpeg, message.WindowFrames, budgetBytes);

    private static string Id(long sequence) => SampleId.Of("cam-right", sequence);

    [Fact]
    public void Each_window_ends_with_its_most_uncertain_frame_whatever_order_and_replicas_sent_them_in()
    {
        // What detection sends for the frames of ReviewSamplerTests (N 5, W 4, floor 0.3), plus window 1's 0.5 frame from a
        // second replica that had not seen the 0.7 one, and a redelivery.
        var folder = new ReviewFolder(_run);
        var outcomes = new[]
        {
            Keep(folder, Message(0, ReviewSampleReason.EveryNth, 0.9)).Outcome,
            Keep(folder, Message(4, ReviewSampleReason.Uncertain, 0.4)).Outcome,
            Keep(folder, Message(5, ReviewSampleReason.EveryNth, 0.1)).Outcome,
            Keep(folder, Message(6, ReviewSampleReason.Uncertain, 0.7)).Outcome,
            Keep(folder, Message(7, ReviewSampleReason.Uncertain, 0.5)).Outcome,
            Keep(folder, Message(6, ReviewSampleReason.Uncertain, 0.7)).Outcome,
            Keep(folder, Message(2, ReviewSampleReason.Uncertain, 0.6)).Outcome,
            Keep(folder, Message(10, ReviewSampleReason.EveryNth, 0.25)).Outcome,
        };

        Assert.Equal([ReviewKeep.Kept, ReviewKeep.Kept, ReviewKeep.Kept, ReviewKeep.Kept, ReviewKeep.LessUncertain, ReviewKeep.AlreadyKept, ReviewKeep.LessUncertain, ReviewKeep.Kept], outcomes);
        Assert.Equal([Id(0), Id(5), Id(6), Id(10)], folder.SampleIds());
        var six = folder.Sample(Id(6))!;
        Assert.Equal((SampleReason.Uncertain, 0.7, "B7", 64, 48), (six.Reason, six.Uncertainty, six.BlockId, six.Width, six.Height));
        Assert.Equal([new ProposedBox(10, 20, 40, 20, 0.5f, BbchStage.Bbch65)], six.Proposals);
    }

    [Fact]
    public void A_less_uncertain_frame_a_reviewer_saved_is_not_replaced()
    {
        var folder = new ReviewFolder(_run);
        Keep(folder, Message(4, ReviewSampleReason.Uncertain, 0.4));
        folder.SaveLabels(Id(4), ReviewStatus.Labelled, OneBox, "anna", 0, false, T0);

        var result = Keep(folder, Message(6, ReviewSampleReason.Uncertain, 0.7));

        Assert.Equal((ReviewKeep.Kept, 0), (result.Outcome, result.Replaced.Count));
        Assert.Equal([Id(4), Id(6)], folder.SampleIds());
    }

    [Fact]
    public void Over_budget_prunes_in_order_until_the_frame_fits_and_drops_it_when_only_unprunable_frames_are_left()
    {
        var folder = new ReviewFolder(_run);
        Keep(folder, Message(0, ReviewSampleReason.EveryNth, 0.1));
        Keep(folder, Message(5, ReviewSampleReason.EveryNth, 0.1));
        Keep(folder, Message(9, ReviewSampleReason.Uncertain, 0.8));
        Keep(folder, Message(10, ReviewSampleReason.EveryNth, 0.1));
        Keep(folder, Message(15, ReviewSampleReason.EveryNth, 0.1));
        folder.SaveLabels(Id(0), ReviewStatus.Labelled, OneBox, "anna", 0, false, T0); // labelled, not exported: kept
        folder.SaveLabels(Id(10), ReviewStatus.Skipped, [], "anna", 0, false, T0); // skipped: goes first
        var frame = folder.SampleDiskBytes(Id(5));
        var budget = folder.DiskBytes() + (frame / 2);

        var first = Keep(folder, Message(20, ReviewSampleReason.EveryNth, 0.1), budget);
        Assert.Equal(ReviewKeep.Kept, first.Outcome);
        Assert.Equal([Id(10)], first.Pruned);
        var second = Keep(folder, Message(25, ReviewSampleReason.EveryNth, 0.1), budget);
        Assert.Equal(ReviewKeep.Kept, second.Outcome);
        Assert.Equal([Id(5)], second.Pruned);
        var prunable = new[] { 15L, 20, 25 }.Sum(s => folder.SampleDiskBytes(Id(s)));
        var third = Keep(folder, Message(30, ReviewSampleReason.EveryNth, 0.1), folder.DiskBytes() - prunable + (frame / 2));
        Assert.Equal((ReviewKeep.OverBudget, 0), (third.Outcome, third.Pruned.Count));
        Assert.Equal([Id(0), Id(9), Id(15), Id(20), Id(25)], folder.SampleIds());
    }

    [Fact]
    public void A_frame_learns_the_trees_whose_clusters_its_camera_saw_in_it()
    {
        TreeFrames[] frames =
        [
            new("cam-right", 3, 8, "R01-T002"), new("cam-right", 6, 6, "R01-T001"), new("cam-right", 7, 12, "R01-T003"),
            new("cam-left", 0, 20, "R02-T009"), new("cam-right", 5, 9, "R01-T002"),
        ];
        Assert.Equal(["R01-T001", "R01-T002"], ReviewSamples.TreesIn(frames, "cam-right", 6));
        Assert.Equal(["R01-T002", "R01-T003"], ReviewSamples.TreesIn(frames, "cam-right", 8));
        Assert.Empty(ReviewSamples.TreesIn(frames, "cam-right", 13));
        Assert.Equal(["R02-T009"], ReviewSamples.TreesIn(frames, "cam-left", 6));

        var folder = new ReviewFolder(_run);
        Keep(folder, Message(6, ReviewSampleReason.Uncertain, 0.5));
        Keep(folder, Message(13, ReviewSampleReason.Uncertain, 0.5));
        Assert.Equal(1, ReviewSamples.FillTreeIds(folder, frames));
        Assert.Equal(0, ReviewSamples.FillTreeIds(folder, frames));
        Assert.Equal(["R01-T001", "R01-T002"], folder.Sample(Id(6))!.TreeIds);
        Assert.Empty(folder.Sample(Id(13))!.TreeIds);
    }

    private static ReviewFramePose Pose(long sequence, double latitude = 51.9, string camera = "cam-right") => new()
    {
        MessageId = Guid.NewGuid(),
        RunId = "20260421-091200-noord-3-a1b2",
        CameraId = camera,
        Sequence = sequence,
        Latitude = latitude,
        Longitude = 5.6,
        HeadingDeg = 92.5,
        PositionSigmaM = 0.02,
        Quality = GnssQuality.RtkFixed,
    };

    [Fact]
    public void A_kept_frame_gets_fusions_pose_and_keeps_its_trees_while_a_frame_not_kept_is_left_alone()
    {
        var folder = new ReviewFolder(_run);
        Keep(folder, Message(6, ReviewSampleReason.Uncertain, 0.5));
        ReviewSamples.FillTreeIds(folder, [new("cam-right", 3, 8, "R01-T002")]);

        Assert.True(ReviewSamples.SetPose(folder, Pose(6)));
        Assert.False(ReviewSamples.SetPose(folder, Pose(6)));  // a redelivery changes nothing
        Assert.False(ReviewSamples.SetPose(folder, Pose(7)));  // not kept (not sampled, replaced, dropped or pruned)

        var sample = folder.Sample(Id(6))!;
        Assert.Equal(new FramePose(51.9, 5.6, 92.5, GnssQuality.RtkFixed, 0.02, null), sample.Pose);
        Assert.Equal(["R01-T002"], sample.TreeIds);
        Assert.Null(folder.Sample(Id(7)));
        Assert.Contains("is not a pose", Assert.Throws<MalformedMessageException>(() => ReviewSamples.SetPose(folder, Pose(6, latitude: 95))).Message);
        Assert.Contains("makes no sample id", Assert.Throws<MalformedMessageException>(() => ReviewSamples.SetPose(folder, Pose(6, camera: "../x"))).Message);
    }

    public static TheoryData<string, string> Malformed => new()
    {
        { "no image", "no image" },
        { "png", "image is not a JPEG" },
        { "cut", "not a decodable JPEG" },
        { "size", "image is 64x48, the message says 80x48" },
        { "box", "detection 1: box (50,20 40x20) is outside the 64x48 frame" },
        { "camera", "makes no sample id" },
        { "uncertainty", "uncertainty 1.5 is not within 0..1" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void A_message_that_cannot_be_kept_is_named_with_its_problem(string fault, string expected)
    {
        var good = Message(1, ReviewSampleReason.Uncertain, 0.5);
        var jpeg = Jpeg();
        var message = fault switch
        {
            "no image" => good with { Jpeg = [] },
            "png" => good with { Jpeg = new Mat(48, 64, MatType.CV_8UC3).ImEncode(".png") },
            "cut" => good with { Jpeg = jpeg[..(jpeg.Length / 2)] },
            "size" => good with { Width = 80 },
            "box" => good with { Detections = [good.Detections[0] with { X = 50 }] },
            "camera" => good with { CameraId = "cam/../x" },
            "uncertainty" => good with { Uncertainty = 1.5 },
            _ => throw new ArgumentOutOfRangeException(nameof(fault)),
        };
        Assert.Null(ReviewSamples.Problem(good));
        Assert.Contains(expected, ReviewSamples.Problem(message));
    }
}
