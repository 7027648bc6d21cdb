using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using TreeScout.Capture;
using TreeScout.Cli.Scanning;
using TreeScout.Contracts;
using TreeScout.Detection;
using TreeScout.Fusion;
using TreeScout.Hosting;
using TreeScout.MapWriter;
using TreeScout.Orchard;
using TreeScout.Messaging;
using TreeScout.Simulation;
using TreeScout.Simulation.Scoring;

namespace TreeScout.Bench;

/// <summary>
/// `throughput`: a simulated two-camera drive (both sides of the row, 1 m tree spacing) through the embedded pipeline
/// twice, side by side: at its recorded timing — what a tractor does, frames shed when the pipeline falls behind — and
/// at full frame rate (every frame processed, as fast as the pipeline goes), each scored against the truth. Prints a
/// table and, last, one JSON line. The pipeline's capacity in trees per hour is the max-rate run's; real time means
/// that capacity covers the drive and the recorded-timing run shed nothing.
/// </summary>
internal static class ThroughputBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        string? Value(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        double Number(string name, double fallback) => Value(name) is { } v ? double.Parse(v, CultureInfo.InvariantCulture) : fallback;
        var options = new SimulationOptions
        {
            Seed = (int)Number("--seed", 23001),
            Rows = (int)Number("--rows", 2),
            TreesPerRow = (int)Number("--trees-per-row", 100),
            TreeSpacingM = 1.0,
            SpeedKmh = Number("--speed-kmh", 10),
            Fps = Number("--fps", 10),
            Cameras = CameraSetup.Both,
            CropDirectory = Path.GetFullPath(Value("--crops") ?? "../shared/data/bbch"),
        };
        var root = Path.Combine(Path.GetTempPath(), $"treescout-throughput-{options.Seed}-{options.Rows}x{options.TreesPerRow}-{options.SpeedKmh}kmh-{options.Fps}fps");
        var recording = Path.Combine(root, "recording");
        if (!File.Exists(Path.Combine(recording, "truth.json")))
        {
            Console.Error.WriteLine($"simulating {options.Rows} rows x {options.TreesPerRow} trees, both sides, {options.SpeedKmh} km/h, {options.Fps} fps into {recording}");
            ScanSimulator.Run(options, recording, replace: true);
        }
        var truth = GroundTruth.Load(Path.Combine(recording, "truth.json"));
        var trees = truth.Trees.Count(t => t.Present);
        // frames.csv read once: how many frames, and the drive's length from the first to the last.
        var monotonicNs = new Recording(recording).ReadFrames().Select(f => f.MonotonicNs).ToList();
        var frameCount = monotonicNs.Count;
        var driveS = (monotonicNs.Max() - monotonicNs.Min()) / 1e9;
        using var loggerFactory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Warning).AddSimpleConsole());

        Console.Error.WriteLine($"recorded timing: {frameCount} frames over {driveS:F0} s");
        var recorded = await ScanAsync(recording, Path.Combine(root, "recorded"), ReplayPace.Recorded, loggerFactory);
        var rssMiB = PeakRssMiB();
        Console.Error.WriteLine("max rate");
        var maxRate = await ScanAsync(recording, Path.Combine(root, "max-rate"), ReplayPace.AsFastAsAccepted, loggerFactory);
        var recordedScore = Scorer.Compute(truth, RunResult.ReadStore(Path.Combine(root, "recorded", RunResult.StoreFile)));
        var maxRateScore = Scorer.Compute(truth, RunResult.ReadStore(Path.Combine(root, "max-rate", RunResult.StoreFile)));

        var capacity = trees / maxRate.Elapsed.TotalHours;
        var driven = trees / (driveS / 3600);
        var realTime = capacity >= driven && recorded.Result.Frames.FramesShed == 0;
        var load = File.ReadAllText("/proc/loadavg").Split(' ')[0];
        Console.WriteLine($"{trees} trees, {frameCount} frames (2 cameras, {options.Fps} fps each, {options.SpeedKmh} km/h: {driven:F0} trees/h driven), seed {options.Seed}, load average {load}");
        Console.WriteLine($"{"",-16}{"frames",8}{"shed",7}{"elapsed s",11}{"trees/h",10}{"p50 s",8}{"p99 s",8}{"attribution",13}{"count MAPE",12}");
        foreach (var (name, run, score) in new[] { ("recorded timing", recorded, recordedScore), ("max rate", maxRate, maxRateScore) })
        {
            Console.WriteLine($"{name,-16}{run.Result.Frames.FramesPublished,8}{run.Result.Frames.FramesShed,7}{run.Elapsed.TotalSeconds,11:F1}{trees / run.Elapsed.TotalHours,10:F0}" +
                $"{run.Latency.P50,8:F2}{run.Latency.P99,8:F2}{score.Clusters.AttributionShare,13:P1}{score.Trees.CountMapePercent,11:F1}%");
        }
        Console.WriteLine("frame->map latency: from a cluster's last frame being captured to the map update that has it (the map writer announces updates every MapWriter:LiveUpdateInterval)");
        Console.WriteLine(new JsonObject
        {
            ["treesPerHour"] = Math.Round(capacity),
            ["realTime"] = realTime,
            ["framesProcessed"] = recorded.Result.Frames.FramesPublished,
            ["framesShed"] = recorded.Result.Frames.FramesShed,
            ["frameToMapP50S"] = Math.Round(recorded.Latency.P50, 2),
            ["frameToMapP99S"] = Math.Round(recorded.Latency.P99, 2),
            ["rssMiBByWorker"] = new JsonObject { ["embedded"] = rssMiB },
            ["attribution"] = Math.Round(recordedScore.Clusters.AttributionShare, 4),
            ["countMape"] = recordedScore.Trees.CountMapePercent is { } mape ? Math.Round(mape, 1) : null,
            ["maxRate"] = new JsonObject
            {
                ["elapsedS"] = Math.Round(maxRate.Elapsed.TotalSeconds, 1),
                ["attribution"] = Math.Round(maxRateScore.Clusters.AttributionShare, 4),
                ["countMape"] = maxRateScore.Trees.CountMapePercent is { } m ? Math.Round(m, 1) : null,
            },
        }.ToJsonString());
        return 0;
    }

    private sealed record Timed(ScanResult Result, TimeSpan Elapsed, (double P50, double P99) Latency);

    /// <summary>The embedded workers (detection, fusion, map writer) fed through a bus that notes when each frame went out and each map update came.</summary>
    private static async Task<Timed> ScanAsync(string recording, string outDirectory, ReplayPace pace, ILoggerFactory loggerFactory)
    {
        if (Directory.Exists(outDirectory))
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(outDirectory, recursive: true);
        }
        Directory.CreateDirectory(outDirectory);
        var configuration = new ConfigurationBuilder().Build();
        await using var workers = await EmbeddedWorkers.StartAsync(
            [new DetectionWorkerModule(), new FusionWorkerModule(), new MapWriterWorkerModule(outDirectory)], configuration, loggerFactory, CancellationToken.None);
        await using var feeder = workers.Connect("throughput", loggerFactory);
        await feeder.StartAsync(CancellationToken.None);
        var timing = new TimingBus(feeder);
        var updates = new ConcurrentQueue<(long At, long Observations)>();
        await using var maps = await feeder.ListenAsync(Topology.MapsExchange, "#", e =>
        {
            if (MessageCodec.Decode(e) is MapUpdated map)
            {
                updates.Enqueue((Stopwatch.GetTimestamp(), map.Observations));
            }
            return Task.CompletedTask;
        }, CancellationToken.None);
        var clock = Stopwatch.StartNew();
        var result = await new ScanPipeline(configuration, loggerFactory, TextWriter.Null)
            .RunOnBrokerAsync(timing, new ScanRequest(recording, outDirectory, pace), CancellationToken.None);
        var elapsed = clock.Elapsed;
        return new Timed(result, elapsed, Latency(Path.Combine(outDirectory, RunResult.StoreFile), timing.Published, [.. updates]));
    }

    /// <summary>Per stored cluster: the first map update whose count includes it (rows are numbered in insertion order), minus when its last frame went out.</summary>
    private static (double P50, double P99) Latency(string store, IReadOnlyDictionary<(string Camera, long Sequence), long> published, List<(long At, long Observations)> updates)
    {
        var seconds = new List<double>();
        using var connection = new SqliteConnection($"Data Source={store};Mode=ReadOnly");
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT camera_id, last_frame FROM observations ORDER BY fid";
        using var r = cmd.ExecuteReader();
        var ordinal = 0L;
        var u = 0;
        while (r.Read())
        {
            ordinal++;
            while (u < updates.Count && updates[u].Observations < ordinal)
            {
                u++;
            }
            if (u < updates.Count && published.TryGetValue((r.GetString(0), r.GetInt64(1)), out var sent))
            {
                seconds.Add(Stopwatch.GetElapsedTime(sent, updates[u].At).TotalSeconds);
            }
        }
        seconds.Sort();
        return seconds.Count == 0 ? (double.NaN, double.NaN) : (Scorer.Percentile([.. seconds], 0.5), Scorer.Percentile([.. seconds], 0.99));
    }

    private static long PeakRssMiB() =>
        long.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;

    /// <summary>The feeder's bus, noting when each frame was confirmed by the broker (Stopwatch ticks by camera and sequence).</summary>
    private sealed class TimingBus(IMessageBus bus) : DelegatingMessageBus(bus)
    {
        private readonly ConcurrentDictionary<(string Camera, long Sequence), long> _published = new();

        public IReadOnlyDictionary<(string Camera, long Sequence), long> Published => _published;

        public override async Task PublishAsync(IMessage message, CancellationToken cancellationToken = default)
        {
            await base.PublishAsync(message, cancellationToken);
            if (message is FrameCaptured frame)
            {
                _published[(frame.CameraId, frame.Sequence)] = Stopwatch.GetTimestamp();
            }
        }
    }
}
