using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using TreeScout.Capture;
using TreeScout.Cli.RunControl;
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
using TreeScout.Tests;

namespace TreeScout.Bench;

/// <summary>
/// `throughput`: a simulated two-camera drive (both sides of the row, 1 m tree spacing) through the pipeline, once per
/// frame-plan variant (full-rate, decimated, canopy-band, both; docs/adr/0065) and transport — embedded (the workers'
/// modules in this process on the in-memory broker) and rabbitmq (each worker its own process on a fresh virtual host
/// of the local broker, as on the tractor) — each twice side by side: at its recorded timing — what a tractor does,
/// frames shed when the pipeline falls behind — and at max rate (as fast as the pipeline goes), each scored against the
/// truth. Prints a table and, last, one JSON line: the reported variant's numbers (`--report`, default the last one; over
/// RabbitMQ when that ran), and every run's. A run's capacity in trees per hour is its max-rate run's; real time means
/// that capacity covers the drive and the recorded-timing run shed nothing and ended within <see cref="RealTimeSlack"/>
/// of the drive's end (a queue that absorbs a backlog sheds nothing, but its maps lag the tractor).
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

    private static readonly string[] Transports = ["embedded", "rabbitmq"];

    /// <summary>The worker processes of a run over RabbitMQ, as the tractor runs them (capture is this process: it feeds the recording).</summary>
    private static readonly string[] WorkerProjects = ["TreeScout.Detection", "TreeScout.Fusion", "TreeScout.MapWriter"];

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
        var transports = (Value("--transport") ?? string.Join(',', Transports)).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (transports.Length == 0 || transports.FirstOrDefault(t => !Transports.Contains(t)) is not null)
        {
            Console.Error.WriteLine($"--transport: expected {string.Join(", ", Transports)} or both, comma-separated");
            return 2;
        }
        if (transports.Contains("rabbitmq"))
        {
            try
            {
                TestBroker.EnsureReachable();
            }
            catch (InvalidOperationException ex)
            {
                Console.Error.WriteLine($"--transport rabbitmq: {ex.Message} Or measure embedded only: --transport embedded");
                return 2;
            }
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
            var settings = new Dictionary<string, string?>
            {
                [$"{FramePlanOptions.Section}:{nameof(FramePlanOptions.Decimate)}"] = decimate.ToString(),
                [$"{FramePlanOptions.Section}:{nameof(FramePlanOptions.CanopyBand)}"] = band.ToString(),
                [$"{FramePlanOptions.Section}:{nameof(FramePlanOptions.SightingsPerCluster)}"] = sightings,
                [$"{DetectionOptions.Section}:{nameof(DetectionOptions.Precision)}"] = precision,
            };
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
            foreach (var transport in transports)
            {
                var folder = Path.Combine(root, variant, transport);
                RabbitMqWorkers? started;
                try
                {
                    started = transport == "rabbitmq" ? await RabbitMqWorkers.StartAsync(settings, Path.Combine(folder, "writer"), loggerFactory) : null;
                }
                catch (InvalidOperationException ex)
                {
                    Console.Error.WriteLine($"{variant}, {transport}: {ex.Message}");
                    return 1;
                }
                await using var rabbitMq = started;
                Func<string, ReplayPace, Task<Timed>> scan = rabbitMq is null
                    ? (outDirectory, pace) => ScanEmbeddedAsync(recording, outDirectory, pace, configuration, loggerFactory)
                    : (outDirectory, pace) => rabbitMq.ScanAsync(recording, outDirectory, pace);
                Console.Error.WriteLine($"{variant}, {transport}: recorded timing, {frameCount} frames over {driveS:F0} s");
                var recorded = await scan(Path.Combine(folder, "recorded"), ReplayPace.Recorded);
                Console.Error.WriteLine($"{variant}, {transport}: max rate");
                var maxRate = await scan(Path.Combine(folder, "max-rate"), ReplayPace.AsFastAsAccepted);
                results.Add(new VariantResult(
                    variant, transport, trees, recorded, maxRate,
                    Scorer.Compute(truth, RunResult.ReadStore(Path.Combine(folder, "recorded", RunResult.StoreFile))),
                    Scorer.Compute(truth, RunResult.ReadStore(Path.Combine(folder, "max-rate", RunResult.StoreFile))),
                    trees / maxRate.Elapsed.TotalHours));
            }
        }
        // The embedded runs' workers share this process: its peak is theirs together (the simulation and scoring included).
        var embeddedRss = new Dictionary<string, long> { ["embedded"] = PeakRssMiB("self") };

        var load = File.ReadAllText("/proc/loadavg").Split(' ')[0];
        Console.WriteLine($"{trees} trees, {frameCount} frames (2 cameras, {options.Fps} fps each, {options.SpeedKmh} km/h: {driven:F0} trees/h driven), rows {options.RowSpacingM} m apart, seed {options.Seed}, {sightings} sightings per cluster when decimating, {precision} models, load average {load}");
        Console.WriteLine($"{"",-38}{"frames",7}{"inferred",9}{"decimated",10}{"shed",6}{"elapsed s",10}{"trees/h",9}{"p50 s",8}{"p99 s",8}{"fusion p50/99",14}{"final p50/99",13}{"corrected",10}{"CPU s",7}{"CPU-bound trees/h",18}{"attribution",12}{"recall",8}{"count MAPE",11}{"stage",7}");
        foreach (var r in results)
        {
            foreach (var (pace, run, score) in new[] { ("recorded timing", r.Recorded, r.RecordedScore), ("max rate", r.MaxRate, r.MaxRateScore) })
            {
                var f = run.Result.Frames;
                Console.WriteLine($"{r.Variant + ", " + r.Transport + ", " + pace,-38}{f.FramesPublished,7}{f.FramesPublished - f.FramesDecimated,9}{f.FramesDecimated,10}{f.FramesShed,6}{run.Elapsed.TotalSeconds,10:F1}{trees / run.Elapsed.TotalHours,9:F0}" +
                    (pace == "max rate" ? $"{"—",8}{"—",8}{"—",12}{"—",13}{"—",10}" : $"{run.Latency.ToMap.P50,8:F2}{run.Latency.ToMap.P99,8:F2}{$"{run.Latency.ToFusion.P50:F1}/{run.Latency.ToFusion.P99:F1}",12}{$"{run.Latency.ToFinal.P50:F1}/{run.Latency.ToFinal.P99:F1}",13}{run.Latency.Corrected,10}") +
                    $"{run.CpuS,7:F1}{trees / (run.CpuS / Environment.ProcessorCount / 3600),18:F0}" +
                    $"{score.Clusters.AttributionShare,12:P1}{score.Clusters.Recall,8:P1}{score.Trees.CountMapePercent,10:F1}%{score.Stages.Accuracy,7:P0}");
            }
        }
        foreach (var r in results.Where(r => r.Transport == "rabbitmq"))
        {
            Console.WriteLine($"{r.Variant}, rabbitmq: peak RSS by worker process (MiB) {string.Join(", ", r.RssMiBByWorker.Select(w => $"{w.Key} {w.Value}"))}; " +
                $"CPU s at recorded timing {string.Join(", ", r.Recorded.CpuSByWorker.Select(w => $"{w.Key} {w.Value}"))}, at max rate {string.Join(", ", r.MaxRate.CpuSByWorker.Select(w => $"{w.Key} {w.Value}"))}");
        }
        if (transports.Contains("embedded"))
        {
            Console.WriteLine($"embedded: peak RSS of this process (every embedded run, the simulation and the scoring) {embeddedRss["embedded"]} MiB");
        }
        Console.WriteLine($"inferred = frames the detector ran on; frame->map latency: from a cluster's last frame being captured to the first map update that shows it, provisional or not (the map writer announces updates every MapWriter:LiveUpdateInterval); final = the same for the cluster's final version (docs/adr/0073), corrected = clusters whose final version differs from the one first shown; trees/h = trees / elapsed; CPU s = the pipeline's CPU time (workers and feeder, not the broker); CPU-bound trees/h = what that CPU time allows on this machine's {Environment.ProcessorCount} cores with nothing else running (an upper bound); stage = matched clusters whose BBCH stage is right");
        var reported = results.Where(r => r.Variant == report).OrderBy(r => r.Transport == "rabbitmq" ? 0 : 1).First();
        var json = Json(reported, driven, driveS, reported.Transport == "rabbitmq" ? reported.RssMiBByWorker : embeddedRss);
        json["variant"] = reported.Variant;
        json["transport"] = reported.Transport;
        json["variants"] = new JsonObject(results.GroupBy(r => r.Variant).Select(g => KeyValuePair.Create(g.Key, (JsonNode?)new JsonObject(
            g.Select(r => KeyValuePair.Create(r.Transport, (JsonNode?)Json(r, driven, driveS, r.Transport == "rabbitmq" ? r.RssMiBByWorker : null)))))));
        Console.WriteLine(json.ToJsonString());
        return 0;
    }

    private sealed record VariantResult(string Variant, string Transport, int Trees, Timed Recorded, Timed MaxRate, Score RecordedScore, Score MaxRateScore, double TreesPerHour)
    {
        /// <summary>Each worker process's peak RSS over both runs (rabbitmq only).</summary>
        public IReadOnlyDictionary<string, long> RssMiBByWorker { get; } = Recorded.RssMiBByWorker.Keys
            .ToDictionary(k => k, k => Math.Max(Recorded.RssMiBByWorker[k], MaxRate.RssMiBByWorker.GetValueOrDefault(k)));
    }

    /// <summary>The issue's JSON shape for one variant: recorded-timing numbers, the max-rate run's capacity and accuracy.</summary>
    /// <summary>How long after the drive's last frame a real-time run may still take: the last tracks end and the final map is written.</summary>
    private static readonly TimeSpan RealTimeSlack = TimeSpan.FromSeconds(5);

    private static JsonObject Json(VariantResult r, double driven, double driveS, IReadOnlyDictionary<string, long>? rssMiB)
    {
        var frames = r.Recorded.Result.Frames;
        var json = new JsonObject
        {
            ["treesPerHour"] = Math.Round(r.TreesPerHour),
            ["realTime"] = r.TreesPerHour >= driven && frames.FramesShed == 0 && r.Recorded.Elapsed.TotalSeconds <= driveS + RealTimeSlack.TotalSeconds,
            ["framesProcessed"] = frames.FramesPublished - frames.FramesDecimated,
            ["framesDecimated"] = frames.FramesDecimated,
            ["framesShed"] = frames.FramesShed,
            ["frameToMapP50S"] = Math.Round(r.Recorded.Latency.ToMap.P50, 2),
            ["frameToMapP99S"] = Math.Round(r.Recorded.Latency.ToMap.P99, 2),
            ["frameToFusionP50S"] = Math.Round(r.Recorded.Latency.ToFusion.P50, 2),
            ["frameToFusionP99S"] = Math.Round(r.Recorded.Latency.ToFusion.P99, 2),
            ["frameToFinalP50S"] = Math.Round(r.Recorded.Latency.ToFinal.P50, 2),
            ["frameToFinalP99S"] = Math.Round(r.Recorded.Latency.ToFinal.P99, 2),
            ["observationsCorrected"] = r.Recorded.Latency.Corrected,
            ["observationsRetracted"] = r.Recorded.Latency.Retracted,
            ["attribution"] = Math.Round(r.RecordedScore.Clusters.AttributionShare, 4),
            ["recall"] = Math.Round(r.RecordedScore.Clusters.Recall, 4),
            ["countMape"] = r.RecordedScore.Trees.CountMapePercent is { } mape ? Math.Round(mape, 1) : null,
            ["stageAccuracy"] = r.RecordedScore.Stages.Accuracy is { } stage ? Math.Round(stage, 4) : null,
            ["maxRate"] = new JsonObject
            {
                ["elapsedS"] = Math.Round(r.MaxRate.Elapsed.TotalSeconds, 1),
                ["framesDecimated"] = r.MaxRate.Result.Frames.FramesDecimated,
                ["attribution"] = Math.Round(r.MaxRateScore.Clusters.AttributionShare, 4),
                ["countMape"] = r.MaxRateScore.Trees.CountMapePercent is { } m ? Math.Round(m, 1) : null,
                ["cpuS"] = Math.Round(r.MaxRate.CpuS, 1),
                ["cpuBoundTreesPerHour"] = Math.Round(r.Trees / (r.MaxRate.CpuS / Environment.ProcessorCount / 3600)),
            },
        };
        if (r.MaxRate.CpuSByWorker.Count > 0)
        {
            json["maxRate"]!["cpuSByWorker"] = new JsonObject(r.MaxRate.CpuSByWorker.Select(w => KeyValuePair.Create(w.Key, (JsonNode?)w.Value)));
        }
        if (rssMiB is not null)
        {
            json["rssMiBByWorker"] = new JsonObject(rssMiB.Select(w => KeyValuePair.Create(w.Key, (JsonNode?)w.Value)));
        }
        return json;
    }

    /// <param name="CpuSByWorker">Each worker process's CPU time (user + system) over the run: with the elapsed time it says whether a worker was busy or waiting.</param>
    private sealed record Timed(ScanResult Result, TimeSpan Elapsed, Latencies Latency, IReadOnlyDictionary<string, long> RssMiBByWorker, IReadOnlyDictionary<string, double> CpuSByWorker)
    {
        /// <summary>CPU time of the whole pipeline (the broker's excluded): what the run costs whatever else loads the machine.</summary>
        public double CpuS => CpuSByWorker.Values.Sum();
    }

    /// <summary>The embedded workers (detection, fusion, map writer) in this process.</summary>
    private static async Task<Timed> ScanEmbeddedAsync(string recording, string outDirectory, ReplayPace pace, IConfiguration configuration, ILoggerFactory loggerFactory)
    {
        Clear(outDirectory);
        await using var workers = await EmbeddedWorkers.StartAsync(
            [new DetectionWorkerModule(), new FusionWorkerModule(), new MapWriterWorkerModule(outDirectory)], configuration, loggerFactory, CancellationToken.None);
        await using var feeder = workers.Connect("throughput", loggerFactory);
        await feeder.StartAsync(CancellationToken.None);
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var (result, elapsed, latency) = await FeedAsync(feeder, recording, outDirectory, pace, configuration, loggerFactory);
        return new Timed(result, elapsed, latency, new Dictionary<string, long>(), new Dictionary<string, double> { ["embedded"] = CpuSecondsSince(cpu) });
    }

    /// <summary>
    /// Detection, fusion and the map writer each as its own process (their Release builds under src/, which `dotnet run
    /// -c Release` of this project builds) on a fresh virtual host of the local broker, kept for both runs of a variant as
    /// a tractor keeps its workers (the recorded-timing run warms them up: a worker's first minute is mostly the JIT).
    /// Each run is fed from this process over RabbitMQ and the writer's run folder copied to the run's folder.
    /// </summary>
    private sealed class RabbitMqWorkers : IAsyncDisposable
    {
        private readonly List<(string Name, WorkerProcess Process)> _workers = [];
        private readonly TestVhost _vhost;
        private readonly IConfiguration _configuration;
        private readonly ILoggerFactory _loggerFactory;

        private RabbitMqWorkers(TestVhost vhost, IConfiguration configuration, ILoggerFactory loggerFactory) =>
            (_vhost, _configuration, _loggerFactory) = (vhost, configuration, loggerFactory);

        public static async Task<RabbitMqWorkers> StartAsync(IReadOnlyDictionary<string, string?> settings, string storeRoot, ILoggerFactory loggerFactory)
        {
            Clear(storeRoot);
            var workers = new RabbitMqWorkers(await TestBroker.CreateVhostAsync("throughput"), new ConfigurationBuilder().AddInMemoryCollection(settings).Build(), loggerFactory);
            try
            {
                foreach (var project in WorkerProjects)
                {
                    var port = WorkerProcess.FreePort();
                    var name = project["TreeScout.".Length..];
                    workers._workers.Add((char.ToLowerInvariant(name[0]) + name[1..], await WorkerProcess.StartReadyAsync(WorkerProcess.ProjectDll("src", project),
                        WorkerProcess.WorkerEnvironment(workers._vhost.Uri, port, storeRoot, settings.Where(s => s.Value is not null).ToDictionary(s => s.Key, s => s.Value!)), port, TimeSpan.FromSeconds(90))));
                }
                return workers;
            }
            catch
            {
                await workers.DisposeAsync();
                throw;
            }
        }

        /// <summary>One run; each worker's CPU time is counted from the run's start, its peak RSS is the process's so far.</summary>
        public async Task<Timed> ScanAsync(string recording, string outDirectory, ReplayPace pace)
        {
            Clear(outDirectory);
            try
            {
                await using var session = await BrokerSession.ConnectAsync(_vhost.Uri.ToString(), TimeSpan.FromSeconds(30), TextWriter.Null, CancellationToken.None);
                var started = _workers.ToDictionary(w => w.Name, w => CpuTime(w.Process.Id));
                var feederCpu = Process.GetCurrentProcess().TotalProcessorTime;
                var (result, elapsed, latency) = await FeedAsync(session.Bus, recording, outDirectory, pace, _configuration, _loggerFactory);
                var rss = _workers.ToDictionary(w => w.Name, w => PeakRssMiB(w.Process.Id.ToString(CultureInfo.InvariantCulture)));
                var cpu = _workers.ToDictionary(w => w.Name, w => Math.Round((CpuTime(w.Process.Id) - started[w.Name]).TotalSeconds, 1));
                // The feeder stands in for the capture worker: it reads the recording's JPEGs and publishes them.
                cpu["feeder"] = CpuSecondsSince(feederCpu);
                return new Timed(result, elapsed, latency, rss, cpu);
            }
            catch (Exception ex) when (_workers.FirstOrDefault(w => w.Process.HasExited) is { Process: { } exited } failed)
            {
                throw new InvalidOperationException($"the {failed.Name} worker exited during the run; its last output:\n{string.Join('\n', exited.Lines.TakeLast(30))}", ex);
            }
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var (_, process) in _workers)
            {
                await process.DisposeAsync();
            }
            await _vhost.DisposeAsync();
        }
    }

    private static TimeSpan CpuTime(int pid)
    {
        using var process = Process.GetProcessById(pid);
        return process.TotalProcessorTime;
    }

    private static double CpuSecondsSince(TimeSpan start) => Math.Round((Process.GetCurrentProcess().TotalProcessorTime - start).TotalSeconds, 1);

    private static void Clear(string directory)
    {
        if (Directory.Exists(directory))
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
        Directory.CreateDirectory(directory);
    }

    /// <summary>Feeds the run through a bus that notes when each frame went out and each map update came.</summary>
    /// <summary>
    /// Seconds from a cluster's last frame going out to the first map update that shows it (<see cref="ToMap"/>: its first,
    /// possibly provisional revision, docs/adr/0073), to fusion publishing that revision (<see cref="ToFusion"/>), and from
    /// the last frame of its final revision to the first map update after fusion published that one (<see cref="ToFinal"/>;
    /// the same as <see cref="ToMap"/> for a cluster never corrected). <see cref="Corrected"/>: clusters on the map whose
    /// final revision differs from the first; <see cref="Retracted"/>: clusters shown and then taken off.
    /// </summary>
    private sealed record Latencies((double P50, double P99) ToMap, (double P50, double P99) ToFusion, (double P50, double P99) ToFinal, int Corrected, int Retracted);

    /// <summary>One revision of an observation as fusion published it, and when the bench saw it go out.</summary>
    private sealed record Revision(long At, string Camera, long LastFrame, int Number, bool Retracted);

    private static async Task<(ScanResult Result, TimeSpan Elapsed, Latencies Latency)> FeedAsync(
        IMessageBus feeder, string recording, string outDirectory, ReplayPace pace, IConfiguration configuration, ILoggerFactory loggerFactory)
    {
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
        // Every revision fusion published of each cluster: splits the frame->map latency into fusion's part and the map
        // writer's, and tells the first appearance from the final version.
        var fused = new ConcurrentDictionary<Guid, List<Revision>>();
        await using var observations = await feeder.ListenAsync(Topology.ObservationsExchange, Topology.RouteOf(typeof(TreeObservations)).RoutingKey, e =>
        {
            if (MessageCodec.Decode(e) is TreeObservations batch)
            {
                var at = Stopwatch.GetTimestamp();
                foreach (var o in batch.Observations)
                {
                    var revisions = fused.GetOrAdd(o.ObservationId, _ => []);
                    lock (revisions)
                    {
                        revisions.Add(new Revision(at, o.CameraId, o.LastFrameSequence, o.Revision, o.Retracted));
                    }
                }
            }
            return Task.CompletedTask;
        }, CancellationToken.None);
        var clock = Stopwatch.StartNew();
        var result = await new ScanPipeline(configuration, loggerFactory, TextWriter.Null)
            .RunOnBrokerAsync(timing, new ScanRequest(recording, outDirectory, pace), CancellationToken.None);
        var elapsed = clock.Elapsed;
        var versions = fused.ToDictionary(f => f.Key, f => f.Value.DistinctBy(r => r.Number).OrderBy(r => r.Number).ToList());
        double? Since(Revision r, long at) => timing.Published.TryGetValue((r.Camera, r.LastFrame), out var sent) ? Stopwatch.GetElapsedTime(sent, at).TotalSeconds : null;
        var toFusion = Percentiles([.. versions.Values.Select(v => Since(v[0], v[0].At)).OfType<double>()]);
        return (result, elapsed, Latency(Path.Combine(outDirectory, RunResult.StoreFile), versions, [.. updates], Since, toFusion));
    }

    /// <summary>
    /// Per stored cluster: the first map update whose count includes it (rows are numbered in the order they were first
    /// stored; a correction keeps its row) and that came after fusion published its first revision, minus when that
    /// revision's last frame went out; for a corrected cluster also the first map update after its final revision went out.
    /// </summary>
    private static Latencies Latency(string store, Dictionary<Guid, List<Revision>> versions, List<(long At, long Observations)> updates,
        Func<Revision, long, double?> since, (double P50, double P99) toFusion)
    {
        var (toMap, toFinal) = (new List<double>(), new List<double>());
        var corrected = 0;
        using var connection = new SqliteConnection($"Data Source={store};Mode=ReadOnly");
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT observation_id FROM observations ORDER BY fid";
        using var r = cmd.ExecuteReader();
        var ordinal = 0L;
        while (r.Read())
        {
            ordinal++;
            if (!versions.TryGetValue(Guid.Parse(r.GetString(0)), out var revisions))
            {
                continue;
            }
            var (first, final) = (revisions[0], revisions[^1]);
            var shown = updates.FindIndex(u => u.Observations >= ordinal && u.At >= first.At);
            if (shown < 0 || since(first, updates[shown].At) is not { } seconds)
            {
                continue;
            }
            toMap.Add(seconds);
            if (final.Number == first.Number)
            {
                toFinal.Add(seconds);
                continue;
            }
            corrected++;
            if (updates.FindIndex(u => u.At >= final.At) is var after and >= 0 && since(final, updates[after].At) is { } finalSeconds)
            {
                toFinal.Add(finalSeconds);
            }
        }
        return new Latencies(Percentiles(toMap), toFusion, Percentiles(toFinal), corrected, versions.Values.Count(v => v[^1].Retracted));
    }

    private static (double P50, double P99) Percentiles(List<double> seconds)
    {
        seconds.Sort();
        return seconds.Count == 0 ? (double.NaN, double.NaN) : (Scorer.Percentile([.. seconds], 0.5), Scorer.Percentile([.. seconds], 0.99));
    }

    /// <summary>Peak resident set (VmHWM) of a process: "self" or a pid.</summary>
    private static long PeakRssMiB(string process) =>
        long.Parse(File.ReadLines($"/proc/{process}/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;

    /// <summary>The feeder's bus, noting when each frame was confirmed by the broker (Stopwatch ticks by camera and sequence).</summary>
    private sealed class TimingBus(IMessageBus bus) : DelegatingMessageBus(bus)
    {
        private readonly ConcurrentDictionary<(string Camera, long Sequence), long> _published = new();

        public ConcurrentDictionary<(string Camera, long Sequence), long> Published => _published;

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
