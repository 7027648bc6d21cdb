using System.Security.Cryptography;
using TreeScout.Orchard;
using TreeScout.Tests;

namespace TreeScout.Simulation.Tests;

/// <summary>The bundled sample is a complete recording, consistent with its truth, and still what its documented command produces.</summary>
[Trait("Category", "Unit")]
public sealed class SampleTests
{
    private static readonly string Sample = Path.Combine(RepoPaths.Samples, "betuwe-rtk-2x12");

    [Fact]
    public void The_bundled_sample_is_a_complete_recording_with_truth()
    {
        var recording = new Recording(Sample);
        recording.Validate();
        Assert.True(recording.HasTruth);
        var frames = recording.ReadFrames().ToList();
        Assert.Equal(173, frames.Count);
        Assert.All(frames, f => Assert.True(File.Exists(recording.PathOf(f.File!)), f.File));
        Assert.Equal("cam-right", Assert.Single(recording.ReadCameras().Cameras).CameraId);
        var plan = recording.ReadBlockPlan()!;
        Assert.Equal(24, plan.Trees.Count);
        var truth = GroundTruth.Load(recording.PathOf(Recording.TruthJsonFile));
        Assert.Equal(plan.Trees.Select(t => t.Id), truth.Trees.Select(t => t.TreeId));
        Assert.Equal(frames.Count, truth.Frames.Count);
        Assert.Equal(truth.Clusters.Count(c => c.Visible), truth.Trees.Sum(t => t.VisibleTotal));
        Assert.True(new DirectoryInfo(Sample).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length) <= 25_000_000);
    }

    [Fact]
    public void The_sample_is_what_its_documented_command_produces()
    {
        // samples/README.md: --seed 42 --trees-per-row 12 --fps 4 --jpeg-quality 75 (GNSS and plan do not depend on the images).
        var dir = SimulatedRuns.TempDirectory("sample-again");
        try
        {
            var options = new SimulationOptions { Seed = 42, TreesPerRow = 12, Fps = 4, JpegQuality = 75, CropDirectory = SimulatedRuns.Crops, RenderFrames = false };
            ScanSimulator.Run(options, dir);
            foreach (var file in new[] { Recording.NmeaFile, Recording.NmeaTimesFile, Recording.BlockFile, Recording.CameraFile })
            {
                Assert.True(Hash(Path.Combine(Sample, file)) == Hash(Path.Combine(dir, file)), $"samples/betuwe-rtk-2x12/{file} is stale: regenerate it with the command in samples/README.md");
            }
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));
}
