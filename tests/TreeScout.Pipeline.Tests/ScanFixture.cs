using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using TreeScout.Capture;
using TreeScout.Cli.Scanning;
using TreeScout.Contracts;
using TreeScout.Simulation;
using TreeScout.Tests;
using Xunit;

namespace TreeScout.Pipeline.Tests;

/// <summary>One small simulated run (ground truth known), scanned once in the embedded mode; shared by the tests that compare against it.</summary>
public sealed class ScanFixture : IDisposable
{
    public ScanFixture()
    {
        Root = Directory.CreateTempSubdirectory("treescout-pipeline-").FullName;
        Recording = Path.Combine(Root, "recording");
        ScanSimulator.Run(Options, Recording);
        EmbeddedOut = Path.Combine(Root, "embedded");
        var pipeline = new ScanPipeline(new ConfigurationBuilder().Build(), NullLoggerFactory.Instance, TextWriter.Null);
        Embedded = pipeline.RunEmbeddedAsync(new ScanRequest(Recording, EmbeddedOut, ReplayPace.AsFastAsAccepted), CancellationToken.None).GetAwaiter().GetResult();
    }

    /// <summary>One straight row of 8 trees with RTK: small enough for CI, big enough for de-duplication across frames to matter.</summary>
    public static SimulationOptions Options { get; } = new()
    {
        Seed = 7,
        Rows = 1,
        TreesPerRow = 8,
        MissingTreeFraction = 0,
        Gnss = GnssFixType.Rtk,
        Fps = 4,
        ImageWidth = 960,
        ImageHeight = 540,
        CropDirectory = RepoPaths.SharedData("bbch"),
    };

    public string Root { get; }

    public string Recording { get; }

    public string EmbeddedOut { get; }

    public ScanResult Embedded { get; }

    /// <summary>A copy of one of the fixture's folders (the recording, the scan's output) for a test that changes it: ROOT/NAME.</summary>
    public string CopyOf(string folder, string name) => FolderCopy.Into(folder, Path.Combine(Root, name));

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

/// <summary>The tests that share one simulated run and its embedded scan.</summary>
[CollectionDefinition(Name)]
public sealed class ScanCollection : ICollectionFixture<ScanFixture>
{
    public const string Name = "scanned simulated run";
}
