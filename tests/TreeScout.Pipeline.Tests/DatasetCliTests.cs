using System.Text.Json.Nodes;
using TreeScout.Contracts;
using TreeScout.Labelling;
using TreeScout.Tests;
using Xunit;
using Xunit.Abstractions;

namespace TreeScout.Pipeline.Tests;

/// <summary>`treescout dataset export` and `dataset next` as a user runs them, on a run folder with reviewed frames.</summary>
[Trait("Category", "Unit")]
public sealed class DatasetCliTests(ITestOutputHelper output) : IDisposable
{
    private static readonly byte[] Frame = File.ReadAllBytes(Path.Combine(RepoPaths.Samples, "betuwe-rtk-2x12", "frames", "cam-right", "000000.jpg"));
    private readonly string _root = Directory.CreateTempSubdirectory("treescout-dataset-cli-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private Task<ToolResult> TreescoutAsync(params string[] args) => TreescoutCli.RunAsync(output, TimeSpan.FromMinutes(2), args);

    /// <summary>Run "run-1": frame 1 labelled with two boxes, 2 labelled without its image, 3 skipped, 4 and 5 not reviewed.</summary>
    private string ReviewedRun()
    {
        var run = Path.Combine(_root, "run-1");
        var review = new ReviewFolder(run);
        foreach (var (sequence, uncertainty) in new[] { (1L, 0.2), (2L, 0.3), (3L, 0.4), (4L, 0.5), (5L, 0.9) })
        {
            review.AddSample(new ReviewSample
            {
                RunId = "run-1",
                CameraId = "cam-right",
                Sequence = sequence,
                CapturedAtUtc = new DateTimeOffset(2026, 4, 21, 9, 30, 0, TimeSpan.Zero),
                Width = 1280,
                Height = 720,
                Detector = new ModelIdentity("blossom-detector", "2.0.0", "ab"),
                StageClassifier = new ModelIdentity("bbch-stage", "1.0.0", "cd"),
                Reason = SampleReason.Uncertain,
                Uncertainty = uncertainty,
                Proposals = [new ProposedBox(100, 100, 30, 30, 0.55f, BbchStage.Bbch65)],
                BlockId = "B1",
            }, Frame);
        }
        var at = new DateTimeOffset(2026, 4, 22, 8, 0, 0, TimeSpan.Zero);
        review.SaveLabels("cam-right-00000001", ReviewStatus.Labelled,
            [new LabelledBox(100, 100, 30, 30, BbchStage.Bbch65, BoxOrigin.Accepted, 0), new LabelledBox(500, 300, 20, 25, null, BoxOrigin.Added)], "anna", 0, false, at);
        review.SaveLabels("cam-right-00000002", ReviewStatus.Labelled, [], "anna", 0, false, at);
        File.Delete(review.ImagePath("cam-right-00000002"));
        review.SaveLabels("cam-right-00000003", ReviewStatus.Skipped, [], "anna", 0, false, at);
        return run;
    }

    [Fact]
    public async Task Export_writes_the_labelled_frames_and_names_each_frame_left_out()
    {
        var run = ReviewedRun();
        var dataset = Path.Combine(_root, "datasets", "b1");

        var text = await TreescoutAsync("dataset", "export", "--run", run, "--out", dataset);
        Assert.Equal(0, text.ExitCode);
        Assert.Contains("dataset b1 (", text.Stdout);
        Assert.Contains("1 images (0 without clusters), 2 boxes, blocks B1", text.Stdout);
        Assert.Contains("left out: 1 skipped by the reviewer, 2 not reviewed yet, 1 with a problem", text.Stdout);
        Assert.Equal($"left out {run}/cam-right-00000002: image missing ({new ReviewFolder(run).ImagePath("cam-right-00000002")})", text.Stderr.Trim());
        Assert.True(File.Exists(Path.Combine(dataset, "images", "run-1", "cam-right-00000001.jpg")));

        // Again, by run id under --runs, as JSON: the same dataset, nothing new.
        var json = await TreescoutAsync("dataset", "export", "--run", "run-1", "--runs", _root, "--out", dataset, "--json");
        Assert.Equal(0, json.ExitCode);
        var report = JsonNode.Parse(json.Stdout)!;
        Assert.Equal((1, 2, 0, 1), (report["images"]!.GetValue<int>(), report["boxes"]!.GetValue<int>(), report["keptFromBefore"]!.GetValue<int>(), report["exported"]!.GetValue<int>()));
        Assert.Equal("image missing", report["problems"]![0]!["reason"]!.GetValue<string>().Split(" (")[0]);
        Assert.Equal(["cam-right-00000001"], new ReviewFolder(run).ExportedIds());

        var next = await TreescoutAsync("dataset", "next", "--run", run, "--count", "1");
        Assert.Equal(0, next.ExitCode);
        Assert.StartsWith("cam-right-00000005  uncertainty 0.90  1 proposals  Uncertain", next.Stdout);
        Assert.Contains("1 of the 2 frames not reviewed yet", next.Stderr);
    }

    [Theory]
    [InlineData("no-runs", "give either --run DIR (repeatable) or --all")]
    [InlineData("both", "give either --run DIR (repeatable) or --all")]
    [InlineData("missing-run", "--run nowhere: no such run folder, nor a run id under")]
    [InlineData("foreign-out", "is not empty and holds no annotations.json")]
    public async Task Usage_errors_are_one_line_and_exit_2(string scenario, string message)
    {
        var run = ReviewedRun();
        var foreign = Directory.CreateDirectory(Path.Combine(_root, "mine")).FullName;
        File.WriteAllText(Path.Combine(foreign, "notes.txt"), "keep");
        string[] args = scenario switch
        {
            "no-runs" => ["dataset", "export", "--out", Path.Combine(_root, "d")],
            "both" => ["dataset", "export", "--run", run, "--all", "--runs", _root, "--out", Path.Combine(_root, "d")],
            "missing-run" => ["dataset", "export", "--run", "nowhere", "--runs", _root, "--out", Path.Combine(_root, "d")],
            _ => ["dataset", "export", "--run", run, "--out", foreign],
        };
        var result = await TreescoutAsync(args);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message, result.Stderr);
        Assert.Single(result.Stderr.Trim().Split('\n'));
        Assert.Empty(new ReviewFolder(run).ExportedIds());
    }
}
