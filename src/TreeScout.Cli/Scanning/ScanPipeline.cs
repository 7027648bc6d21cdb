using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TreeScout.Capture;
using TreeScout.RunControl;
using TreeScout.Contracts;
using TreeScout.Detection;
using TreeScout.Fusion;
using TreeScout.Fusion.Gnss;
using TreeScout.Hosting;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Store;
using TreeScout.Messaging;
using TreeScout.Orchard;

namespace TreeScout.Cli.Scanning;

/// <summary>What `treescout scan` was asked to do; <paramref name="ReplaceOutput"/>: an earlier run in the output folder is replaced (<see cref="ScanOutput"/>).</summary>
/// <param name="RunId">The run's id; null makes a new one. A test that compares two scans of one recording observation by
/// observation gives both the same id (observation ids derive from it).</param>
public sealed record ScanRequest(string RecordingDirectory, string OutDirectory, ReplayPace Pace, string? Block = null, string? Variety = null, OrchardSpacing Spacing = default, bool ReplaceOutput = false, string? RunId = null);

/// <summary>What a scan produced: the final map, fusion's account of the run and the counts of every stage of the feed.</summary>
public sealed record ScanResult(string RunId, string Mode, MapUpdated Map, RunFused Fusion, CaptureResult Frames, NmeaReplayResult Gnss, TimeSpan Elapsed);

/// <summary>
/// Replays a recording through the pipeline and waits for the run's final map. Embedded: the Detection, Fusion and
/// MapWriter workers' own modules run in this process on an in-memory broker. On a broker: the workers run as their
/// own processes and this only feeds the run and waits, like the tractor's capture worker and operator would.
/// </summary>
public sealed class ScanPipeline(IConfiguration configuration, ILoggerFactory loggerFactory, TextWriter progress)
{
    public static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long the embedded map writer waits for disk space before the scan stops with exit code 1 (a worker process
    /// waits until space returns); TREESCOUT__MapWriter__DiskFullGiveUpAfter changes it.
    /// </summary>
    public static readonly TimeSpan DiskFullWait = TimeSpan.FromMinutes(1);

    public async Task<ScanResult> RunEmbeddedAsync(ScanRequest request, CancellationToken cancellationToken)
    {
        var (recording, started) = Open(request);
        var framePlan = ReadFramePlan();
        var outDirectory = Path.GetFullPath(request.OutDirectory);
        ScanOutput.Prepare(outDirectory, request.ReplaceOutput);
        Directory.CreateDirectory(outDirectory);
        EmbeddedWorkers workers;
        try
        {
            var settings = new ConfigurationBuilder()
                .AddInMemoryCollection(new Dictionary<string, string?> { [$"{MapWriterOptions.Section}:{nameof(MapWriterOptions.DiskFullGiveUpAfter)}"] = DiskFullWait.ToString("c") })
                .AddConfiguration(configuration)
                .Build();
            workers = await EmbeddedWorkers.StartAsync(
                [new DetectionWorkerModule(), new FusionWorkerModule(), new MapWriterWorkerModule(outDirectory)], settings, loggerFactory, cancellationToken);
        }
        catch (OptionsValidationException ex)
        {
            // The same start-time checks as a worker process (settings, model cards, native libraries): one line, no start.
            throw new CliException(string.Join("; ", ex.Failures), Cli.UsageError);
        }
        await using var _ = workers;
        await using var feeder = workers.Connect("scan", loggerFactory);
        await feeder.StartAsync(cancellationToken);
        var disk = workers.Services[WorkerRole.MapWriter].GetRequiredService<StoreDiskSpace>();
        var result = await FeedAsync(feeder, recording, started, framePlan, request, "embedded", cancellationToken, disk);
        WriteScanSummary(outDirectory, request, result);
        return result;
    }

    /// <summary>Feeds a run to workers on <paramref name="bus"/> and copies the writer's run folder to the output when it is on this machine.</summary>
    public async Task<ScanResult> RunOnBrokerAsync(IMessageBus bus, ScanRequest request, CancellationToken cancellationToken)
    {
        var (recording, started) = Open(request);
        var framePlan = ReadFramePlan();
        var outDirectory = Path.GetFullPath(request.OutDirectory);
        ScanOutput.Prepare(outDirectory, request.ReplaceOutput);
        var result = await FeedAsync(bus, recording, started, framePlan, request, "rabbitmq", cancellationToken);
        var writerFolder = Path.GetDirectoryName(Path.GetFullPath(result.Map.StorePath))!;
        if (!File.Exists(result.Map.StorePath))
        {
            throw new CliException($"run {result.RunId} finished, but its store {result.Map.StorePath} is on the map writer's disk, not this machine: export it there (treescout export)");
        }
        if (!string.Equals(writerFolder, outDirectory, StringComparison.Ordinal))
        {
            CopyRunFolder(writerFolder, outDirectory);
        }
        WriteScanSummary(outDirectory, request, result);
        return result;
    }

    /// <summary>The recording and its run, its camera file and plan read and checked before any worker starts.</summary>
    private static (Recording Recording, RunStarted Started) Open(ScanRequest request)
    {
        var recording = new Recording(Path.GetFullPath(request.RecordingDirectory));
        try
        {
            recording.Validate();
            return (recording, StartMessage(recording, request, DateTimeOffset.UtcNow));
        }
        catch (InvalidDataException ex)
        {
            throw new CliException($"{request.RecordingDirectory} is not a usable recording: {ex.Message}", Cli.UsageError);
        }
        catch (CameraRigException ex)
        {
            // Its message names the file, the camera and the field already.
            throw new CliException(ex.Message, Cli.UsageError);
        }
    }

    /// <summary>Feeds the run and waits for its final map; <paramref name="writerDisk"/>: the embedded map writer's disk, whose state the progress shows and whose give-up stops the scan.</summary>
    private async Task<ScanResult> FeedAsync(IMessageBus bus, Recording recording, RunStarted started, FramePlanOptions framePlan, ScanRequest request, string mode, CancellationToken cancellationToken, StoreDiskSpace? writerDisk = null)
    {
        var clock = Stopwatch.StartNew();
        var plan = new FramePlanner(started.Cameras, started.RowSpacingM, framePlan);
        var (fixes, gnss) = NmeaReplay.Read(recording, started.RunId);
        await progress.WriteLineAsync($"scan {started.RunId} ({mode}): block {started.Block}, {recording.ReadFrames().Count()} frames, {gnss.Summary()}");

        var finalMap = new TaskCompletionSource<MapUpdated>(TaskCreationOptions.RunContinuationsAsynchronously);
        long detected = 0, observations = 0;
        await using var maps = await bus.ListenAsync(Topology.MapsExchange, "#", envelope =>
        {
            if (envelope.Header(WireHeaders.RunId) == started.RunId && MessageCodec.Decode(envelope) is MapUpdated { Final: true } map)
            {
                finalMap.TrySetResult(map);
            }
            return Task.CompletedTask;
        }, cancellationToken);
        var runFused = new TaskCompletionSource<RunFused>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var fusion = await bus.ListenAsync(Topology.ObservationsExchange, Topology.RouteOf(typeof(RunFused)).RoutingKey, envelope =>
        {
            if (envelope.Header(WireHeaders.RunId) == started.RunId && MessageCodec.Decode(envelope) is RunFused message)
            {
                runFused.TrySetResult(message);
            }
            return Task.CompletedTask;
        }, cancellationToken);
        await using var detections = await bus.ListenAsync(Topology.DetectionsExchange, "#", envelope => Count(envelope, started.RunId, ref detected), cancellationToken);
        await using var observed = await bus.ListenAsync(Topology.ObservationsExchange, "observations", envelope => Count(envelope, started.RunId, ref observations), cancellationToken);

        await bus.PublishAsync(started, cancellationToken);
        var counters = new WorkerCounters();
        var feed = new GnssInterleaver(bus, [.. fixes.OrderBy(f => f.ReceivedAtUtc)], gnss.MalformedLines, plan.Speed);
        using var reporting = new CancellationTokenSource();
        var reporter = ReportProgressAsync(() =>
            $"  {counters[CaptureSession.FramesCaptured]} frames fed, {Interlocked.Read(ref detected)} detected, {Interlocked.Read(ref observations)} observation batches fused, {clock.Elapsed.TotalSeconds:0}s"
            + (writerDisk?.Condition is { } disk ? $"; map writer: {disk}" : ""),
            reporting.Token);
        CaptureResult frames;
        MapUpdated final;
        RunFused fused;
        using var scanning = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, writerDisk?.GaveUpToken ?? CancellationToken.None);
        try
        {
            frames = await new RecordingPlayer(recording, feed, request.Pace, counters, loggerFactory.CreateLogger<RecordingPlayer>()) { Plan = plan }.PlayAsync(started.RunId, scanning.Token);
            await progress.WriteLineAsync($"  all {frames.FramesPublished} frames and {feed.FixesPublished} fixes fed in {frames.Elapsed.TotalSeconds:0.0}s ({frames.FramesDecimated} decimated, {frames.FramesUnreadable} unreadable, {frames.FramesShed} shed); waiting for the final map");
            final = await finalMap.Task.WaitAsync(scanning.Token);
            // Fusion's RunFused is what the map writer finished the map on: it came before the final map.
            fused = await runFused.Task.WaitAsync(scanning.Token);
        }
        catch (OperationCanceledException) when (writerDisk?.GaveUp is { } full && !cancellationToken.IsCancellationRequested)
        {
            // The map cannot be finished on this disk: say so once instead of waiting for it forever.
            throw new CliException($"{full.Message}; free space, then scan again with --force (it replaces this unfinished run)");
        }
        finally
        {
            await reporting.CancelAsync();
            await reporter;
        }
        return new ScanResult(started.RunId, mode, final, fused, frames, gnss, clock.Elapsed);
    }

    /// <summary>The FramePlan section, checked as a capture worker checks it at start: a bad value stops the scan (exit 2).</summary>
    private FramePlanOptions ReadFramePlan()
    {
        FramePlanOptions options;
        try
        {
            options = configuration.GetSection(FramePlanOptions.Section).Get<FramePlanOptions>() ?? new FramePlanOptions();
        }
        catch (InvalidOperationException ex)
        {
            throw new CliException($"{FramePlanOptions.Section}: {ex.Message}", Cli.UsageError);
        }
        return options.Problems() is [_, ..] problems ? throw new CliException(string.Join("; ", problems), Cli.UsageError) : options;
    }

    private static Task Count(MessageEnvelope envelope, string runId, ref long counter)
    {
        if (envelope.Header(WireHeaders.RunId) == runId)
        {
            Interlocked.Increment(ref counter);
        }
        return Task.CompletedTask;
    }

    private async Task ReportProgressAsync(Func<string> line, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(ProgressInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                await progress.WriteLineAsync(line());
            }
        }
        catch (OperationCanceledException)
        {
            // The scan ended.
        }
    }

    /// <summary>The run as the operator would have started it: block, variety and plan from the recording, replay source.</summary>
    public static RunStarted StartMessage(Recording recording, ScanRequest request, DateTimeOffset now)
    {
        var planPath = recording.PathOf(Recording.BlockFile);
        var (planJson, plan) = RunStarts.ReadPlan(File.Exists(planPath) ? planPath : null);
        var name = Path.GetFileName(recording.Directory.TrimEnd(Path.DirectorySeparatorChar));
        var block = new[] { request.Block, plan?.Name, name }.First(b => !string.IsNullOrWhiteSpace(b))!;
        var started = RunStarts.Create(block, request.Variety, planJson, plan, recording.ReadCameras().Cameras, "replay:" + name, now, request.Spacing);
        return request.RunId is { } runId ? started with { RunId = runId, MessageId = MessageIds.For(runId, "run-started", 0) } : started;
    }

    /// <summary>
    /// Copies the map writer's run folder while its writer may still be running: the store through SQLite's online
    /// backup (its -wal may be checkpointed away mid-copy, and a copied file without it could miss committed pages), the
    /// other files as they are; a file that goes while copying (a review frame pruned, a temporary file renamed) is skipped.
    /// </summary>
    private static void CopyRunFolder(string from, string to)
    {
        var store = new RunFolder(from).StorePath;
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            if (file.StartsWith(store, StringComparison.Ordinal) || file.EndsWith(".tmp", StringComparison.Ordinal))
            {
                continue;
            }
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            try
            {
                File.Copy(file, target, overwrite: true);
            }
            catch (FileNotFoundException)
            {
            }
        }
        var storeCopy = new RunFolder(to).StorePath;
        RunStore.Delete(storeCopy);
        using var source = RunStore.OpenReadOnly(store);
        using var destination = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = storeCopy, Pooling = false }.ToString());
        destination.Open();
        source.BackupTo(destination);
    }

    /// <summary>Adds what the feed did (frames, GNSS, pace, elapsed) to the writer's run.json, atomically.</summary>
    private static void WriteScanSummary(string outDirectory, ScanRequest request, ScanResult result) =>
        RunSummary.Update(new RunFolder(outDirectory), summary =>
        {
            summary["runId"] ??= result.RunId;
            summary["scan"] = new JsonObject
            {
                ["mode"] = result.Mode,
                ["recording"] = Path.GetFullPath(request.RecordingDirectory),
                ["pace"] = request.Pace.MaxRate ? "max-rate" : $"x{request.Pace.Speedup:0.##}",
                ["framesPublished"] = result.Frames.FramesPublished,
                ["framesUnreadable"] = result.Frames.FramesUnreadable,
                ["framesShed"] = result.Frames.FramesShed,
                ["framesDecimated"] = result.Frames.FramesDecimated,
                ["gnss"] = result.Gnss.Summary(),
                ["seconds"] = Math.Round(result.Elapsed.TotalSeconds, 2),
            };
        });
}
