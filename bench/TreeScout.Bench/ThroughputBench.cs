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
/// `throughput`: a simulated two-camera drive (both sides of the row, 1 m tree spacing) through the embedded pipeline,
/// once per frame-plan variant (full-rate, decimated, canopy-band, both; docs/adr/0065), each twice side by side: at its
/// recorded timing — what a tractor does, frames shed when the pipeline falls behind — and at max rate (as fast as the
/// pipeline goes), each scored against the truth. Prints a table and, last, one JSON line: the reported variant's
/// numbers (`--report`, default the last one), and every variant's. A variant's capacity in trees per hour is its
/// max-rate run's; real time means that capacity covers the drive and the recorded-timing run shed nothing.
/// </summary>
internal static class ThroughputBench
{
    /// <summary>Each variant's FramePlan switches; "full-rate" is every frame, whole: the accuracy every lever is held against.</summary>
    private static readonly Dictionary<string, (bool Decimate, bool CanopyBand)> Variants = new(StringComparer.Ordinal)
    {
        ["full-rate"] = (false, false),
        ["decimated"] = (true, false),
        ["canopy-band"] = (false, true),
        ["both"] = (true, true),
    };

    public static async Task<int> RunAsync(string[] args)
    {
        string? Value(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        double Number(string name, double fallback) => Value(name) is { } v ? double.Parse(v, CultureInfo.InvariantCulture) : fallback;
        var variants = (Value("--variants") ?? string.Join(',', Variants.Keys)).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (variants.FirstOrDefault(v => !Variants.ContainsKey(v)) is { } unknown)
        {
            Console.Error.WriteLine($"--variants: unknown variant '{unknown}' (known: {string.Join(", ", Variants.Keys)})");
            return 2;
        }
        // --precision fp32|int8: the shipped models the detection worker runs (docs/adr/0067); default its default.
        var precision = Value("--precision") ?? new DetectionOptions().Precision;
        var report = Value("--report") ?? variants[^1];
        if (!variants.Contains(report))
        {
            Console.Error.WriteLine($"--report {report} is not among --variants {string.Join(",", variants)}");
            return 2;
        }
        var options = new SimulationOptions
        {
            Seed = (int)Number("--seed", 23001),
            Rows = (int)Number("--rows", 2),
            TreesPerRow = (int)Number("--trees-per-row", 100),
            TreeSpacingM = 1.0,
            RowSpacingM = Number("--row-spacing", 3.5),
            SpeedKmh = Number("--speed-kmh", 10),
            Fps = Number("--fps", 10),
            Cameras = CameraSetup.Both,
            CropDirectory = Path.GetFullPath(Value("--crops") ?? "../shared/data/bbch"),
        };
        // Frames each cluster should be seen in (FramePlan:SightingsPerCluster) for the decimating variants.
        var sightings = Value("--sightings") ?? new FramePlanOptions().SightingsPerCluster.ToString(CultureInfo.InvariantCulture);
        var root = Path.Combine(Path.GetTempPath(), $"treescout-throughput-{options.Seed}-{options.Rows}x{options.TreesPerRow}-{options.SpeedKmh}kmh-{options.Fps}fps"
            + (options.RowSpacingM == 3.5 ? "" : $"-{options.RowSpacingM.ToString(CultureInfo.InvariantCulture)}m"));
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
        var driven = trees / (driveS / 3600);
        using var loggerFactory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Warning).AddSimpleConsole());

        var results = new List<VariantResult>();
        foreach (var variant in variants)
        {
            var (decimate, band) = Variants[variant];
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                [$"{FramePlanOptions.Section}:{nameof(FramePlanOptions.Decimate)}"] = decimate.ToString(),
                [$"{FramePlanOptions.Section}:{nameof(FramePlanOptions.CanopyBand)}"] = band.ToString(),
                [$"{FramePlanOptions.Section}:{nameof(FramePlanOptions.SightingsPerCluster)}"] = sightings,
                [$"{DetectionOptions.Section}:{nameof(DetectionOptions.Precision)}"] = precision,
            }).Build();
            Console.Error.WriteLine($"{variant}: recorded timing, {frameCount} frames over {driveS:F0} s");
            var recorded = await ScanAsync(recording, Path.Combine(root, variant, "recorded"), ReplayPace.Recorded, configuration, loggerFactory);
            Console.Error.WriteLine($"{variant}: max rate");
            var maxRate = await ScanAsync(recording, Path.Combine(root, variant, "max-rate"), ReplayPace.AsFastAsAccepted, configuration, loggerFactory);
            results.Add(new VariantResult(
                variant, recorded, maxRate,
                Scorer.Compute(truth, RunResult.ReadStore(Path.Combine(root, variant, "recorded", RunResult.StoreFile))),
                Scorer.Compute(truth, RunResult.ReadStore(Path.Combine(root, variant, "max-rate", RunResult.StoreFile))),
                trees / maxRate.Elapsed.TotalHours));
        }
        var rssMiB = PeakRssMiB();

        var load = File.ReadAllText("/proc/loadavg").Split(' ')[0];
        Console.WriteLine($"{trees} trees, {frameCount} frames (2 cameras, {options.Fps} fps each, {options.SpeedKmh} km/h: {driven:F0} trees/h driven), rows {options.RowSpacingM} m apart, seed {options.Seed}, {sightings} sightings per cluster when decimating, {precision} models, load average {load}");
        Console.WriteLine($"{"",-28}{"frames",7}{"inferred",9}{"decimated",10}{"shed",6}{"elapsed s",10}{"trees/h",9}{"p50 s",8}{"p99 s",8}{"attribution",12}{"recall",8}{"count MAPE",11}");
        foreach (var r in results)
        {
            foreach (var (pace, run, score) in new[] { ("recorded timing", r.Recorded, r.RecordedScore), ("max rate", r.MaxRate, r.MaxRateScore) })
            {
                var f = run.Result.Frames;
                Console.WriteLine($"{r.Variant + ", " + pace,-28}{f.FramesPublished,7}{f.FramesPublished - f.FramesDecimated,9}{f.FramesDecimated,10}{f.FramesShed,6}{run.Elapsed.TotalSeconds,10:F1}{trees / run.Elapsed.TotalHours,9:F0}" +
                    (pace == "max rate" ? $"{"—",8}{"—",8}" : $"{run.Latency.P50,8:F2}{run.Latency.P99,8:F2}") +
                    $"{score.Clusters.AttributionShare,12:P1}{score.Clusters.Recall,8:P1}{score.Trees.CountMapePercent,10:F1}%");
            }
        }
        Console.WriteLine("inferred = frames the detector ran on; frame->map latency: from a cluster's last frame being captured to the map update that has it (the map writer announces updates every MapWriter:LiveUpdateInterval); trees/h = trees / elapsed");
        var reported = results.Single(r => r.Variant == report);
        var json = Json(reported, driven, rssMiB);
        json["variant"] = reported.Variant;
        json["variants"] = new JsonObject(results.Select(r => KeyValuePair.Create(r.Variant, (JsonNode?)Json(r, driven, rssMiB: null))));
        Console.WriteLine(json.ToJsonString());
        return 0;
    }

    private sealed record VariantResult(string Variant, Timed Recorded, Timed MaxRate, Score RecordedScore, Score MaxRateScore, double TreesPerHour);

    /// <summary>The issue's JSON shape for one variant: recorded-timing numbers, the max-rate run's capacity and accuracy.</summary>
    private static JsonObject Json(VariantResult r, double driven, long? rssMiB)
    {
        var frames = r.Recorded.Result.Frames;
        var json = new JsonObject
        {
            ["treesPerHour"] = Math.Round(r.TreesPerHour),
            ["realTime"] = r.TreesPerHour >= driven && frames.FramesShed == 0,
            ["framesProcessed"] = frames.FramesPublished - frames.FramesDecimated,
            ["framesDecimated"] = frames.FramesDecimated,
            ["framesShed"] = frames.FramesShed,
            ["frameToMapP50S"] = Math.Round(r.Recorded.Latency.P50, 2),
            ["frameToMapP99S"] = Math.Round(r.Recorded.Latency.P99, 2),
            ["attribution"] = Math.Round(r.RecordedScore.Clusters.AttributionShare, 4),
            ["recall"] = Math.Round(r.RecordedScore.Clusters.Recall, 4),
            ["countMape"] = r.RecordedScore.Trees.CountMapePercent is { } mape ? Math.Round(mape, 1) : null,
            ["maxRate"] = new JsonObject
            {
                ["elapsedS"] = Math.Round(r.MaxRate.Elapsed.TotalSeconds, 1),
                ["framesDecimated"] = r.MaxRate.Result.Frames.FramesDecimated,
                ["attribution"] = Math.Round(r.MaxRateScore.Clusters.AttributionShare, 4),
                ["countMape"] = r.MaxRateScore.Trees.CountMapePercent is { } m ? Math.Round(m, 1) : null,
            },
        };
        if (rssMiB is { } rss)
        {
            json["rssMiBByWorker"] = new JsonObject { ["embedded"] = rss };
        }
        return json;
    }

    private sealed record Timed(ScanResult Result, TimeSpan Elapsed, (double P50, double P99) Latency);

    /// <summary>The embedded workers (detection, fusion, map writer) fed through a bus that notes when each frame went out and each map update came.</summary>
    private static async Task<Timed> ScanAsync(string recording, string outDirectory, ReplayPace pace, IConfiguration configuration, ILoggerFactory loggerFactory)
    {
        if (Directory.Exists(outDirectory))
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(outDirectory, recursive: true);
        }
        Directory.CreateDirectory(outDirectory);
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
