using System.Collections.Concurrent;
using TreeScout.Orchard;
using TreeScout.Simulation;

namespace TreeScout.Fusion.Tests;

/// <summary>
/// Simulator recordings shared by the tests of one class (an xunit class fixture): each distinct
/// <see cref="SimulationOptions"/> is rendered once, on first use, into a folder removed when the class is done. Rendering
/// is most of a fusion scenario's time, and the simulator is deterministic, so a shared recording is byte for byte the one
/// each test would render for itself. Nothing is kept between test runs: no stale recording survives an options change.
/// </summary>
public sealed class SimulatedRecordings : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("treescout-fusion-tests-").FullName;
    private readonly ConcurrentDictionary<SimulationOptions, Lazy<Recording>> _recordings = new();

    /// <summary>The recording of <paramref name="options"/>, rendered the first time it is asked for.</summary>
    public Recording For(SimulationOptions options) =>
        _recordings.GetOrAdd(options, o => new Lazy<Recording>(() =>
        {
            var directory = Path.Combine(_root, Guid.NewGuid().ToString("N"));
            ScanSimulator.Run(o, directory, replace: true);
            return new Recording(directory);
        })).Value;

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
