using System.Diagnostics;
using System.Globalization;
using TreeScout.Simulation;

// Usage: dotnet run -c Release --project bench/TreeScout.Simulation.Bench [-- SHARED_DIR]
// Renders the issue's reference run (2 rows x 40 trees, 1280x720, 10 fps) and prints wall and CPU time against the target.
var shared = args.Length > 0 ? args[0] : Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../../../shared"));
var output = Path.Combine(Path.GetTempPath(), $"treescout-bench-{Environment.ProcessId}");
var options = new SimulationOptions { Seed = 3, Rows = 2, TreesPerRow = 40, CropDirectory = Path.Combine(shared, "data", "bbch") };
var cpu = Process.GetCurrentProcess().TotalProcessorTime;
var summary = ScanSimulator.Run(options, output);
cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
Directory.Delete(output, recursive: true);
const double TargetS = 60;
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"simulate 2x40 @1280x720: {summary.Frames} frames, {summary.GnssEpochs} GNSS epochs"));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"",-12}{"measured",12}{"target",10}{"ratio",8}"));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"wall s",-12}{summary.Elapsed.TotalSeconds,12:F1}{TargetS,10:F0}{summary.Elapsed.TotalSeconds / TargetS,8:F2}"));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"cpu s",-12}{cpu.TotalSeconds,12:F1}{"",10}{"",8}   ({cpu.TotalMilliseconds / summary.Frames:F0} ms per frame, {Environment.ProcessorCount} cores, load {File.ReadAllText("/proc/loadavg").Split(' ')[0]})"));
return summary.Elapsed.TotalSeconds < TargetS ? 0 : 1;
