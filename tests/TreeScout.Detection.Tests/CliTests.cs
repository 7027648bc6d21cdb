using System.CommandLine;
using System.Text.Json;
using OpenCvSharp;
using TreeScout.Cli.Commands;
using TreeScout.Tests;

namespace TreeScout.Detection.Tests;

/// <summary>`treescout detect` and `treescout classify-stage` output, through the real commands.</summary>
[Trait("Category", "Unit")]
public class CliTests
{
    private static async Task<(int Exit, string Out, string Err)> RunAsync(params string[] args)
    {
        var root = new RootCommand("test");
        root.Subcommands.Add(DetectCommand.Create());
        root.Subcommands.Add(ClassifyStageCommand.Create());
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        return (exit, stdout.ToString(), stderr.ToString());
    }

    private static string[] Models => ["--detector", TestModels.DetectorCard, "--stage-model", TestModels.StageCard, "--threads", "1"];

    [Fact]
    public async Task Detect_json_prints_one_object_per_image_with_boxes_in_original_pixels()
    {
        var dir = Directory.CreateTempSubdirectory("treescout-detect-").FullName;
        using var upright = Cv2.ImRead(Path.Combine(RepoPaths.Samples, "detector-heldout", "frames", "0002.jpg"));
        using var rotated = new Mat();
        Cv2.Rotate(upright, rotated, RotateFlags.Rotate180);
        Cv2.ImWrite(Path.Combine(dir, "a-upright.png"), upright);
        Cv2.ImWrite(Path.Combine(dir, "b-rotated.png"), rotated);
        var annotated = Path.Combine(dir, "annotated");

        var (exit, stdout, _) = await RunAsync(["detect", Path.Combine(dir, "a-upright.png"), "--json", "--out", annotated, .. Models]);
        Assert.Equal(0, exit);
        var line = Assert.Single(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        using var doc = JsonDocument.Parse(line);
        var o = doc.RootElement;
        Assert.Equal(["file", "width", "height", "detections"], o.EnumerateObject().Select(p => p.Name));
        Assert.Equal(Path.Combine(dir, "a-upright.png"), o.GetProperty("file").GetString());
        Assert.Equal((1280, 720), (o.GetProperty("width").GetInt32(), o.GetProperty("height").GetInt32()));
        var boxes = o.GetProperty("detections").EnumerateArray().ToList();
        Assert.NotEmpty(boxes);
        foreach (var b in boxes)
        {
            Assert.Equal(["x", "y", "w", "h", "score", "stage"], b.EnumerateObject().Select(p => p.Name));
            Assert.Matches("^bbch(53|54|56|57|59|61|65|67|69|71)$", b.GetProperty("stage").GetString());
            Assert.InRange(b.GetProperty("x").GetDouble() + b.GetProperty("w").GetDouble(), 0, 1280.1);
        }
        Assert.True(File.Exists(Path.Combine(annotated, "a-upright.png")));

        // The same image delivered upside down: detection runs upright, boxes come back in the delivered image.
        var (exit2, stdout2, _) = await RunAsync(["detect", Path.Combine(dir, "b-rotated.png"), "--json", "--mount-rotation", "180", .. Models]);
        Assert.Equal(0, exit2);
        using var doc2 = JsonDocument.Parse(stdout2.Trim());
        var rotatedBoxes = doc2.RootElement.GetProperty("detections").EnumerateArray().ToList();
        Assert.Equal(boxes.Count, rotatedBoxes.Count);
        for (var i = 0; i < boxes.Count; i++)
        {
            double X(JsonElement e, string p) => e.GetProperty(p).GetDouble();
            Assert.Equal(1280 - X(boxes[i], "x") - X(boxes[i], "w"), X(rotatedBoxes[i], "x"), 0.15);
            Assert.Equal(720 - X(boxes[i], "y") - X(boxes[i], "h"), X(rotatedBoxes[i], "y"), 0.15);
            Assert.Equal(boxes[i].GetProperty("stage").GetString(), rotatedBoxes[i].GetProperty("stage").GetString());
        }
    }

    [Fact]
    public async Task Detect_without_json_prints_counts_per_stage_and_a_total()
    {
        var (exit, stdout, _) = await RunAsync(["detect", Path.Combine(RepoPaths.Samples, "detector-heldout", "frames", "0003.jpg"), .. Models]);
        Assert.Equal(0, exit);
        Assert.Matches(@"0003\.jpg: \d+ clusters \((bbch\d\d \d+(, )?)+\) in \d+ ms", stdout);
        Assert.Matches(@"total: \d+ clusters in 1 image\(s\)", stdout);
    }

    [Fact]
    public async Task Classify_stage_json_prints_one_object_per_crop_and_the_summary_on_stderr()
    {
        var dir = Directory.CreateTempSubdirectory("treescout-crops-").FullName;
        foreach (var stage in new[] { "bbch65", "bbch71" })
        {
            Directory.CreateDirectory(Path.Combine(dir, stage));
            foreach (var f in Directory.EnumerateFiles(RepoPaths.SharedData("bbch", stage), "*.jpg").Order(StringComparer.Ordinal).Take(3))
            {
                File.Copy(f, Path.Combine(dir, stage, Path.GetFileName(f)));
            }
        }
        var (exit, stdout, stderr) = await RunAsync("classify-stage", dir, "--json", "--stage-model", TestModels.StageCard, "--threads", "1");
        Assert.Equal(0, exit);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(6, lines.Length);
        foreach (var line in lines)
        {
            using var doc = JsonDocument.Parse(line);
            var o = doc.RootElement;
            Assert.Equal(["file", "stage", "probabilities"], o.EnumerateObject().Select(p => p.Name));
            Assert.True(File.Exists(o.GetProperty("file").GetString()));
            var p = o.GetProperty("probabilities").EnumerateObject().ToList();
            Assert.Equal(["bbch53", "bbch54", "bbch56", "bbch57", "bbch59", "bbch61", "bbch65", "bbch67", "bbch69", "bbch71"], p.Select(x => x.Name));
            Assert.Equal(1.0, p.Sum(x => x.Value.GetDouble()), 3);
            Assert.Equal(p.MaxBy(x => x.Value.GetDouble()).Name, o.GetProperty("stage").GetString());
        }
        Assert.Contains("6 labelled crops: top-1 ", stderr, StringComparison.Ordinal);
        Assert.Contains("confusion (rows = true stage, columns = predicted):", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_model_card_is_one_clear_error()
    {
        var ex = await Assert.ThrowsAsync<TreeScout.Cli.CliException>(() =>
            RunAsync("detect", Path.Combine(RepoPaths.Samples, "detector-heldout", "frames", "0003.jpg"), "--detector", "/nonexistent/card.json"));
        Assert.Contains("/nonexistent/card.json", ex.Message, StringComparison.Ordinal);
    }
}
