using TreeScout.Tests;

namespace TreeScout.Simulation.Tests;

/// <summary>Small simulated runs the tests share (rendering costs seconds on a busy machine).</summary>
public static class SimulatedRuns
{
    public static string Crops => RepoPaths.SharedData("bbch");

    public static SimulationOptions Small(int seed = 7) => new()
    {
        Seed = seed,
        Rows = 2,
        TreesPerRow = 4,
        ImageWidth = 640,
        ImageHeight = 360,
        Fps = 5,
        CropDirectory = Crops,
    };

    public static string TempDirectory(string name) =>
        Path.Combine(Path.GetTempPath(), "treescout-tests", $"{name}-{Environment.ProcessId}-{Guid.NewGuid():N}");
}

/// <summary>One rendered small run, simulated once per test class that uses it.</summary>
public sealed class SmallRunFixture : IDisposable
{
    public SmallRunFixture()
    {
        Directory = SimulatedRuns.TempDirectory("small");
        Summary = ScanSimulator.Run(SimulatedRuns.Small(), Directory);
        Truth = GroundTruth.Load(Path.Combine(Directory, "truth.json"));
    }

    public string Directory { get; }

    public SimulationSummary Summary { get; }

    public GroundTruth Truth { get; }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
