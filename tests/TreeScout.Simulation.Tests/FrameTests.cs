using OpenCvSharp;
using TreeScout.Contracts;
using TreeScout.Orchard;

namespace TreeScout.Simulation.Tests;

[Trait("Category", "Unit")]
public sealed class FrameTests(SmallRunFixture run) : IClassFixture<SmallRunFixture>
{
    private CameraMounting Camera => new Recording(run.Directory).ReadCameras().Cameras.Single();

    /// <summary>Fully visible clusters well inside the image, per frame.</summary>
    private IEnumerable<(TruthFrame Frame, TruthBox Box, TruthCluster Cluster)> ClearClusters()
    {
        var clusters = run.Truth.Clusters.ToDictionary(c => c.ClusterId);
        var cam = Camera;
        return run.Truth.Frames.SelectMany(f => f.Boxes
            .Where(b => b.VisibleFraction >= 0.95 && b.X > 2 && b.Y > 2 && b.X + b.W < cam.ImageWidth - 2 && b.Y + b.H < cam.ImageHeight - 2 && b.W >= 12)
            .Select(b => (f, b, clusters[b.ClusterId])));
    }

    [Fact]
    public void Truth_clusters_projected_with_camera_json_and_the_true_pose_land_in_their_boxes()
    {
        var cam = Camera;
        var checkedCount = 0;
        foreach (var (frame, box, cluster) in ClearClusters())
        {
            // Independent pinhole projection: camera.json intrinsics, truth pose (position, azimuth, pitch; no roll).
            var plane = new Simulation.LocalTangentPlane(frame.Camera.Latitude, frame.Camera.Longitude);
            var (e, n) = plane.ToLocal(cluster.Latitude, cluster.Longitude);
            var d = (E: e, N: n, U: cluster.HeightM - frame.Camera.HeightM);
            var az = frame.Camera.AzimuthDeg * Math.PI / 180;
            var pitch = frame.Camera.PitchDeg * Math.PI / 180;
            var z = (E: Math.Sin(az) * Math.Cos(pitch), N: Math.Cos(az) * Math.Cos(pitch), U: Math.Sin(pitch));
            var x = (E: Math.Cos(az), N: -Math.Sin(az), U: 0.0);
            var y = (E: z.N * x.U - z.U * x.N, N: z.U * x.E - z.E * x.U, U: z.E * x.N - z.N * x.E);
            double Dot((double E, double N, double U) a, (double E, double N, double U) b) => a.E * b.E + a.N * b.N + a.U * b.U;
            var depth = Dot(d, z);
            var u = cam.Fx * Dot(d, x) / depth + cam.Cx;
            var v = cam.Fy * Dot(d, y) / depth + cam.Cy;
            Assert.InRange(u, box.X + box.W * 0.35, box.X + box.W * 0.65);
            Assert.InRange(v, box.Y + box.H * 0.35, box.Y + box.H * 0.65);
            // Its size matches its diameter at that depth (the box is the blossom's extent).
            Assert.InRange(Math.Max(box.W, box.H), 0.8 * cluster.DiameterM * cam.Fx / depth - 2, 1.25 * cluster.DiameterM * cam.Fx / depth + 2);
            checkedCount++;
        }
        Assert.True(checkedCount > 100, $"only {checkedCount} clear clusters to check");
    }

    [Fact]
    public void Pixels_inside_a_truth_box_are_the_composited_crop()
    {
        var scores = new List<(double Here, double Elsewhere)>();
        foreach (var (frame, box, cluster) in ClearClusters().Where((_, i) => i % 7 == 0).Take(80))
        {
            using var image = Cv2.ImRead(Path.Combine(run.Directory, frame.File));
            using var crop = Cv2.ImRead(Path.Combine(SimulatedRuns.Crops, cluster.Crop));
            // The box is the middle 80 % of the sprite the crop was scaled to; compare the middle half of the box,
            // which lies inside the crop's feathered elliptical mask (the box corners show the background).
            using var sprite = crop.Resize(new Size((int)Math.Round(box.W / 0.8), (int)Math.Round(box.H / 0.8)));
            var (w, h) = (box.W / 2, box.H / 2);
            using var template = new Mat(sprite, new Rect((sprite.Width - w) / 2, (sprite.Height - h) / 2, w, h));
            var middle = new Rect(box.X + (box.W - w) / 2, box.Y + (box.H - h) / 2, w, h);
            var shifted = middle with { X = middle.X + 2 * box.W < image.Width - w ? middle.X + 2 * box.W : middle.X - 2 * box.W };
            if (shifted.X < 0)
            {
                continue;
            }
            scores.Add((Ncc(image, middle, template), Ncc(image, shifted, template)));
        }
        Assert.True(scores.Count >= 30, $"only {scores.Count} clusters compared");
        var here = Median(scores.Select(s => s.Here));
        var elsewhere = Median(scores.Select(s => s.Elsewhere));
        Assert.True(here > 0.6, $"median correlation of box pixels with their crop {here:F2}");
        Assert.True(here - elsewhere > 0.3, $"box {here:F2} vs elsewhere {elsewhere:F2}");
    }

    [Fact]
    public void Clocks_offset_frames_and_nmea_lines_as_the_truth_says()
    {
        var recording = new Recording(run.Directory);
        var clock = run.Truth.Clock;
        Assert.InRange(Math.Abs(clock.HostOffsetMs), 200, 500);
        var frames = recording.ReadFrames().ToList();
        Assert.Equal(run.Truth.Frames.Count, frames.Count);
        foreach (var (row, truth) in frames.Zip(run.Truth.Frames))
        {
            Assert.Equal(truth.File, row.File);
            var ms = (row.HostTimeUtc - truth.GnssTimeUtc).TotalMilliseconds - clock.HostOffsetMs;
            Assert.InRange(ms, -7, 7);
        }
        var times = recording.ReadNmeaTimes();
        foreach (var fix in run.Truth.Gnss)
        {
            var latency = (times[fix.Line - 1].HostTimeUtc - fix.TimeUtc).TotalMilliseconds - clock.HostOffsetMs;
            Assert.InRange(latency, clock.ReceiverLatencyMs - 7, clock.ReceiverLatencyMs + 7 + 15);
        }
        // Later sentences of an epoch arrive later.
        Assert.True(times[1].HostTimeUtc > times[0].HostTimeUtc);
    }

    [Fact]
    public void World_truth_and_plan_are_consistent()
    {
        var plan = BlockPlan.Load(Path.Combine(run.Directory, Recording.BlockFile));
        Assert.Equal(["R01", "R02"], plan.Rows.Select(r => r.Id));
        Assert.Equal(8, plan.Trees.Count);
        Assert.Equal("R02-T004", plan.Trees[^1].Id);
        var truthTrees = run.Truth.Trees.ToDictionary(t => t.TreeId);
        var local = new Simulation.LocalTangentPlane(plan.Trees[0].Latitude, plan.Trees[0].Longitude);
        foreach (var tree in plan.Trees)
        {
            var t = truthTrees[tree.Id];
            var (pe, pn) = local.ToLocal(tree.Latitude, tree.Longitude);
            var (te, tn) = local.ToLocal(t.Latitude, t.Longitude);
            Assert.InRange(Math.Sqrt((pe - te) * (pe - te) + (pn - tn) * (pn - tn)), 0, OrchardGenerator.PlantingErrorLimitM * Math.Sqrt(2));
            Assert.InRange(t.VisibleTotal, 0, t.ClustersTotal);
        }
        foreach (var c in run.Truth.Clusters)
        {
            var tree = truthTrees[c.TreeId];
            Assert.InRange(c.AlongRowM - tree.AlongRowM, -0.45 * plan.TreeSpacingM!.Value - 1e-6, 0.45 * plan.TreeSpacingM.Value + 1e-6);
            Assert.InRange(c.AcrossRowM, -0.3, 0.3);
            Assert.InRange(c.HeightM, 0.6, 2.8);
            Assert.StartsWith(BbchStages.Label(c.Stage) + "/", c.Crop, StringComparison.Ordinal);
            Assert.Contains(CropLibrary.CameraOf(Path.GetFileName(c.Crop)), SimulationOptions.HeldOutCropCameras);
        }
        // Most clusters are visible, and a visible cluster scrolls through several frames.
        var visible = run.Truth.Clusters.Where(c => c.Visible).ToList();
        Assert.InRange(visible.Count / (double)run.Truth.Clusters.Count, 0.5, 1.0);
        Assert.True(Median(visible.Select(c => (double)c.FramesVisible)) >= 4);
        // Both rows scanned once, by the one camera.
        Assert.Equal([1, 2], run.Truth.Passes.SelectMany(p => p.Faces).Select(f => f.Row).Order());
    }

    [Fact]
    public void The_track_wanders_around_the_alley_centre_and_is_never_straight()
    {
        foreach (var pass in run.Truth.Passes)
        {
            var poses = run.Truth.Frames.Where(f => f.Pass == pass.Index).Select(f => f.Camera).ToList();
            var plane = new Simulation.LocalTangentPlane(poses[0].AntennaLatitude, poses[0].AntennaLongitude);
            var points = poses.Select(p => plane.ToLocal(p.AntennaLatitude, p.AntennaLongitude)).ToList();
            // Distance of each antenna position from the chord of the pass (straight rows in this run).
            var (e0, n0) = points[0];
            var (e1, n1) = points[^1];
            var length = Math.Sqrt((e1 - e0) * (e1 - e0) + (n1 - n0) * (n1 - n0));
            var deviation = points.Select(p => Math.Abs(((p.East - e0) * (n1 - n0) - (p.North - n0) * (e1 - e0)) / length)).Max();
            Assert.InRange(deviation, 0.04, 0.3);
            var headings = poses.Select(p => p.VehicleHeadingDeg).ToList();
            Assert.True(headings.Max() - headings.Min() is > 1 and < 20, $"heading varies {headings.Max() - headings.Min():F1} deg in pass {pass.Index}");
        }
    }

    private static double Ncc(Mat image, Rect rect, Mat template)
    {
        using var patch = new Mat(image, rect);
        using var result = new Mat();
        Cv2.MatchTemplate(patch, template, result, TemplateMatchModes.CCoeffNormed);
        return result.At<float>(0, 0);
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }
}
