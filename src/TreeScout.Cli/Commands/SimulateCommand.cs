using System.CommandLine;
using System.Globalization;
using TreeScout.Simulation;

namespace TreeScout.Cli.Commands;

/// <summary>`treescout simulate`: writes a simulated scan run (recording + ground truth) of an orchard block in bloom.</summary>
public static class SimulateCommand
{
    public static Command Create()
    {
        var defaults = new SimulationOptions();
        var output = new Option<string>("--out") { Description = "Output folder for the recording (created; must be empty unless --force)", Required = true };
        var seed = new Option<int>("--seed") { Description = "Random seed; the same seed and options give identical output", DefaultValueFactory = _ => defaults.Seed };
        var rows = new Option<int>("--rows") { Description = "Number of tree rows", DefaultValueFactory = _ => defaults.Rows };
        var trees = new Option<int>("--trees-per-row") { Description = "Planted positions per row", DefaultValueFactory = _ => defaults.TreesPerRow };
        var rowSpacing = new Option<double>("--row-spacing") { Description = "Distance between rows, metres", DefaultValueFactory = _ => defaults.RowSpacingM };
        var treeSpacing = new Option<double>("--tree-spacing") { Description = "Distance between trees in a row, metres", DefaultValueFactory = _ => defaults.TreeSpacingM };
        var bearing = new Option<double>("--row-bearing") { Description = "Row direction from its first end, degrees from true north", DefaultValueFactory = _ => defaults.RowBearingDeg };
        var speed = new Option<double>("--speed-kmh") { Description = "Driving speed in the rows, km/h", DefaultValueFactory = _ => defaults.SpeedKmh };
        var gnss = new Option<string>("--gnss") { Description = "Receiver solution: rtk, float, dgps or autonomous", DefaultValueFactory = _ => "rtk" };
        var gnssRate = new Option<double>("--gnss-rate") { Description = "Receiver output rate, Hz", DefaultValueFactory = _ => defaults.GnssRateHz };
        var heading = new Option<bool>("--heading") { Description = "Dual-antenna receiver: also emit HDT" };
        var talker = new Option<string>("--talker") { Description = "NMEA talker id: GN or GP", DefaultValueFactory = _ => defaults.Talker };
        var noEvents = new Option<bool>("--no-gnss-events") { Description = "No random fix-type changes or dropouts" };
        var outage = new Option<string[]>("--gnss-outage") { Description = "Forced GNSS outage START:DURATION in seconds from the start (repeatable)", AllowMultipleArgumentsPerToken = false };
        var fps = new Option<double>("--fps") { Description = "Camera frame rate", DefaultValueFactory = _ => defaults.Fps };
        var side = new Option<string>("--camera-side") { Description = "Cameras: left, right or both", DefaultValueFactory = _ => "right" };
        var bothSides = new Option<bool>("--both-sides") { Description = "Scan every row from both its sides (both cameras: every alley; one camera: two passes per row)" };
        var curved = new Option<bool>("--curved-rows") { Description = "Rows follow a gentle curve (contour planting)" };
        var missing = new Option<double>("--missing-trees") { Description = "Share of planted positions without a tree", DefaultValueFactory = _ => defaults.MissingTreeFraction };
        var clusters = new Option<string>("--clusters-per-tree") { Description = "Typical blossom clusters per tree MIN-MAX (some trees sparser or heavier)", DefaultValueFactory = _ => $"{defaults.MinClustersPerTree}-{defaults.MaxClustersPerTree}" };
        var stageMix = new Option<string?>("--stage-mix") { Description = "Stage weights, e.g. 61=0.3,65=0.5,67=0.2 (default: full bloom centred on 61-67)" };
        var resolution = new Option<string>("--resolution") { Description = "Image size WIDTHxHEIGHT", DefaultValueFactory = _ => $"{defaults.ImageWidth}x{defaults.ImageHeight}" };
        var rotation = new Option<int>("--camera-rotation") { Description = "Real camera body rotation: 0, or 180 = mounted upside down (frames rendered rotated)" };
        var mountRotation = new Option<int?>("--mount-rotation") { Description = "mountRotationDeg written to camera.json (default: the real rotation)" };
        var quality = new Option<int>("--jpeg-quality") { Description = "JPEG quality of the frames", DefaultValueFactory = _ => defaults.JpegQuality };
        var cropCameras = new Option<string>("--crop-cameras") { Description = "Which real crops to composite: heldout (evaluation), train or all", DefaultValueFactory = _ => "heldout" };
        var crops = new Option<string?>("--crops") { Description = "Folder of real blossom crops by stage (default: ../shared/data/bbch next to the repository)" };
        var noFrames = new Option<bool>("--no-frames") { Description = "Skip the images: plan, GNSS and truth only (not a scannable recording)" };
        var start = new Option<string?>("--start") { Description = "GNSS time of the start, ISO-8601 UTC (default 2026-04-21T09:30:00Z)" };
        var force = new Option<bool>("--force") { Description = "Replace the contents of a non-empty output folder" };

        var command = new Command("simulate", "Simulate a scan run of an orchard block in bloom: frames, NMEA, camera.json, block plan and ground truth.")
        {
            output, seed, rows, trees, rowSpacing, treeSpacing, bearing, speed, gnss, gnssRate, heading, talker, noEvents, outage, fps, side, bothSides,
            curved, missing, clusters, stageMix, resolution, rotation, mountRotation, quality, cropCameras, crops, noFrames, start, force,
        };
        command.SetAction(parse =>
        {
            SimulationOptions options;
            try
            {
                var (width, height) = ParseResolution(parse.GetValue(resolution)!);
                var (min, max) = ParseRange(parse.GetValue(clusters)!);
                options = new SimulationOptions
                {
                    Seed = parse.GetValue(seed),
                    Rows = parse.GetValue(rows),
                    TreesPerRow = parse.GetValue(trees),
                    RowSpacingM = parse.GetValue(rowSpacing),
                    TreeSpacingM = parse.GetValue(treeSpacing),
                    RowBearingDeg = parse.GetValue(bearing),
                    SpeedKmh = parse.GetValue(speed),
                    Gnss = SimulationOptions.ParseGnss(parse.GetValue(gnss)!),
                    GnssRateHz = parse.GetValue(gnssRate),
                    Heading = parse.GetValue(heading),
                    Talker = parse.GetValue(talker)!.ToUpperInvariant(),
                    GnssEvents = !parse.GetValue(noEvents),
                    GnssOutages = [.. (parse.GetValue(outage) ?? []).Select(SimulationOptions.ParseOutage)],
                    Fps = parse.GetValue(fps),
                    Cameras = SimulationOptions.ParseCameras(parse.GetValue(side)!),
                    BothSides = parse.GetValue(bothSides),
                    CurvedRows = parse.GetValue(curved),
                    MissingTreeFraction = parse.GetValue(missing),
                    MinClustersPerTree = min,
                    MaxClustersPerTree = max,
                    StageMix = parse.GetValue(stageMix) is { } mix ? SimulationOptions.ParseStageMix(mix) : SimulationOptions.DefaultStageMix,
                    ImageWidth = width,
                    ImageHeight = height,
                    CameraRotationDeg = parse.GetValue(rotation),
                    MountRotationDeg = parse.GetValue(mountRotation),
                    JpegQuality = parse.GetValue(quality),
                    CropCameras = SimulationOptions.ParseCropCameras(parse.GetValue(cropCameras)!),
                    CropDirectory = parse.GetValue(crops) ?? SharedData.Find("bbch"),
                    RenderFrames = !parse.GetValue(noFrames),
                    StartUtc = parse.GetValue(start) is { } s ? ParseStart(s) : defaults.StartUtc,
                };
                var summary = ScanSimulator.Run(options, parse.GetValue(output)!, parse.GetValue(force), Console.WriteLine);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"wrote {summary.Directory}: {summary.Frames} frames, {summary.GnssEpochs} GNSS epochs, {summary.Trees} planted positions ({summary.TreesMissing} gaps), " +
                    $"{summary.Clusters} clusters ({summary.VisibleClusters} visible), drive {summary.DriveDurationS:F1} s, {summary.Bytes / 1e6:F1} MB in {summary.Elapsed.TotalSeconds:F1} s"));
            }
            catch (SimulationOptionsException ex)
            {
                throw new CliException(ex.Message, Cli.UsageError);
            }
            return 0;
        });
        return command;
    }

    private static (int Width, int Height) ParseResolution(string text)
    {
        var parts = text.ToLowerInvariant().Split('x');
        if (parts.Length == 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var w) && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var h))
        {
            return (w, h);
        }
        throw new SimulationOptionsException($"--resolution '{text}' must be WIDTHxHEIGHT, e.g. 1280x720");
    }

    private static (int Min, int Max) ParseRange(string text)
    {
        var parts = text.Split('-');
        if (parts.Length == 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var min) && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var max))
        {
            return (min, max);
        }
        throw new SimulationOptionsException($"--clusters-per-tree '{text}' must be MIN-MAX, e.g. 25-60");
    }

    private static DateTimeOffset ParseStart(string text) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t)
            ? t
            : throw new SimulationOptionsException($"--start '{text}' is not an ISO-8601 time, e.g. 2026-04-21T09:30:00Z");
}

/// <summary>Finds the read-only shared data (../shared/data next to the repository) from the working directory or the program's folder.</summary>
public static class SharedData
{
    public const string EnvironmentVariable = "TREESCOUT_SHARED";

    public static string Find(string dataSet)
    {
        if (Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } env)
        {
            var fromEnv = Path.Combine(env, "data", dataSet);
            return Directory.Exists(fromEnv) ? fromEnv : throw new SimulationOptionsException($"{EnvironmentVariable}={env} has no data/{dataSet}");
        }
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "shared", "data", dataSet);
                if (Directory.Exists(candidate))
                {
                    return candidate;
                }
            }
        }
        throw new SimulationOptionsException($"shared data not found: no shared/data/{dataSet} above {Directory.GetCurrentDirectory()} (the repository expects ../shared beside it; set {EnvironmentVariable} or pass --crops)");
    }
}
