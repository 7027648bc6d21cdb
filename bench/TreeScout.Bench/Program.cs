using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using TreeScout.Bench;
using TreeScout.Contracts;
using TreeScout.Detection;
using TreeScout.Detection.Evaluation;
using TreeScout.Detection.Models;
using TreeScout.Hosting;
using TreeScout.Messaging;

// dotnet run -c Release --project bench/TreeScout.Bench -- [bench [--band TOP,BOTTOM] [--review]|evaluate [--score T]|sweep TRUTH.json] [--detector CARD] [--stage CARD] [--threads N] [--rounds N] [--write-card]
// dotnet run -c Release --project bench/TreeScout.Bench -- throughput [--rows 2] [--trees-per-row 100] [--row-spacing 3.5] [--speed-kmh 10] [--fps 10] [--seed 23001]
//     [--variants full-rate,decimated,canopy-band,both] [--report VARIANT] [--sightings 6] [--precision fp32|int8] [--transport embedded,rabbitmq]
// dotnet run -c Release --project bench/TreeScout.Bench -- counts [--scenarios one-side,one-side-curved,both-sides,both-sides-curved] [--seed N] [--crops DIR]
// dotnet run -c Release --project bench/TreeScout.Bench -- precision [--detectors A.json,B.json] [--stages A.json,B.json] [--rounds N] [--stage-batch 32] [--write-card]
// dotnet run -c Release --project bench/TreeScout.Bench -- calibrate-int8 --card CARD.json --graph AUGMENTED.onnx --images LIST.txt --out STATS.json
// Run from the repository root (models/, samples/, ../shared).
var mode = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) ?? "bench";
if (mode == "throughput")
{
    return await ThroughputBench.RunAsync(args);
}
if (mode == "counts")
{
    return await CountsBench.RunAsync(args);
}
var writeCard = args.Contains("--write-card");
string? Value(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
int Arg(string name, int fallback) => Value(name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
var threads = Arg("--threads", 2);
var rounds = Arg("--rounds", 3);
string[] Cards(string name, string fallback) => (Value(name) ?? fallback).Split(',', StringSplitOptions.RemoveEmptyEntries).Select(Path.GetFullPath).ToArray();
if (mode == "precision")
{
    return PrecisionBench.Run(Cards("--detectors", "models/blossom-detector.json,models/blossom-detector-int8.json"),
        Cards("--stages", "models/bbch-stage.json,models/bbch-stage-int8.json"), Path.GetFullPath("samples/detector-heldout/frames"), threads, rounds, Arg("--stage-batch", 32), writeCard);
}
if (mode == "calibrate-int8")
{
    return Int8Calibration.Run(Value("--card"), Value("--graph"), Value("--images"), Value("--out"), threads);
}
// --band TOP,BOTTOM: the worker also on that canopy band of each frame (docs/adr/0065), interleaved with the rest.
var band = Value("--band")?.Split(',') is [var top, var bottom] ? new ImageRows(int.Parse(top, CultureInfo.InvariantCulture), int.Parse(bottom, CultureInfo.InvariantCulture)) : null;
// --detector / --stage CARD: another card than the fp32 defaults (e.g. the int8 models, docs/adr/0067).
var detectorCard = Path.GetFullPath(Value("--detector") ?? "models/blossom-detector.json");
var stageCard = Path.GetFullPath(Value("--stage") ?? "models/bbch-stage.json");
string CardArguments() => (Value("--detector") is { } d ? $" --detector {d}" : "") + (Value("--stage") is { } st ? $" --stage {st}" : "");
// --review: the worker also with frame sampling for review off, and with every frame sampled (docs/labelling.md),
// interleaved with the default worker (the defaults sample some frames).
var review = args.Contains("--review");
var heldOut = Path.GetFullPath("samples/detector-heldout");

if (mode == "evaluate")
{
    // --score T: recall at another detector threshold, for the record only (the card's threshold is chosen by `sweep`).
    var score = Value("--score") is { } s ? double.Parse(s, CultureInfo.InvariantCulture) : (double?)null;
    if (writeCard && score is not null)
    {
        throw new ArgumentException("--write-card records the card's own threshold; drop --score");
    }
    using var pipeline = BlossomPipeline.Open(new DetectionOptions { DetectorCard = detectorCard, StageCard = stageCard, IntraOpThreads = threads, ScoreThreshold = score });
    var result = DetectorEvaluationRun.Run(pipeline, Path.GetFullPath("../shared/data/orchard-frames/via_region_data.json"),
        Path.Combine(heldOut, "truth.json"), "samples/detector-heldout (training/detector/composite.py --cameras held --count 16 --seed 1000)");
    var node = JsonSerializer.SerializeToNode(result, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.CamelCase })!;
    Console.WriteLine(node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    if (writeCard)
    {
        CardFile.Update(detectorCard, "evaluation", node);
    }
    return 0;
}

if (mode == "sweep")
{
    // Score threshold selection on composites of the *training* cameras (never the held-out set):
    // NMS is greedy by score, so filtering its output at t equals running it with threshold t.
    var truth = args.SkipWhile(a => a != "sweep").Skip(1).FirstOrDefault() ?? throw new ArgumentException("sweep TRUTH.json");
    using var pipeline = BlossomPipeline.Open(new DetectionOptions { DetectorCard = detectorCard, StageCard = stageCard, IntraOpThreads = threads, ScoreThreshold = 0.05 });
    var images = DetectorEvaluation.ReadCompositeTruth(truth);
    var all = images.Select(i =>
    {
        using var m = OpenCvSharp.Cv2.ImRead(i.Path);
        return (i.Labels, Boxes: DetectorEvaluationRun.Boxes(pipeline, m));
    }).ToList();
    Console.WriteLine("score  precision  recall  F1");
    for (var t = 0.1; t < 0.85; t += 0.05)
    {
        var c = all.Aggregate(new MatchCounts(0, 0, 0, 0), (acc, x) =>
            acc + DetectorEvaluation.Match([.. x.Boxes.Where(b => b.Score >= t)], x.Labels, DetectorEvaluationRun.CompositeIou, centroidRule: false));
        Console.WriteLine($"{t:F2}   {c.Precision,9:F3}  {c.Recall,6:F3}  {2 * c.Precision * c.Recall / (c.Precision + c.Recall):F3}");
    }
    return 0;
}

var frames = Directory.GetFiles(Path.Combine(heldOut, "frames"), "*.jpg").Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToList();
using var loggerFactory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Warning).AddSimpleConsole());

// Bare ONNX Runtime: its own sessions, same models, same thread count.
using var bareDetector = VerifiedModel.Open(detectorCard, threads);
using var bareStage = VerifiedModel.Open(stageCard, threads);
using var bare = new BareOnnxRuntime(bareDetector, bareStage);

// Worker: the Detection module on the in-memory bus; frames go in as FrameCaptured, FrameDetections come out.
async Task<DetectionBenchWorker> StartWorker(params (string Key, string Value)[] settings)
{
    var values = new Dictionary<string, string?>
    {
        ["Detection:DetectorCard"] = detectorCard,
        ["Detection:StageCard"] = stageCard,
        ["Detection:IntraOpThreads"] = threads.ToString(CultureInfo.InvariantCulture),
    };
    foreach (var (key, value) in settings)
    {
        values[key] = value;
    }
    var workers = await EmbeddedWorkers.StartAsync([new DetectionWorkerModule()], new ConfigurationBuilder().AddInMemoryCollection(values).Build(), loggerFactory, CancellationToken.None);
    var feeder = workers.Connect("bench", loggerFactory);
    var worker = new DetectionBenchWorker(workers, feeder);
    worker.Listener = await feeder.ListenAsync(Topology.DetectionsExchange, "#", e =>
    {
        worker.Done.Enqueue((FrameDetections)MessageCodec.Decode(e));
        worker.Arrived.Release();
        return Task.CompletedTask;
    }, CancellationToken.None);
    return worker;
}
await using var defaultWorker = await StartWorker();
await using var unsampledWorker = review ? await StartWorker(("Detection:ReviewEveryNth", "0"), ("Detection:ReviewWindowFrames", "0")) : null;
await using var everyFrameWorker = review ? await StartWorker(("Detection:ReviewEveryNth", "1")) : null;
long sequence = 0;

(double Fps, double ClustersPerFrame) Bare()
{
    var clusters = 0L;
    var sw = Stopwatch.StartNew();
    foreach (var f in frames)
    {
        clusters += bare.Run(f);
    }
    return (frames.Count / sw.Elapsed.TotalSeconds, clusters / (double)frames.Count);
}

async Task<(double Fps, double ClustersPerFrame)> Worker(ImageRows? canopyBand = null, DetectionBenchWorker? worker = null)
{
    worker ??= defaultWorker;
    var (workers, feeder, done, arrived) = (worker.Workers, worker.Feeder, worker.Done, worker.Arrived);
    done.Clear();
    var sw = Stopwatch.StartNew();
    foreach (var f in frames)
    {
        var seq = sequence++;
        await feeder.PublishAsync(new FrameCaptured
        {
            MessageId = MessageIds.For("bench-run", "frame", seq),
            RunId = "bench-run",
            Sequence = seq,
            CameraId = "cam-right",
            CapturedAtUtc = DateTimeOffset.UtcNow,
            MonotonicNs = seq,
            Width = 1280,
            Height = 720,
            Jpeg = f,
            CanopyBand = canopyBand,
        });
    }
    for (var received = 0; received < frames.Count; received++)
    {
        if (!await arrived.WaitAsync(TimeSpan.FromSeconds(60)))
        {
            var depth = workers.Broker.Depth(Topology.DetectionFramesQueue);
            throw new TimeoutException($"worker stalled: {done.Count}/{frames.Count} detections, frames queue ready {depth.Ready}, dead-lettered {depth.DeadLettered}");
        }
    }
    return (frames.Count / sw.Elapsed.TotalSeconds, done.Sum(d => d.Detections.Count) / (double)frames.Count);
}

Console.Error.WriteLine($"warm-up: bare {Bare().Fps:F2} frames/s");
Console.Error.WriteLine($"warm-up: worker {(await Worker()).Fps:F2} frames/s"); // sessions, buffers, JIT
var bareRuns = new List<(double Fps, double Clusters)>();
var workerRuns = new List<(double Fps, double Clusters)>();
var bandRuns = new List<(double Fps, double Clusters)>();
var unsampledRuns = new List<(double Fps, double Clusters)>();
var everyFrameRuns = new List<(double Fps, double Clusters)>();
if (review)
{
    Console.Error.WriteLine($"warm-up: worker, sampling off {(await Worker(worker: unsampledWorker)).Fps:F2}, every frame sampled {(await Worker(worker: everyFrameWorker)).Fps:F2} frames/s");
}
for (var r = 0; r < rounds; r++)
{
    // Interleaved, so that the other tenants of this shared machine slow both sides alike.
    bareRuns.Add(Bare());
    workerRuns.Add(await Worker());
    if (band is not null)
    {
        bandRuns.Add(await Worker(band));
    }
    if (review)
    {
        unsampledRuns.Add(await Worker(worker: unsampledWorker));
        everyFrameRuns.Add(await Worker(worker: everyFrameWorker));
    }
    Console.Error.WriteLine($"round {r + 1}: bare {bareRuns[^1].Fps:F2}, worker {workerRuns[^1].Fps:F2}" + (band is null ? "" : $", worker on the band {bandRuns[^1].Fps:F2}")
        + (review ? $", sampling off {unsampledRuns[^1].Fps:F2}, every frame sampled {everyFrameRuns[^1].Fps:F2}" : "") + " frames/s");
}
double Median(IEnumerable<double> v) => v.Order().ElementAt(rounds / 2);
var bareFps = Median(bareRuns.Select(r => r.Fps));
var workerFps = Median(workerRuns.Select(r => r.Fps));
var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
Console.WriteLine($"detector + stage classifier, {frames.Count} held-out composite frames 1280x720, ORT intra-op threads {threads}, {rounds} interleaved rounds (median), load average {load}");
Console.WriteLine($"{"",-22}{"frames/s",10}{"ms/frame",10}{"clusters/frame",16}");
Console.WriteLine($"{"bare ONNX Runtime",-22}{bareFps,10:F2}{1000 / bareFps,10:F1}{bareRuns[0].Clusters,16:F1}");
Console.WriteLine($"{"worker (handler+bus)",-22}{workerFps,10:F2}{1000 / workerFps,10:F1}{workerRuns[0].Clusters,16:F1}");
if (band is not null)
{
    var bandFps = Median(bandRuns.Select(r => r.Fps));
    Console.WriteLine($"{$"worker, rows {band.Top}-{band.Bottom}",-22}{bandFps,10:F2}{1000 / bandFps,10:F1}{bandRuns[0].Clusters,16:F1}   ({bandFps / workerFps:F2}x the whole frame)");
}
if (review)
{
    var unsampledFps = Median(unsampledRuns.Select(r => r.Fps));
    var everyFrameFps = Median(everyFrameRuns.Select(r => r.Fps));
    Console.WriteLine($"{"worker, sampling off",-22}{unsampledFps,10:F2}{1000 / unsampledFps,10:F1}{unsampledRuns[0].Clusters,16:F1}   (default sampling: {workerFps / unsampledFps:F3}x)");
    Console.WriteLine($"{"worker, every frame",-22}{everyFrameFps,10:F2}{1000 / everyFrameFps,10:F1}{everyFrameRuns[0].Clusters,16:F1}   ({everyFrameFps / unsampledFps:F3}x sampling off)");
}
Console.WriteLine($"ratio worker / bare: {workerFps / bareFps:F3}   (targets: worker >= 6 frames/s, ratio >= 0.9)");
if (writeCard)
{
    CardFile.Update(detectorCard, "latency", new JsonObject
    {
        ["frame"] = "1280x720 JPEG (samples/detector-heldout)",
        ["intraOpThreads"] = threads,
        ["framesPerSecondWorker"] = Math.Round(workerFps, 2),
        ["framesPerSecondBare"] = Math.Round(bareFps, 2),
        ["ratio"] = Math.Round(workerFps / bareFps, 3),
        ["clustersPerFrame"] = Math.Round(workerRuns[0].Clusters, 1),
        ["rounds"] = rounds,
        ["loadAverage"] = load,
        ["runtime"] = "ONNX Runtime 1.31.1, 2-core shared CPU",
        ["command"] = $"dotnet run -c Release --project bench/TreeScout.Bench -- bench --rounds {rounds}{CardArguments()} --write-card",
    });
}
return 0;

/// <summary>One Detection worker of the bench on its own in-memory bus, with what it has published.</summary>
internal sealed class DetectionBenchWorker(EmbeddedWorkers workers, IMessageBus feeder) : IAsyncDisposable
{
    public EmbeddedWorkers Workers { get; } = workers;

    public IMessageBus Feeder { get; } = feeder;

    public ConcurrentQueue<FrameDetections> Done { get; } = new();

    // Signalled per result, so waiting costs the two shared cores nothing (a polling loop would be timed as worker time).
    public SemaphoreSlim Arrived { get; } = new(0);

    public IAsyncDisposable? Listener { get; set; }

    public async ValueTask DisposeAsync()
    {
        if (Listener is not null)
        {
            await Listener.DisposeAsync();
        }
        await Feeder.DisposeAsync();
        await Workers.DisposeAsync();
        Arrived.Dispose();
    }
}
