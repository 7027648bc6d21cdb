using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using TreeScout.Contracts;
using TreeScout.Orchard;

namespace TreeScout.Simulation;

/// <summary>What a simulation produced.</summary>
public sealed record SimulationSummary(
    string Directory,
    int Trees,
    int TreesMissing,
    int Clusters,
    int VisibleClusters,
    int Frames,
    int GnssEpochs,
    double DriveDurationS,
    TimeSpan Elapsed,
    long Bytes);

/// <summary>
/// The digital twin of a scan run: generates the orchard, drives the tractor, simulates the receiver and the cameras,
/// and writes a recording (docs/recording-format.md) plus its ground truth.
/// </summary>
public static class ScanSimulator
{
    /// <summary>Nominal serial rate of the receiver's NMEA port (sets how much later the later sentences of an epoch arrive).</summary>
    public const int BaudRate = 115200;

    public static SimulationSummary Run(SimulationOptions options, string outputDirectory, bool replace = false, Action<string>? progress = null)
    {
        options.Validate();
        var clock = Stopwatch.StartNew();
        var recording = PrepareOutput(outputDirectory, replace);
        var requiredStages = options.StageMix.Where(kv => kv.Value > 0).Select(kv => kv.Key);
        using var crops = new CropLibrary(options.CropDirectory, options.CropCameras, requiredStages);
        var block = OrchardGenerator.Generate(options, crops);
        var cameras = PinholeCamera.Rig(options);
        var path = DrivePath.Plan(block, cameras, options.Seed);
        progress?.Invoke(string.Create(CultureInfo.InvariantCulture,
            $"block {options.Rows} rows x {options.TreesPerRow} trees, {block.Clusters.Count()} clusters; drive {path.Duration:F1} s in {path.Passes.Count} passes"));

        var random = SimRandom.For(options.Seed, "clock");
        var clockTruth = new TruthClock(
            Math.Round((random.NextDouble() < 0.5 ? -1 : 1) * random.Uniform(200, 500), 3),
            Math.Round(random.Uniform(-20, 20), 3),
            Math.Round(random.Uniform(30, 50), 3),
            2.0,
            (long)random.Uniform(3e12, 9e12));

        var epochs = GnssModel.Simulate(options, path.At, path.Duration);
        var fixes = WriteGnss(recording, block, epochs, options, clockTruth);

        var frames = new List<TruthFrame>();
        var boxes = new Dictionary<SimCluster, List<(TruthBox Box, int Pass, string Camera)>>();
        if (options.RenderFrames)
        {
            frames = RenderFrames(recording, block, crops, path, cameras, clockTruth, options, progress, out var clusterBoxes);
            boxes = clusterBoxes;
        }

        var visibility = new TruthVisibilityRule(0.4, 2);
        var truth = BuildTruth(block, crops, path, frames, fixes, boxes, visibility, clockTruth, options);
        recording.WriteCameras(new CameraRig(cameras));
        File.WriteAllText(recording.PathOf(Recording.BlockFile), block.ToPlan().ToGeoJson());
        File.WriteAllText(recording.PathOf("recording.json"), JsonSerializer.Serialize(Manifest(options), Recording.Json));
        truth.Save(recording.PathOf(Recording.TruthJsonFile));
        File.WriteAllText(recording.PathOf(Recording.TruthCsvFile), truth.ToCsv());
        var bytes = new DirectoryInfo(recording.Directory).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
        return new SimulationSummary(
            recording.Directory,
            block.Trees.Count,
            block.Trees.Count(t => !t.Present),
            truth.Clusters.Count,
            truth.Clusters.Count(c => c.Visible),
            frames.Count,
            epochs.Count,
            path.Duration,
            clock.Elapsed,
            bytes);
    }

    private static Recording PrepareOutput(string directory, bool replace)
    {
        var full = Path.GetFullPath(directory);
        if (File.Exists(full))
        {
            throw new SimulationOptionsException($"output {full} is a file, not a directory");
        }
        try
        {
            if (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any())
            {
                if (!replace)
                {
                    throw new SimulationOptionsException($"output directory {full} is not empty (use --force to replace its contents)");
                }
                Directory.Delete(full, recursive: true);
            }
            Directory.CreateDirectory(full);
            var probe = Path.Combine(full, ".write-test");
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new SimulationOptionsException($"output directory {full} is not writable: {ex.Message}", ex);
        }
        return new Recording(full);
    }

    private static List<(GnssEpoch Epoch, int Line)> WriteGnss(Recording recording, SimBlock block, IReadOnlyList<GnssEpoch> epochs, SimulationOptions options, TruthClock clock)
    {
        var writer = new NmeaWriter(block.Plane, options.Talker, options.Heading);
        var random = SimRandom.For(options.Seed, "nmea-latency");
        var nmea = new StringBuilder();
        var times = new StringBuilder(Recording.NmeaTimesHeader + "\n");
        var fixes = new List<(GnssEpoch, int)>();
        var line = 0;
        foreach (var epoch in epochs)
        {
            var sentences = writer.Sentences(epoch);
            fixes.Add((epoch, line + 1));
            var latency = clock.ReceiverLatencyMs / 1000 + Math.Clamp(random.Gaussian() * 0.002, -0.006, 0.006);
            var bytes = 0;
            foreach (var sentence in sentences)
            {
                line++;
                bytes += sentence.Length + 2;
                nmea.Append(sentence).Append("\r\n");
                var received = HostTime(options, clock, epoch.TimeS + latency + bytes * 10.0 / BaudRate);
                times.Append(Recording.NmeaTimeLine(new NmeaLineTime(line, received))).Append('\n');
            }
        }
        File.WriteAllText(recording.PathOf(Recording.NmeaFile), nmea.ToString(), Encoding.ASCII);
        File.WriteAllText(recording.PathOf(Recording.NmeaTimesFile), times.ToString());
        return fixes;
    }

    /// <summary>Host wall clock at GNSS time <paramref name="t"/> seconds after the start (offset and drift).</summary>
    private static DateTimeOffset HostTime(SimulationOptions options, TruthClock clock, double t) =>
        options.StartUtc.AddTicks((long)Math.Round((t * (1 + clock.HostDriftPpm * 1e-6) + clock.HostOffsetMs / 1000) * TimeSpan.TicksPerSecond));

    private static List<TruthFrame> RenderFrames(
        Recording recording,
        SimBlock block,
        CropLibrary crops,
        DrivePath path,
        IReadOnlyList<CameraMounting> cameras,
        TruthClock clock,
        SimulationOptions options,
        Action<string>? progress,
        out Dictionary<SimCluster, List<(TruthBox Box, int Pass, string Camera)>> clusterBoxes)
    {
        var count = (int)Math.Floor(path.Duration * options.Fps);
        var jobs = new List<(int Index, int Camera, double TimeS, DateTimeOffset Host, long Mono)>();
        var jitter = SimRandom.For(options.Seed, "frame-jitter");
        var lines = new StringBuilder(Recording.FramesHeader + "\n");
        for (var k = 0; k < count; k++)
        {
            var t = k / options.Fps;
            for (var c = 0; c < cameras.Count; c++)
            {
                var j = Math.Clamp(jitter.Gaussian() * clock.FrameJitterSigmaMs / 1000, -0.006, 0.006);
                var host = HostTime(options, clock, t + j);
                var mono = clock.MonotonicBaseNs + (long)Math.Round((t + j) * (1 + clock.HostDriftPpm * 1e-6) * 1e9);
                jobs.Add((k, c, t, host, mono));
                var file = FramePath(cameras[c].CameraId, k);
                lines.Append(Recording.FramesLine(new RecordedFrame(k, cameras[c].CameraId, file, host, mono))).Append('\n');
            }
        }
        foreach (var camera in cameras)
        {
            Directory.CreateDirectory(recording.PathOf(Path.Combine(Recording.FramesDirectory, camera.CameraId)));
        }

        var results = new TruthFrame[jobs.Count];
        var frameBoxes = new IReadOnlyList<ClusterBox>[jobs.Count];
        using var leaves = new LeafSprites(options.Seed);
        using var renderer = new FrameRenderer(block, crops, leaves, options.ImageWidth, options.ImageHeight);
        var light = SimRandom.For(options.Seed, "light");
        var (p1, p2) = (light.Uniform(0, 2 * Math.PI), light.Uniform(0, 2 * Math.PI));
        var parallelism = options.Parallelism > 0 ? options.Parallelism : Environment.ProcessorCount;
        var done = 0;
        var buffers = new ThreadLocal<RenderBuffers>(() => new RenderBuffers(options.ImageWidth, options.ImageHeight), trackAllValues: true);
        try
        {
            Parallel.For(0, jobs.Count, new ParallelOptions { MaxDegreeOfParallelism = parallelism }, i =>
            {
                var job = jobs[i];
                var mount = cameras[job.Camera];
                var pose = path.At(job.TimeS);
                var camera = new PinholeCamera(mount, pose);
                // Passing clouds change the light slowly; the blur is the near canopy's motion during the exposure.
                var gain = 1 + 0.08 * Math.Sin(2 * Math.PI * job.TimeS / 41 + p1) + 0.04 * Math.Sin(2 * Math.PI * job.TimeS / 13 + p2);
                var blur = pose.SpeedMps * ExposureBlurFactor * mount.Fx;
                var conditions = new FrameConditions(gain, blur, (int)(SimRandom.For(options.Seed, "noise", i).Next()));
                var (jpeg, boxes) = renderer.Render(camera, conditions, buffers.Value!, options.CameraRotationDeg, options.JpegQuality);
                var file = FramePath(mount.CameraId, job.Index);
                File.WriteAllBytes(recording.PathOf(file), jpeg);
                frameBoxes[i] = boxes;
                var (lat, lon) = Degrees(block, camera.Centre);
                var (alat, alon) = Degrees(block, pose.Antenna);
                results[i] = new TruthFrame
                {
                    CameraId = mount.CameraId,
                    Sequence = job.Index,
                    File = file,
                    GnssTimeUtc = options.StartUtc.AddTicks((long)Math.Round(job.TimeS * TimeSpan.TicksPerSecond)),
                    HostTimeUtc = job.Host,
                    Pass = pose.Pass,
                    Camera = new TruthCameraPose(lat, lon, Math.Round(camera.Centre.U, 4), Math.Round(camera.AzimuthDeg, 4), mount.PitchDeg,
                        Math.Round(pose.HeadingDeg, 4), Math.Round(pose.SpeedMps, 4), alat, alon),
                    Boxes = [.. boxes.Select(b => new TruthBox(b.Cluster.Id, b.Cluster.Stage, b.X, b.Y, b.W, b.H, b.VisibleFraction))],
                };
                var n = Interlocked.Increment(ref done);
                if (n % 100 == 0)
                {
                    progress?.Invoke($"rendered {n}/{jobs.Count} frames");
                }
            });
        }
        finally
        {
            foreach (var b in buffers.Values)
            {
                b.Dispose();
            }
            buffers.Dispose();
        }
        File.WriteAllText(recording.PathOf(Recording.FramesFile), lines.ToString());

        clusterBoxes = [];
        for (var i = 0; i < jobs.Count; i++)
        {
            for (var j = 0; j < frameBoxes[i].Count; j++)
            {
                var box = frameBoxes[i][j];
                if (!clusterBoxes.TryGetValue(box.Cluster, out var list))
                {
                    clusterBoxes[box.Cluster] = list = [];
                }
                list.Add((results[i].Boxes[j], results[i].Pass, results[i].CameraId));
            }
        }
        return [.. results];
    }

    /// <summary>The side of the row a pass's camera sees its row from (passes scan one row per camera).</summary>
    private static string SideOf(DrivePath path, int pass, string camera) =>
        path.Passes.First(p => p.Index == pass).Faces.First(f => f.CameraId == camera).Side!;

    /// <summary>Motion blur in pixels per (m/s of speed × focal length): exposure over the near canopy's depth (~1.3 m).</summary>
    private const double ExposureBlurFactor = FrameRenderer.ExposureS / 1.3;

    public static string FramePath(string cameraId, long sequence) =>
        string.Create(CultureInfo.InvariantCulture, $"{Recording.FramesDirectory}/{cameraId}/{sequence:000000}.jpg");

    private static GroundTruth BuildTruth(
        SimBlock block,
        CropLibrary crops,
        DrivePath path,
        List<TruthFrame> frames,
        List<(GnssEpoch Epoch, int Line)> fixes,
        Dictionary<SimCluster, List<(TruthBox Box, int Pass, string Camera)>> boxes,
        TruthVisibilityRule rule,
        TruthClock clock,
        SimulationOptions options)
    {
        var clusters = new List<TruthCluster>();
        var trees = new List<TruthTree>();
        foreach (var tree in block.Trees)
        {
            var visible = new List<SimCluster>();
            var bySide = new SortedDictionary<string, int>(StringComparer.Ordinal);
            var seenFromBoth = 0;
            foreach (var c in tree.Clusters)
            {
                // Seen well enough from a pass that scans this tree's row (a glimpse across the alley from another row's pass does not count).
                var seen = boxes.TryGetValue(c, out var list)
                    ? list.Where(b => path.Passes.FirstOrDefault(p => p.Index == b.Pass)?.Faces.Any(f => f.Row == tree.Row && f.CameraId == b.Camera) == true).ToList()
                    : [];
                var good = seen.Count(b => b.Box.VisibleFraction >= rule.MinVisibleFraction);
                // Visible from a side of the row when that side's passes saw it well enough; visible when from either.
                var sides = seen.Where(b => b.Box.VisibleFraction >= rule.MinVisibleFraction)
                    .GroupBy(b => SideOf(path, b.Pass, b.Camera)).Where(g => g.Count() >= rule.MinFrames).Select(g => g.Key).ToList();
                var isVisible = sides.Count > 0;
                if (isVisible)
                {
                    visible.Add(c);
                }
                foreach (var side in sides)
                {
                    bySide[side] = bySide.GetValueOrDefault(side) + 1;
                }
                seenFromBoth += sides.Count > 1 ? 1 : 0;
                var (lat, lon) = Degrees(block, c.Position);
                clusters.Add(new TruthCluster
                {
                    ClusterId = c.Id,
                    TreeId = tree.Id,
                    Latitude = lat,
                    Longitude = lon,
                    HeightM = Math.Round(c.Position.U, 4),
                    AlongRowM = Math.Round(c.AlongRowM, 4),
                    AcrossRowM = Math.Round(c.AcrossRowM, 4),
                    Stage = c.Stage,
                    Face = c.Face,
                    DiameterM = Math.Round(c.DiameterM, 4),
                    Crop = crops.File(c.CropIndex),
                    Visible = isVisible,
                    FramesVisible = good,
                    MaxVisibleFraction = seen.Count > 0 ? seen.Max(b => b.Box.VisibleFraction) : 0,
                });
            }
            var (tlat, tlon) = Degrees(block, tree.TrunkPosition);
            var (plat, plon) = Degrees(block, tree.PlanPosition);
            trees.Add(new TruthTree
            {
                TreeId = tree.Id,
                RowId = tree.RowId,
                Index = tree.Index,
                Present = tree.Present,
                Latitude = tlat,
                Longitude = tlon,
                PlanLatitude = plat,
                PlanLongitude = plon,
                AlongRowM = Math.Round(tree.AlongRowM, 4),
                ClustersTotal = tree.Clusters.Count,
                ClustersByStage = ByStage(tree.Clusters),
                VisibleTotal = visible.Count,
                VisibleByStage = ByStage(visible),
                VisibleBySide = bySide,
                VisibleFromBothSides = seenFromBoth,
            });
        }
        var passes = path.Passes.Select(p => new TruthPass(
            p.Index, p.Alley, p.Forward ? "forward" : "backward",
            options.StartUtc.AddSeconds(p.StartTimeS), options.StartUtc.AddSeconds(p.EndTimeS), p.Faces)).ToList();
        var truthFixes = fixes.Select(f =>
        {
            var (lat, lon) = Degrees(block, f.Epoch.TrueAntenna);
            return new TruthFix(f.Epoch.TimeUtc, f.Line, f.Epoch.Quality, lat, lon, f.Epoch.TrueAntenna.U,
                Math.Round(f.Epoch.Error.E, 5), Math.Round(f.Epoch.Error.N, 5), Math.Round(f.Epoch.Error.U, 5), Math.Round(f.Epoch.SigmaM, 4));
        }).ToList();
        return new GroundTruth
        {
            Tool = "treescout simulate",
            Seed = options.Seed,
            Block = options.BlockName,
            TreeSpacingM = options.TreeSpacingM,
            RowSpacingM = options.RowSpacingM,
            Clock = clock,
            Visibility = rule,
            Passes = passes,
            Trees = trees,
            Clusters = clusters,
            Frames = frames,
            Gnss = truthFixes,
        };
    }

    /// <summary>WGS84 of a local point, rounded to 1e-9 degrees (0.1 mm): keeps truth.json small without losing anything measurable.</summary>
    private static (double Latitude, double Longitude) Degrees(SimBlock block, Enu p)
    {
        var (lat, lon) = block.Plane.ToWgs84(p.E, p.N);
        return (Math.Round(lat, 9), Math.Round(lon, 9));
    }

    private static Dictionary<string, int> ByStage(IEnumerable<SimCluster> clusters) =>
        BbchStages.Ordered.ToDictionary(BbchStages.Label, s => clusters.Count(c => c.Stage == s));

    private static Dictionary<string, object?> Manifest(SimulationOptions o)
    {
        var manifest = new Dictionary<string, object?>
        {
            ["block"] = o.BlockName,
            ["variety"] = o.Variety,
            ["date"] = o.StartUtc.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            ["tool"] = "treescout simulate",
            ["seed"] = o.Seed,
            ["rows"] = o.Rows,
            ["treesPerRow"] = o.TreesPerRow,
            ["rowSpacingM"] = o.RowSpacingM,
            ["treeSpacingM"] = o.TreeSpacingM,
            ["curvedRows"] = o.CurvedRows,
            ["speedKmh"] = o.SpeedKmh,
            ["gnss"] = o.Gnss.ToString().ToLowerInvariant(),
            ["gnssRateHz"] = o.GnssRateHz,
            ["fps"] = o.Fps,
            ["cameras"] = o.Cameras.ToString().ToLowerInvariant(),
            ["resolution"] = $"{o.ImageWidth}x{o.ImageHeight}",
            ["cameraRotationDeg"] = o.CameraRotationDeg,
            ["cropCameras"] = o.CropCameras.ToString().ToLowerInvariant(),
        };
        if (o.BothSides)
        {
            // Only when set: a one-side recording's manifest stays what it was (samples/README.md: byte-identical files).
            manifest["bothSides"] = true;
        }
        return manifest;
    }
}
