using System.Diagnostics;
using TreeScout.Simulation;

// Placeholder until the throughput benchmark is written.
var sw = Stopwatch.StartNew();
var dir = Path.Combine(Path.GetTempPath(), "fusion-bench-sim");
var options = new SimulationOptions { Rows = 2, TreesPerRow = 15, ImageWidth = 640, ImageHeight = 360, CropDirectory = "/work/shared/data/bbch" };
ScanSimulator.Run(options, dir, replace: true);
Console.WriteLine($"simulated in {sw.Elapsed.TotalSeconds:F1} s");
