using OpenCvSharp;
using TreeScout.Contracts;
using TreeScout.Orchard;

namespace TreeScout.Simulation.Tests;

[Trait("Category", "Unit")]
public sealed class RigTests
{
    private static SimulationOptions Tiny => SimulatedRuns.Small(3) with { TreesPerRow = 3, ImageWidth = 320, ImageHeight = 240, Fps = 2 };

    [Fact]
    public void An_upside_down_camera_renders_rotated_frames_and_camera_json_says_what_it_is_told()
    {
        var upright = SimulatedRuns.TempDirectory("rot0");
        var rotated = SimulatedRuns.TempDirectory("rot180");
        try
        {
            ScanSimulator.Run(Tiny, upright);
            ScanSimulator.Run(Tiny with { CameraRotationDeg = 180, MountRotationDeg = 0 }, rotated);
            Assert.Equal(0, new Recording(rotated).ReadCameras().Cameras.Single().MountRotationDeg); // misconfigured on purpose
            var frame = GroundTruth.Load(Path.Combine(upright, "truth.json")).Frames.First(f => f.Boxes.Count > 10).File;
            using var a = Cv2.ImRead(Path.Combine(upright, frame));
            using var b = Cv2.ImRead(Path.Combine(rotated, frame));
            using var back = new Mat();
            Cv2.Flip(b, back, FlipMode.XY);
            using var diff = new Mat();
            Cv2.Absdiff(a, back, diff);
            Assert.True(Cv2.Mean(diff).Val0 < 3, $"rotated back differs by {Cv2.Mean(diff).Val0:F1}");
            Cv2.Absdiff(a, b, diff);
            Assert.True(Cv2.Mean(diff).Val0 > 15, "the rotated frame should not look like the upright one");
        }
        finally
        {
            Directory.Delete(upright, true);
            Directory.Delete(rotated, true);
        }
    }

    [Theory]
    [InlineData(CameraSetup.Right, 4, "0F 2B 2F 4B")]
    [InlineData(CameraSetup.Left, 4, "1F 1B 3F 3B")]
    [InlineData(CameraSetup.Both, 4, "1F 3B")]
    [InlineData(CameraSetup.Both, 3, "1F 3B")]
    public void Every_row_is_scanned_once_per_camera_plan(CameraSetup setup, int rows, string expected)
    {
        var options = new SimulationOptions { Rows = rows, Cameras = setup };
        var plan = DrivePath.Alleys(rows, PinholeCamera.Rig(options));
        Assert.Equal(expected, string.Join(' ', plan.Select(p => $"{p.Alley}{(p.Forward ? 'F' : 'B')}")));
    }

    [Fact]
    public void Both_cameras_scan_both_rows_from_one_alley_and_frames_interleave()
    {
        var dir = SimulatedRuns.TempDirectory("both");
        try
        {
            ScanSimulator.Run(Tiny with { Cameras = CameraSetup.Both }, dir);
            var truth = GroundTruth.Load(Path.Combine(dir, "truth.json"));
            var pass = Assert.Single(truth.Passes);
            Assert.Equal(1, pass.Alley);
            Assert.Equal(["cam-left:1:E", "cam-right:2:W"], pass.Faces.Select(f => $"{f.CameraId}:{f.Row}:{f.Face}"));
            var frames = new Recording(dir).ReadFrames().ToList();
            Assert.Equal(frames.Count / 2, frames.Count(f => f.CameraId == "cam-left"));
            Assert.Equal("cam-left", frames[0].CameraId);
            Assert.Equal("cam-right", frames[1].CameraId);
            Assert.Equal(0, frames[1].Sequence);
            Assert.True(truth.Trees.Where(t => t.Present).All(t => t.VisibleTotal > 0), "every standing tree has visible clusters");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void A_bulb_turn_back_into_the_same_alley_is_a_continuous_drive()
    {
        var dir = SimulatedRuns.TempDirectory("bulb");
        try
        {
            ScanSimulator.Run(SimulatedRuns.Small(4) with { Rows = 3, TreesPerRow = 5, RenderFrames = false, GnssEvents = false }, dir);
            var truth = GroundTruth.Load(Path.Combine(dir, "truth.json"));
            Assert.Equal([0, 2, 2], truth.Passes.Select(p => p.Alley));
            var plane = new Simulation.LocalTangentPlane(truth.Gnss[0].TrueLatitude, truth.Gnss[0].TrueLongitude);
            var points = truth.Gnss.Select(f => plane.ToLocal(f.TrueLatitude, f.TrueLongitude)).ToList();
            for (var i = 1; i < points.Count; i++)
            {
                var step = Math.Sqrt(Math.Pow(points[i].East - points[i - 1].East, 2) + Math.Pow(points[i].North - points[i - 1].North, 2));
                Assert.InRange(step, 0.05, 6.0 / 3.6 * 0.1 * 1.1); // always moving, never faster than row speed
            }
            // The turns leave the block: the drive reaches beyond the row ends into the headland.
            var rowEnd = 5 * 1.0;
            Assert.True(points.Max(p => p.North) > rowEnd + DrivePath.RunInM + DrivePath.TurnRadiusM);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
