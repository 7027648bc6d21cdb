using System.Text.Json;
using System.Text.Json.Nodes;
using TreeScout.Contracts;
using TreeScout.Labelling;
using TreeScout.Tests;
using Xunit.Abstractions;

namespace TreeScout.Labelling.Tests;

/// <summary>
/// The export read back by an independent reader: the training code's COCO loader (Python, json + cv2), which decodes
/// every image and checks every box against it. Frames are the bundled simulator recording's, labelled from its truth.
/// </summary>
[Trait("Category", "Integration")]
public sealed class CocoReaderTests(ITestOutputHelper output) : IDisposable
{
    private const string Python = "/usr/bin/python3";
    private const double MinVisible = 0.35;
    private static readonly string Recording = Path.Combine(RepoPaths.Samples, "betuwe-rtk-2x12");
    private readonly string _root = Directory.CreateTempSubdirectory("treescout-coco-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private async Task<bool> ReaderAvailable()
    {
        if (!DebianTool.IsInstalled(Python, "python3 python3-opencv", output))
        {
            return false;
        }
        if ((await Tool.RunAsync(Python, ["-c", "import cv2"])).ExitCode == 0)
        {
            return true;
        }
        Assert.False(Environment.GetEnvironmentVariable("CI") == "true", "python3 cannot import cv2: CI must install python3-opencv");
        output.WriteLine("SKIPPED: python3-opencv not installed");
        return false;
    }

    private async Task<(int ExitCode, JsonObject Summary)> Validate(string dataset)
    {
        var result = await Tool.RunAsync(Python, ["training/detector/coco.py", "--validate", dataset], TimeSpan.FromMinutes(2));
        output.WriteLine(result.Stdout + result.Stderr);
        return (result.ExitCode, JsonNode.Parse(result.Stdout)!.AsObject());
    }

    [Fact]
    public async Task The_training_loader_reads_an_export_of_simulator_frames_box_for_box()
    {
        if (!await ReaderAvailable())
        {
            return;
        }
        var truth = JsonNode.Parse(File.ReadAllText(Path.Combine(Recording, "truth.json")))!;
        var block = truth["block"]!.GetValue<string>();
        var card = JsonNode.Parse(File.ReadAllText(Path.Combine(RepoPaths.Models, "blossom-detector.json")))!;
        var detector = new ModelIdentity(card["name"]!.GetValue<string>(), card["version"]!.GetValue<string>(), card["sha256"]!.GetValue<string>());
        var review = new ReviewFolder(Path.Combine(_root, "betuwe-42"));
        var frames = truth["frames"]!.AsArray().Where(f => f!["sequence"]!.GetValue<long>() % 4 == 0).ToList();
        int expectedBoxes = 0, expectedNegatives = 0;
        var expectedStages = new Dictionary<string, int>();
        foreach (var (frame, index) in frames.Select((f, i) => (f!, i)))
        {
            var sample = new ReviewSample
            {
                RunId = "betuwe-42",
                CameraId = frame["cameraId"]!.GetValue<string>(),
                Sequence = frame["sequence"]!.GetValue<long>(),
                CapturedAtUtc = frame["gnssTimeUtc"]!.GetValue<DateTimeOffset>(),
                Width = 1280,
                Height = 720,
                Detector = detector,
                StageClassifier = new ModelIdentity("bbch-stage", "1.0.0", "unused"),
                Reason = SampleReason.EveryNth,
                Uncertainty = 0.5,
                Proposals = [],
                BlockId = block,
            };
            review.AddSample(sample, File.ReadAllBytes(Path.Combine(Recording, frame["file"]!.GetValue<string>())));
            switch (index)
            {
                case 0:
                    review.SaveLabels(sample.Id, ReviewStatus.Skipped, [], "test", 0, false, DateTimeOffset.UnixEpoch);
                    continue;
                case 1:
                    continue; // not reviewed
            }
            var boxes = frame["boxes"]!.AsArray()
                .Where(b => b!["visibleFraction"]!.GetValue<double>() >= MinVisible)
                .Select(b => Clipped(b!, sample.Width, sample.Height))
                .OfType<LabelledBox>()
                .ToList();
            review.SaveLabels(sample.Id, ReviewStatus.Labelled, boxes, "test", 0, false, DateTimeOffset.UnixEpoch);
            expectedBoxes += boxes.Count;
            expectedNegatives += boxes.Count == 0 ? 1 : 0;
            foreach (var b in boxes)
            {
                expectedStages[BbchStages.Label(b.Stage!.Value)] = expectedStages.GetValueOrDefault(BbchStages.Label(b.Stage.Value)) + 1;
            }
        }
        var dataset = Path.Combine(_root, "dataset");

        var report = DatasetExport.Export([Path.Combine(_root, "betuwe-42")], dataset, DateTimeOffset.UnixEpoch);
        Assert.Equal((frames.Count - 2, expectedBoxes, 1, 1), (report.Images, report.Boxes, report.Skipped, report.Unreviewed));
        Assert.True(expectedBoxes > 300, $"{expectedBoxes} boxes: the recording should give hundreds");

        var (exit, summary) = await Validate(dataset);
        Assert.Equal(0, exit);
        Assert.Empty(summary["problems"]!.AsArray());
        Assert.Equal(frames.Count - 2, summary["images"]!.GetValue<int>());
        Assert.Equal(expectedBoxes, summary["annotations"]!.GetValue<int>());
        Assert.Equal(expectedNegatives, summary["negative_images"]!.GetValue<int>());
        Assert.Equal(frames.Count - 2, summary["blocks"]![block]!.GetValue<int>());
        Assert.Equal(frames.Count - 2, summary["dates"]!["2026-04-21"]!.GetValue<int>());
        Assert.Equal(expectedStages.OrderBy(s => s.Key, StringComparer.Ordinal), summary["stages"]!.AsObject().Select(s => KeyValuePair.Create(s.Key, s.Value!.GetValue<int>())));

        // The reader checks what is on disk, not what the file claims: a lost image and a box beyond the decoded image.
        var coco = JsonNode.Parse(File.ReadAllText(Path.Combine(dataset, DatasetExport.AnnotationsFileName)))!;
        var firstImage = coco["images"]![0]!;
        File.Delete(Path.Combine(dataset, "images", firstImage["file_name"]!.GetValue<string>()));
        var box = coco["annotations"]!.AsArray()
            .First(a => a!["image_id"]!.GetValue<long>() != firstImage["id"]!.GetValue<long>() && a["bbox"]![2]!.GetValue<double>() > 10)!;
        box["bbox"]![0] = 1275.0;
        File.WriteAllText(Path.Combine(dataset, DatasetExport.AnnotationsFileName), coco.ToJsonString());
        (exit, summary) = await Validate(dataset);
        Assert.Equal(1, exit);
        var problems = summary["problems"]!.AsArray().Select(p => p!.GetValue<string>()).ToList();
        Assert.Equal(2, problems.Count);
        Assert.Contains($"image 1 ({firstImage["file_name"]}): image missing", problems);
        Assert.Contains(problems, p => p.StartsWith($"annotation {box["id"]} of image {box["image_id"]}: bbox [1275, ", StringComparison.Ordinal) && p.EndsWith("is outside the 1280x720 image", StringComparison.Ordinal));
        // The rest is still read: the two images with a problem are left out whole.
        Assert.Equal(frames.Count - 4, summary["images"]!.GetValue<int>());
    }

    private static LabelledBox? Clipped(JsonNode box, int width, int height)
    {
        double x = box["x"]!.GetValue<double>(), y = box["y"]!.GetValue<double>();
        double x1 = Math.Min(width, x + box["w"]!.GetValue<double>()), y1 = Math.Min(height, y + box["h"]!.GetValue<double>());
        (x, y) = (Math.Max(0, x), Math.Max(0, y));
        if (x1 - x < 1 || y1 - y < 1)
        {
            return null;
        }
        Assert.True(BbchStages.TryParse(box["stage"]!.GetValue<string>(), out var stage));
        return new LabelledBox((float)x, (float)y, (float)(x1 - x), (float)(y1 - y), stage, BoxOrigin.Added);
    }
}
