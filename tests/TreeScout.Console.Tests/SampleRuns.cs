using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using TreeScout.Capture;
using TreeScout.Cli.Scanning;
using TreeScout.Contracts;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Calibration;
using TreeScout.MapWriter.Exports;
using TreeScout.MapWriter.Store;
using TreeScout.Tests;

namespace TreeScout.WebConsole.Tests;

/// <summary>
/// A runs folder as the console finds it on a tractor: the bundled sample scanned as the README does it (embedded), a
/// later run of the same block in which one tree gained clusters, calibrated on ten hand counts as `treescout calibrate`
/// does it, and two damaged folders (a store that is not one, a run folder without its store).
/// </summary>
public sealed class SampleRuns : IDisposable
{
    public const string Block = "Betuwe demo block";
    public const string LaterRunId = "20260422-101500-betuwe-demo-block-later";
    public const string GainingTree = "R01-T005";
    public const int Gained = 7;

    public SampleRuns()
    {
        Root = Directory.CreateTempSubdirectory("treescout-console-").FullName;
        Runs = Path.Combine(Root, "runs");
        var sample = Path.Combine(Runs, "sample");
        var pipeline = new ScanPipeline(new ConfigurationBuilder().Build(), NullLoggerFactory.Instance, TextWriter.Null);
        Sample = pipeline.RunEmbeddedAsync(new ScanRequest(Path.Combine(RepoPaths.Samples, "betuwe-rtk-2x12"), sample, ReplayPace.AsFastAsAccepted), CancellationToken.None).GetAwaiter().GetResult();
        SampleFolder = new RunFolder(sample);

        var later = new RunFolder(Path.Combine(Runs, LaterRunId));
        Directory.CreateDirectory(later.Path);
        File.Copy(SampleFolder.StorePath, later.StorePath);
        using (var store = RunStore.OpenOrCreate(later.StorePath))
        {
            store.SetMetadata(new Dictionary<string, string?> { [RunMetadataKeys.RunId] = LaterRunId, [RunMetadataKeys.StartedAt] = "2026-04-22T10:15:00.0000000+00:00" });
            var tree = store.ReadTrees().Single(t => t.TreeId == GainingTree);
            store.AddObservations(Guid.NewGuid(), [.. Enumerable.Range(0, Gained).Select(_ => Observation(tree))], RunMetadataKeys.ReadProfile(store.ReadMetadata()));
            store.Checkpoint();
        }
        // The suggested trees, counted by "hand" as 1.25 × scanned + 12 give or take a few (a good fit, not a perfect one).
        HandCounts = Path.Combine(Root, "hand.csv");
        File.WriteAllText(HandCounts, "tree_id,clusters\n" + string.Join("\n", RunCalibration.Suggest(later.StorePath, 10).Select((t, i) =>
            string.Create(CultureInfo.InvariantCulture, $"{t.TreeId},{(int)Math.Round((1.25 * t.ClustersTotal) + 12 + (((i % 3) - 1) * 5))}"))) + "\n");
        Calibration = RunCalibration.CalibrateAsync(later.StorePath, HandCounts, acceptPoorFit: false, DateTimeOffset.Parse("2026-04-23T09:00:00Z", CultureInfo.InvariantCulture),
            new MapWriterOptions(), CancellationToken.None).GetAwaiter().GetResult();
        LaterFolder = later;

        Directory.CreateDirectory(Path.Combine(Runs, "garbage"));
        File.WriteAllBytes(Path.Combine(Runs, "garbage", RunFolder.StoreFileName), [.. Enumerable.Range(0, 4096).Select(i => (byte)(i * 31))]);
        Directory.CreateDirectory(Path.Combine(Runs, "no-store"));
        File.WriteAllText(Path.Combine(Runs, "no-store", RunFolder.SummaryFileName), "{}");
    }

    public string Root { get; }

    /// <summary>The folder the console is pointed at.</summary>
    public string Runs { get; }

    public ScanResult Sample { get; }

    public RunFolder SampleFolder { get; }

    public string SampleRunId => Sample.RunId;

    /// <summary>The later run's folder and the hand counts it was calibrated with.</summary>
    public RunFolder LaterFolder { get; }

    public string HandCounts { get; }

    public CalibrationOutcome Calibration { get; }

    private static BlossomClusterObservation Observation(TreeRecord tree) => new()
    {
        ObservationId = Guid.NewGuid(),
        TreeId = tree.TreeId,
        RowId = tree.RowId,
        Latitude = tree.Latitude!.Value,
        Longitude = tree.Longitude!.Value,
        PositionSigmaM = 0.05,
        LowConfidence = false,
        Stage = BbchStage.Bbch65,
        StageProbabilities = [.. BbchStages.Ordered.Select(s => s == BbchStage.Bbch65 ? 1f : 0f)],
        Score = 0.9f,
        FramesSeen = 3,
        FirstFrameSequence = 1,
        LastFrameSequence = 3,
        CameraId = "cam-right",
        GnssQuality = GnssQuality.RtkFixed,
        ObservedAtUtc = DateTimeOffset.Parse("2026-04-22T10:16:00Z", CultureInfo.InvariantCulture),
    };

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

[CollectionDefinition(Name)]
public sealed class SampleRunsCollection : ICollectionFixture<SampleRuns>
{
    public const string Name = "scanned sample runs";
}
