using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using OpenCvSharp;
using TreeScout.Capture;
using TreeScout.Cli.Scanning;
using TreeScout.Detection;
using TreeScout.Simulation;
using TreeScout.Detection.Models;
using TreeScout.Labelling;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Exports;
using TreeScout.MapWriter.Store;
using TreeScout.Orchard;
using TreeScout.Tests;
using Xunit;

namespace TreeScout.Pipeline.Tests;

/// <summary>`treescout scan` keeps frames for review in the run folder (docs/labelling.md): which, with what, and their trees.</summary>
[Collection(ScanCollection.Name)]
[Trait("Category", "Unit")]
public sealed class ReviewSampleScanTests(ScanFixture scan)
{
    private const int EveryNth = 10;
    private const int Window = 10;

    [Fact]
    public async Task The_run_folder_keeps_every_nth_frame_and_windows_most_uncertain_upright_with_their_detections_and_trees()
    {
        // Whole frames (no canopy band), so that the proposals can be checked against the detector on the stored image.
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Detection:ReviewEveryNth"] = EveryNth.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Detection:ReviewWindowFrames"] = Window.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["FramePlan:CanopyBand"] = "false",
        }).Build();
        var outDirectory = Path.Combine(scan.Root, "review-samples");
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        var result = await new ScanPipeline(configuration, NullLoggerFactory.Instance, TextWriter.Null)
            .RunEmbeddedAsync(new ScanRequest(scan.Recording, outDirectory, ReplayPace.AsFastAsAccepted), deadline.Token);

        var frames = new Recording(scan.Recording).ReadFrames().Count();
        var review = new ReviewFolder(outDirectory);
        var samples = review.SampleIds().Select(id => review.Sample(id)!).ToList();
        var everyNth = samples.Where(s => s.Reason == SampleReason.EveryNth).Select(s => s.Sequence).ToList();
        Assert.Equal(Enumerable.Range(0, (frames + EveryNth - 1) / EveryNth).Select(i => (long)i * EveryNth), everyNth);
        foreach (var window in samples.Where(s => s.Reason == SampleReason.Uncertain).GroupBy(s => s.Sequence / Window))
        {
            // One per window, at least the floor, more uncertain than the window's every-Nth frame.
            var uncertain = Assert.Single(window);
            Assert.InRange(uncertain.Uncertainty, new DetectionOptions().ReviewUncertaintyFloor, 1);
            Assert.All(samples.Where(s => s.Sequence / Window == window.Key && s.Reason == SampleReason.EveryNth), s => Assert.True(s.Uncertainty < uncertain.Uncertainty));
        }

        // The models the scan ran: the shipped ones at the default precision.
        var precision = new DetectionOptions().Precision;
        using var pipeline = BlossomPipeline.Open(new DetectionOptions
        {
            DetectorCard = Path.Combine(RepoPaths.Models, Path.GetFileName(ModelPrecision.ShippedCard("blossom-detector", precision))),
            StageCard = Path.Combine(RepoPaths.Models, Path.GetFileName(ModelPrecision.ShippedCard("bbch-stage", precision))),
        });
        var truth = GroundTruth.Load(Path.Combine(scan.Recording, "truth.json"));
        using var store = RunStore.OpenReadOnly(Path.Combine(outDirectory, RunFolder.StoreFileName));
        var treeFrames = store.ReadTreeFrames();
        var block = store.ReadMetadata()[RunMetadataKeys.Block];
        Assert.NotNull(block);
        foreach (var sample in samples)
        {
            Assert.Equal((result.RunId, block), (sample.RunId, sample.BlockId));
            using var image = Cv2.ImRead(review.ImagePath(sample.Id), ImreadModes.Color);
            Assert.Equal((ScanFixture.Options.ImageWidth, ScanFixture.Options.ImageHeight), (image.Cols, image.Rows));
            Assert.Equal((image.Cols, image.Rows), (sample.Width, sample.Height));
            var detections = pipeline.Analyze(image).Detections;
            Assert.Equal(detections.Count, sample.Proposals.Count);
            for (var i = 0; i < detections.Count; i++)
            {
                var (d, p) = (detections[i], sample.Proposals[i]);
                Assert.Equal((d.X, d.Y, d.W, d.H, d.Score), (p.X, p.Y, p.W, p.H, p.Score), (a, b) => Math.Abs(a.X - b.X) + Math.Abs(a.Y - b.Y) + Math.Abs(a.W - b.W) + Math.Abs(a.H - b.H) < 0.01 && Math.Abs(a.Score - b.Score) < 1e-4);
                Assert.Equal(d.Stage, p.Stage);
            }
            Assert.Equal(ReviewSamples.TreesIn(treeFrames, sample.CameraId, sample.Sequence), sample.TreeIds);
            // Fusion's pose of the antenna at the frame's time: within RTK's error of the true one, heading along the row.
            var pose = Assert.IsType<FramePose>(sample.Pose);
            var truePose = truth.Frames.Single(f => f.CameraId == sample.CameraId && f.Sequence == sample.Sequence).Camera;
            var northM = (pose.Latitude - truePose.AntennaLatitude) * 111_320;
            var eastM = (pose.Longitude - truePose.AntennaLongitude) * 111_320 * Math.Cos(truePose.AntennaLatitude * Math.PI / 180);
            Assert.InRange(Math.Sqrt(northM * northM + eastM * eastM), 0, 0.25);
            Assert.InRange(Math.Abs((pose.HeadingDeg!.Value - truePose.VehicleHeadingDeg + 540) % 360 - 180), 0, 5);
            Assert.Equal(TreeScout.Contracts.GnssQuality.RtkFixed, pose.Quality);
            Assert.InRange(pose.PositionSigmaM!.Value, 0.001, 0.25);
        }
        Assert.Contains(samples, s => s.TreeIds.Count > 0);

        using var runJson = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDirectory, RunFolder.SummaryFileName)));
        var summary = runJson.RootElement.GetProperty("review");
        Assert.Equal(samples.Count, summary.GetProperty("samples").GetInt32());
        Assert.Equal(0, summary.GetProperty("pruned").GetInt32());
        Assert.Equal(0, summary.GetProperty("droppedOverBudget").GetInt32());
    }
}

/// <summary>`treescout scan --force` replaces the earlier run's review/ with it, but never reviewers' labels.</summary>
[Trait("Category", "Unit")]
public sealed class ReviewFolderReplaceTests : IDisposable
{
    private readonly string _out = Directory.CreateTempSubdirectory("treescout-review-replace-").FullName;

    public void Dispose() => Directory.Delete(_out, recursive: true);

    private ReviewFolder EarlierRun()
    {
        File.WriteAllText(Path.Combine(_out, RunFolder.SummaryFileName), """{"runId":"20260421-091200-earlier"}""");
        var review = new ReviewFolder(_out);
        review.AddSample(new ReviewSample
        {
            RunId = "20260421-091200-earlier",
            CameraId = "cam-right",
            Sequence = 50,
            CapturedAtUtc = DateTimeOffset.UnixEpoch,
            Width = 64,
            Height = 48,
            Detector = new Contracts.ModelIdentity("d", "1", "aa"),
            StageClassifier = new Contracts.ModelIdentity("s", "1", "bb"),
            Reason = SampleReason.EveryNth,
            Uncertainty = 0.5,
            Proposals = [],
        }, [0xFF, 0xD8, 0xFF, 0xE0]);
        return review;
    }

    [Fact]
    public void Unreviewed_frames_go_with_the_run_and_labelled_ones_stop_the_replacement()
    {
        var review = EarlierRun();
        review.SaveLabels("cam-right-00000050", ReviewStatus.Labelled, [], "anna", 0, false, DateTimeOffset.UnixEpoch);
        var error = Assert.Throws<Cli.CliException>(() => ScanOutput.Prepare(_out, replace: true));
        Assert.Equal(Cli.Cli.UsageError, error.ExitCode);
        Assert.Contains("holds reviewers' labels of 1 frames", error.Message, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(_out, RunFolder.SummaryFileName)));
        Assert.Single(review.SampleIds());

        Directory.Delete(review.LabelsPath, recursive: true);
        ScanOutput.Prepare(_out, replace: true);
        Assert.False(Directory.Exists(review.Path));
        Assert.False(File.Exists(Path.Combine(_out, RunFolder.SummaryFileName)));
    }
}
