using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using TreeScout.Simulation;
using TreeScout.Tests;

// Fusion throughput against the load: 2 cameras × 10 fps × ~100 detections per frame, on one core.
// A dense simulated scan (both cameras, many clusters per tree) is fused by the real worker module on the embedded bus;
// prints measured values next to the target as ratios (> 1 = faster than needed). Not a pass/fail test: this machine is shared.
var shared = args.Length > 0 ? args[0] : Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../../../shared"));
var options = new SimulationOptions
{
    Seed = 5,
    Rows = 2,
    TreesPerRow = 10,
    Cameras = CameraSetup.Both,
    MinClustersPerTree = 250,
    MaxClustersPerTree = 350,
    ImageWidth = 640,
    ImageHeight = 360,
    GnssEvents = false,
    CropDirectory = Path.Combine(shared, "data", "bbch"),
};
var directory = Path.Combine(Path.GetTempPath(), "treescout-fusion-bench", $"dense-{Guid.NewGuid():N}");
var sw = Stopwatch.StartNew();
var scan = SimulatedScan.Create(options, directory, DetectionNoise.Realistic, "bench-dense");
Directory.Delete(directory, recursive: true);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"scan ready in {sw.Elapsed.TotalSeconds:F1} s: {scan.Frames.Count} frames, {scan.Fixes.Count} fixes"));
var detections = scan.Frames.Sum(f => f.Detections.Count);
var messages = scan.ArrivalOrder(TimeSpan.FromMilliseconds(150)).ToList();

using var loggerFactory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Warning));
var process = Process.GetCurrentProcess();
var cpu0 = process.TotalProcessorTime;
sw.Restart();
var output = await EmbeddedFusion.RunAsync(messages, loggerFactory, new Dictionary<string, string?> { ["Fusion:QuietTimeout"] = "00:00:00.500" }, TimeSpan.FromMinutes(20));
var wall = sw.Elapsed.TotalSeconds;
process.Refresh();
var cpu = (process.TotalProcessorTime - cpu0).TotalSeconds;

var frames = scan.Frames.Count;
const double requiredFps = 2 * 10;
const double requiredDetectionsPerSecond = requiredFps * 100;
string Row(string what, double measured, double required) =>
    string.Create(CultureInfo.InvariantCulture, $"| {what} | {measured:F0} | {required:F0} | {measured / required:F1}× |");
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"fused {frames} frames, {detections} detections ({(double)detections / frames:F0} per frame), {output.Observations.Count} observations: wall {wall:F2} s, CPU {cpu:F2} s (all threads: bus, handlers)"));
Console.WriteLine("| per CPU-second | measured | needed (2 cams × 10 fps × 100 det.) | ratio |");
Console.WriteLine("|---|---:|---:|---:|");
Console.WriteLine(Row("frames", frames / cpu, requiredFps));
Console.WriteLine(Row("detections", detections / cpu, requiredDetectionsPerSecond));
