using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Abstractions;
using TreeScout.Contracts;
using TreeScout.Messaging;
using TreeScout.Tests;
using Xunit.Abstractions;

namespace TreeScout.RunControl.Tests;

/// <summary>`treescout run start|stop|status` as an operator runs it (a real process) against the real RabbitMQ.</summary>
public sealed class RunCommandTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("ts-run-").FullName;

    [Trait("Category", "Integration")]
    [Fact]
    public async Task Start_publishes_RunStarted_with_block_variety_plan_and_cameras_to_every_stage_that_needs_it()
    {
        await using var vhost = await TestBroker.CreateVhostAsync("start");
        var (cameras, plan) = (WriteCameras(), WritePlan());

        var run = await TreescoutAsync(["run", "start", "--block", "Noord 3", "--variety", "Elstar", "--plan", plan, "--cameras", cameras, "--broker", vhost.Uri.ToString(), "--listen", "0.5"]);

        Assert.Equal(0, run.ExitCode);
        var runId = run.Stdout.Trim();
        Assert.True(RunIds.IsValid(runId), runId);
        Assert.Matches("^[0-9]{8}-[0-9]{6}-noord-3-[0-9a-f]{4}$", runId);
        Assert.Contains("warning: no capture worker reported", run.Stderr, StringComparison.Ordinal);

        await using var capture = await ConnectAsync(vhost.Uri, Topology.CaptureControlQueue, out var control);
        await WaitUntilAsync(() => !control.IsEmpty, "capture received the run start");
        var started = Assert.IsType<RunStarted>(Assert.Single(control));
        Assert.Equal(runId, started.RunId);
        Assert.Equal(MessageIds.For(runId, "run-started", 0), started.MessageId);
        Assert.Equal("Noord 3", started.Block);
        Assert.Equal("Elstar", started.Variety);
        Assert.Equal("live", started.Source);
        Assert.Equal(1.2, started.TreeSpacingM);
        Assert.Equal(3.5, started.RowSpacingM);
        Assert.Equal(File.ReadAllText(plan), started.BlockPlanGeoJson);
        var camera = Assert.Single(started.Cameras);
        Assert.Equal(("cam-right", CameraSide.Right, 180, 0.9), (camera.CameraId, camera.Side, camera.MountRotationDeg, camera.LeverArm.RightM));
        // Fusion and the map writer get it ahead of the run's data, in their own queues.
        Assert.Equal(1, (await capture.GetQueueDepthAsync(Topology.FusionDetectionsQueue, CancellationToken.None))!.Ready);
        Assert.Equal(1, (await capture.GetQueueDepthAsync(Topology.MapWriterObservationsQueue, CancellationToken.None))!.Ready);
    }

    [Trait("Category", "Integration")]
    [Fact]
    public async Task Start_without_a_plan_carries_the_operators_spacings_and_refuses_an_implausible_one_before_the_broker()
    {
        await using var vhost = await TestBroker.CreateVhostAsync("spacing");
        var cameras = WriteCameras();

        // A mistyped spacing (metres, not centimetres) is reported without contacting the broker (none is given).
        var wrong = await TreescoutAsync(["run", "start", "--block", "Noord 3", "--cameras", cameras, "--tree-spacing", "90"]);
        Assert.Equal(2, wrong.ExitCode);
        Assert.Equal("treescout: --tree-spacing 90: the tree spacing must be between 0.2 and 10 metres", wrong.Stderr.Trim());

        var run = await TreescoutAsync(["run", "start", "--block", "Noord 3", "--cameras", cameras, "--tree-spacing", "0.9", "--row-spacing", "3.2", "--broker", vhost.Uri.ToString(), "--listen", "0.5"]);
        Assert.Equal(0, run.ExitCode);
        await using var capture = await ConnectAsync(vhost.Uri, Topology.CaptureControlQueue, out var control);
        await WaitUntilAsync(() => !control.IsEmpty, "capture received the run start");
        var started = Assert.IsType<RunStarted>(Assert.Single(control));
        Assert.Null(started.BlockPlanGeoJson);
        Assert.Equal((0.9, 3.2), (started.TreeSpacingM, started.RowSpacingM));
    }

    // A plan exported from the grower's GIS in RD New (EPSG:28992) is named with its problem, before any broker is needed.
    [Trait("Category", "Unit")]
    [Fact]
    public async Task Start_with_a_plan_in_a_projected_crs_is_refused_before_the_broker_naming_file_and_crs()
    {
        var plan = Path.Combine(Path.GetTempPath(), $"treescout-rd-{Guid.NewGuid():N}.geojson");
        await File.WriteAllTextAsync(plan, """{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::28992"}},"features":[]}""");
        try
        {
            var run = await TreescoutAsync(["run", "start", "--block", "Noord 3", "--cameras", WriteCameras(), "--plan", plan], withoutBrokerVariable: true);

            Assert.Equal(2, run.ExitCode);
            Assert.Equal($"treescout: block plan {plan}: unexpected CRS 'urn:ogc:def:crs:EPSG::28992'; block plans must be WGS84 longitude/latitude (RFC 7946)", run.Stderr.Trim());
        }
        finally
        {
            File.Delete(plan);
        }
    }

    [Trait("Category", "Integration")]
    [Fact]
    public async Task Start_is_refused_while_capture_reports_another_active_run()
    {
        await using var vhost = await TestBroker.CreateVhostAsync("busy");
        await using var heartbeats = await Heartbeats.StartAsync(vhost.Uri, Status("capture", "20260421-080000-zuid-1-0a0a"));

        var run = await TreescoutAsync(["run", "start", "--block", "Noord 3", "--cameras", WriteCameras(), "--broker", vhost.Uri.ToString(), "--listen", "1"]);

        Assert.Equal(1, run.ExitCode);
        Assert.Equal("treescout: run 20260421-080000-zuid-1-0a0a is still active on capture@tractor-1; stop it first: treescout run stop --run 20260421-080000-zuid-1-0a0a", run.Stderr.Trim());
        Assert.Equal(0, (await heartbeats.Bus.GetQueueDepthAsync(Topology.CaptureControlQueue, CancellationToken.None))!.Ready);
    }

    [Trait("Category", "Integration")]
    [Fact]
    public async Task Stop_stops_the_active_run_of_the_run_ledger_and_refuses_an_unknown_run()
    {
        await using var vhost = await TestBroker.CreateVhostAsync("stop");
        const string Active = "20260421-091200-noord-3-ab12";
        await using var heartbeats = await Heartbeats.StartAsync(vhost.Uri, Status("capture", Active));
        await heartbeats.Bus.PublishAsync(Started(Active));

        var unknown = await TreescoutAsync(["run", "stop", "--run", "20260421-091200-noord-3-ffff", "--broker", vhost.Uri.ToString(), "--listen", "1"]);
        Assert.Equal(1, unknown.ExitCode);
        Assert.Equal($"treescout: unknown run 20260421-091200-noord-3-ffff: the run ledger has no such run (unfinished: {Active})", unknown.Stderr.Trim());

        var stop = await TreescoutAsync(["run", "stop", "--broker", vhost.Uri.ToString(), "--listen", "1"]);
        Assert.Equal(0, stop.ExitCode);
        Assert.Equal(Active, stop.Stdout.Trim());

        await using var capture = await ConnectAsync(vhost.Uri, Topology.CaptureControlQueue, out var control);
        await WaitUntilAsync(() => control.OfType<RunStopRequested>().Any(), "capture received the stop request");
        var request = Assert.Single(control.OfType<RunStopRequested>());
        Assert.Equal(Active, request.RunId);
        Assert.Equal(MessageIds.For(Active, "run-stop-requested", 0), request.MessageId);
        Assert.EndsWith("@" + Environment.MachineName, request.RequestedBy, StringComparison.Ordinal);
        // Capture films the run, so capture (not the command) announces RunStopped.
        Assert.DoesNotContain(await heartbeats.Bus.ReadRunLedgerAsync(CancellationToken.None), m => m is RunStopped);
    }

    // After a power cut the replay (or camera host) that filmed a run may be gone for good: the operator can still stop it,
    // and fusion gets the RunStopped it needs to finish the map from the frames captured before.
    [Trait("Category", "Integration")]
    [Fact]
    public async Task Stop_of_a_run_no_capture_worker_films_publishes_its_run_stopped_on_captures_behalf()
    {
        await using var vhost = await TestBroker.CreateVhostAsync("orphan");
        const string Orphan = "20260421-091200-noord-3-0c0c";
        await using var heartbeats = await Heartbeats.StartAsync(vhost.Uri, Status("fusion", Orphan));
        await heartbeats.Bus.PublishAsync(Started(Orphan));

        var stop = await TreescoutAsync(["run", "stop", "--run", Orphan, "--broker", vhost.Uri.ToString(), "--listen", "1"]);

        Assert.Equal(0, stop.ExitCode);
        Assert.Equal(Orphan, stop.Stdout.Trim());
        Assert.Contains($"run {Orphan}: no capture worker is filming it", stop.Stderr, StringComparison.Ordinal);
        var book = RunBook.From(await heartbeats.Bus.ReadRunLedgerAsync(CancellationToken.None));
        var stopped = book.Find(Orphan)!.Stopped!;
        Assert.Equal((MessageIds.For(Orphan, "run-stopped", 0), 0L, false), (stopped.MessageId, stopped.FramesPublished, stopped.CountsCoverRun));
        Assert.Empty(book.Active);

        var again = await TreescoutAsync(["run", "stop", "--broker", vhost.Uri.ToString(), "--listen", "1"]);
        Assert.Equal(1, again.ExitCode);
        Assert.Equal("treescout: no active run: the run ledger shows every run stopped", again.Stderr.Trim());
    }

    private static RunStarted Started(string runId) => new()
    {
        MessageId = MessageIds.For(runId, "run-started", 0),
        RunId = runId,
        StartedAtUtc = DateTimeOffset.UtcNow,
        Block = "Noord 3",
        Cameras = [],
        Source = "live",
    };

    [Trait("Category", "Integration")]
    [Fact]
    public async Task Status_shows_worker_health_progress_dead_letters_queue_depths_gnss_quality_and_warnings()
    {
        await using var vhost = await TestBroker.CreateVhostAsync("status");
        const string Run = "20260421-091200-noord-3-ab12";
        // A real worker process (detection role) and the heartbeats capture and fusion would send.
        await using var detection = WorkerProcess.Start(WorkerProcess.ProjectDll("tests", "TreeScout.TestWorker"), new Dictionary<string, string>
        {
            ["TREESCOUT__Broker__Uri"] = vhost.Uri.ToString(),
            ["TREESCOUT__Health__BindAddress"] = "127.0.0.1",
            ["TREESCOUT__Health__Port"] = WorkerProcess.FreePort().ToString(CultureInfo.InvariantCulture),
            ["TREESCOUT__Status__HeartbeatInterval"] = "00:00:00.500",
            ["TREESCOUT__Logging__Format"] = "text",
        }, echo: l => output.WriteLine("[detection] " + l));
        await using var heartbeats = await Heartbeats.StartAsync(vhost.Uri,
            Status("capture", Run) with { Counters = new Dictionary<string, long> { ["frames_captured"] = 120, ["frames_shed"] = 2 } },
            Status("fusion", Run) with
            {
                Counters = new Dictionary<string, long> { ["frames_fused"] = 100, ["gnss_fixes"] = 400, ["nmea_malformed"] = 3 },
                GnssQuality = GnssQuality.RtkFloat,
                Warnings = ["GNSS degraded to RTK float since 09:14:02"],
            });
        await detection.WaitForLineAsync(l => l.Contains("Connected to broker", StringComparison.Ordinal), Patience, "detection connected");
        // A frame that is not a frame: the worker dead-letters it and reports it.
        await heartbeats.Bus.PublishAsync(new FrameCaptured
        {
            MessageId = MessageIds.For(Run, "frame", 1), RunId = Run, Sequence = 1, CameraId = "cam-right",
            CapturedAtUtc = DateTimeOffset.UnixEpoch, MonotonicNs = 1, Width = 8, Height = 8, Jpeg = [1, 2, 3],
        } with { SchemaVersion = 7 });
        await WaitUntilAsync(async () => (await heartbeats.Bus.GetQueueDepthAsync(Topology.DetectionFramesQueue, CancellationToken.None))?.DeadLettered == 1, "the broken frame is dead-lettered");
        await Task.Delay(1200); // the next heartbeat carries the count

        var status = await TreescoutAsync(["run", "status", "--json", "--broker", vhost.Uri.ToString(), "--listen", "1.5"]);
        Assert.Equal(0, status.ExitCode);
        using var json = JsonDocument.Parse(status.Stdout);
        var root = json.RootElement;
        Assert.Equal([Run], root.GetProperty("activeRuns").EnumerateArray().Select(r => r.GetString()));
        var workers = root.GetProperty("workers").EnumerateArray().ToDictionary(w => w.GetProperty("worker").GetString()!);
        Assert.Equal(["capture", "detection", "fusion"], workers.Keys.Order());
        Assert.True(workers["detection"].GetProperty("ready").GetBoolean());
        Assert.StartsWith("0.", workers["detection"].GetProperty("version").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, workers["detection"].GetProperty("counters").GetProperty("dead_lettered").GetInt64());
        var totals = root.GetProperty("totals");
        Assert.Equal(120, totals.GetProperty("frames_captured").GetInt64());
        Assert.Equal(100, totals.GetProperty("frames_fused").GetInt64());
        Assert.Equal(1, totals.GetProperty("dead_lettered").GetInt64());
        Assert.Equal("RtkFloat", root.GetProperty("gnssQuality").GetString());
        var frames = root.GetProperty("queues").EnumerateArray().Single(q => q.GetProperty("queue").GetString() == Topology.DetectionFramesQueue);
        Assert.Equal((0, 1, 1), (frames.GetProperty("ready").GetInt64(), frames.GetProperty("deadLettered").GetInt64(), frames.GetProperty("consumers").GetInt32()));
        var warnings = root.GetProperty("warnings").EnumerateArray().Select(w => w.GetString()).ToList();
        Assert.Contains("fusion: GNSS degraded to RTK float since 09:14:02", warnings);
        Assert.Contains("1 message(s) in treescout.detection.frames.dlq: inspect before replaying", warnings);
        Assert.Contains("no mapwriter worker reported within 1.5s", warnings);

        var text = await TreescoutAsync(["run", "status", "--run", Run, "--broker", vhost.Uri.ToString(), "--listen", "1.5"]);
        Assert.Equal(0, text.ExitCode);
        Assert.Contains($"run {Run}", text.Stdout, StringComparison.Ordinal);
        Assert.Contains("frames captured 120 · shed 2 ·", text.Stdout, StringComparison.Ordinal);
        Assert.Contains("dead-lettered 1", text.Stdout, StringComparison.Ordinal);
        Assert.Contains("GNSS fix quality: RtkFloat", text.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"treescout\.detection\.frames\s+0\s+1\s+1", text.Stdout);

        var unknown = await TreescoutAsync(["run", "status", "--run", "20260421-091200-noord-3-ffff", "--broker", vhost.Uri.ToString(), "--listen", "1"]);
        Assert.Equal(1, unknown.ExitCode);
        Assert.Equal($"treescout: unknown run 20260421-091200-noord-3-ffff: the workers and the run ledger show active run {Run}", unknown.Stderr.Trim().Split('\n')[^1]);
    }

    [Trait("Category", "Unit")]
    [Fact]
    public async Task Status_gives_up_on_an_unreachable_broker_within_seconds_and_start_within_its_broker_wait()
    {
        var port = WorkerProcess.FreePort();
        var redacted = $"amqp://guest:***@127.0.0.1:{port}/";
        var watch = Stopwatch.StartNew();

        // A snapshot: 5 s by default.
        var status = await TreescoutAsync(["run", "status", "--broker", $"amqp://guest:guest@127.0.0.1:{port}/"]);

        Assert.Equal(1, status.ExitCode);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"took {watch.Elapsed}");
        var lines = status.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches($@"^waiting for the broker at {Regex.Escape(redacted)} \(connection refused\), [0-9] s so far$", lines[0]);
        Assert.Matches($@"^treescout: the broker at {Regex.Escape(redacted)} has been unreachable for [5-9] s \(connection refused\); gave up \(--broker-wait 5\)$", lines[^1]);
        Assert.DoesNotContain(lines, l => l.Contains("Exception", StringComparison.Ordinal));

        // run start waits as long as it takes unless told otherwise; an operator who wants a limit gives one.
        var start = await TreescoutAsync(["run", "start", "--block", "Noord 3", "--cameras", WriteCameras(), "--broker", $"amqp://guest:guest@127.0.0.1:{port}/", "--broker-wait", "2"]);
        Assert.Equal(1, start.ExitCode);
        Assert.Matches($@"^treescout: the broker at {Regex.Escape(redacted)} has been unreachable for [2-5] s \(connection refused\); gave up \(--broker-wait 2\)$", start.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]);

        var zero = await TreescoutAsync(["run", "stop", "--broker", $"amqp://guest:guest@127.0.0.1:{port}/", "--broker-wait", "0"]);
        Assert.Equal(2, zero.ExitCode);
        Assert.Equal("treescout: --broker-wait 0: expected seconds between 0 and 1000000 (leave it out to wait as long as it takes)", zero.Stderr.Trim());
    }

    [Trait("Category", "Unit")]
    [Fact]
    public async Task Ctrl_C_ends_a_wait_for_the_broker_with_one_line()
    {
        var broker = $"amqp://guest:guest@127.0.0.1:{WorkerProcess.FreePort()}/";
        await using var start = WorkerProcess.Start(WorkerProcess.ProjectDll("src", "TreeScout.Cli", "treescout"), new Dictionary<string, string>(),
            ["run", "start", "--block", "Noord 3", "--cameras", WriteCameras(), "--broker", broker], output.WriteLine);
        await start.WaitForLineAsync(l => l.StartsWith("waiting for the broker at ", StringComparison.Ordinal), Patience, "the waiting line");

        Assert.Equal(130, await start.InterruptAsync(TimeSpan.FromSeconds(30)));
        await Task.Delay(200); // the last lines
        Assert.Equal("treescout: interrupted", start.Lines[^1]);
        Assert.All(start.Lines.SkipLast(1), l => Assert.StartsWith("waiting for the broker at ", l, StringComparison.Ordinal));
    }

    [Trait("Category", "Integration")]
    [Fact]
    public async Task A_broker_that_refuses_the_login_ends_the_command_at_once_with_one_line()
    {
        var wrongPassword = new UriBuilder(TestBroker.BaseUri) { Password = "not-the-password" }.Uri;
        var watch = Stopwatch.StartNew();

        var start = await TreescoutAsync(["run", "start", "--block", "Noord 3", "--cameras", WriteCameras(), "--broker", wrongPassword.ToString()]);

        Assert.Equal(1, start.ExitCode);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"took {watch.Elapsed}");
        var line = Assert.Single(start.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"treescout: the broker at {BrokerOptions.Redact(wrongPassword.ToString())} refused this client: ", line, StringComparison.Ordinal);
        Assert.Contains("ACCESS_REFUSED", line, StringComparison.Ordinal);
    }

    [Trait("Category", "Unit")]
    [Fact]
    public async Task Without_a_broker_or_camera_configuration_the_command_says_what_to_pass()
    {
        var noBroker = await TreescoutAsync(["run", "stop"], withoutBrokerVariable: true);
        Assert.Equal(2, noBroker.ExitCode);
        Assert.Equal("treescout: no broker: run control talks to the workers over RabbitMQ; pass --broker amqp://user:password@host:5672/ or set TREESCOUT__Broker__Uri", noBroker.Stderr.Trim());

        var noCameras = await TreescoutAsync(["run", "start", "--block", "Noord 3", "--cameras", Path.Combine(_dir, "missing.json"), "--broker", "amqp://127.0.0.1:1/"]);
        Assert.Equal(2, noCameras.ExitCode);
        Assert.Equal($"treescout: camera configuration {Path.Combine(_dir, "missing.json")} not found; pass --cameras camera.json (format: docs/recording-format.md, default /etc/treescout/camera.json)", noCameras.Stderr.Trim());
    }

    // Before, a missing field was an unhandled exception's stack trace and an impossible value went out in RunStarted.
    [Trait("Category", "Unit")]
    [Fact]
    public async Task Start_with_a_camera_file_that_cannot_be_used_is_refused_before_the_broker_naming_file_camera_and_field()
    {
        var cameras = WriteCameras();
        var good = File.ReadAllText(cameras);

        File.WriteAllText(cameras, good.Replace("\"cy\": 360.0", "\"cy\": 900.0", StringComparison.Ordinal));
        var outside = await TreescoutAsync(["run", "start", "--block", "Noord 3", "--cameras", cameras], withoutBrokerVariable: true);
        Assert.Equal(2, outside.ExitCode);
        Assert.Equal($"treescout: {cameras}: camera \"cam-right\": cy must lie within the image, 0 to imageHeight 720 (got 900)", outside.Stderr.Trim());

        File.WriteAllText(cameras, good.Replace("\"fx\": 900.0, ", "", StringComparison.Ordinal));
        var missing = await TreescoutAsync(["run", "start", "--block", "Noord 3", "--cameras", cameras], withoutBrokerVariable: true);
        Assert.Equal(2, missing.ExitCode);
        Assert.Equal($"treescout: {cameras}: camera \"cam-right\": fx is missing", missing.Stderr.Trim());
    }

    private async Task<ToolResult> TreescoutAsync(string[] args, bool withoutBrokerVariable = false)
    {
        var result = await Tool.RunAsync("dotnet", [WorkerProcess.ProjectDll("src", "TreeScout.Cli", "treescout"), .. args], Patience,
            environment: withoutBrokerVariable ? new Dictionary<string, string?> { ["TREESCOUT__Broker__Uri"] = null } : null);
        output.WriteLine($"$ treescout {string.Join(' ', args)}\n{result.Stdout}{result.Stderr}exit {result.ExitCode}");
        return result;
    }

    private static WorkerStatus Status(string worker, string runId) => new()
    {
        MessageId = Guid.NewGuid(),
        RunId = runId,
        Worker = worker,
        Instance = $"{worker}@tractor-1",
        Version = "0.1.0",
        AtUtc = DateTimeOffset.UtcNow,
        Ready = true,
        Counters = new Dictionary<string, long>(),
    };

    /// <summary>A bus consuming <paramref name="queue"/>'s run control messages into <paramref name="received"/>.</summary>
    internal static Task<RabbitMqMessageBus> ConnectAsync(Uri broker, string queue, out ConcurrentQueue<IMessage> received)
    {
        var inbox = new ConcurrentQueue<IMessage>();
        received = inbox;
        return Heartbeats.ConnectAsync(broker, bus => bus.Subscribe(queue, new MessageDispatcher()
            .On(new Collect<RunStarted>(inbox))
            .On(new Collect<RunStopRequested>(inbox))));
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what) => await WaitUntilAsync(() => Task.FromResult(condition()), what);

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting until {what}");
            await Task.Delay(50);
        }
    }

    private string WriteCameras()
    {
        var path = Path.Combine(_dir, "camera.json");
        File.WriteAllText(path, """
            {"cameras": [{"cameraId": "cam-right", "side": "right",
              "leverArm": {"forwardM": -0.5, "rightM": 0.9, "upM": -1.3}, "antennaHeightM": 2.9,
              "yawDeg": 90, "pitchDeg": 5, "mountRotationDeg": 180,
              "imageWidth": 1280, "imageHeight": 720, "fx": 900.0, "fy": 900.0, "cx": 640.0, "cy": 360.0}]}
            """);
        return path;
    }

    private string WritePlan()
    {
        var path = Path.Combine(_dir, "block.geojson");
        File.WriteAllText(path, """
            {"type": "FeatureCollection", "features": [
              {"type": "Feature", "geometry": null, "properties": {"kind": "block", "name": "Noord 3", "treeSpacingM": 1.2, "rowSpacingM": 3.5, "variety": "Jonagold"}},
              {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[5.6612, 51.9873], [5.6640, 51.9873]]}, "properties": {"kind": "row", "rowId": "R01"}}
            ]}
            """);
        return path;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}

/// <summary>Collects the messages of one type a test bus consumes.</summary>
internal sealed class Collect<T>(ConcurrentQueue<IMessage> inbox) : IMessageHandler<T>
    where T : class, IMessage
{
    public Task HandleAsync(T message, MessageContext context, CancellationToken cancellationToken)
    {
        inbox.Enqueue(message);
        return Task.CompletedTask;
    }
}

/// <summary>Publishes the heartbeats of workers that are not running in the test (what capture or fusion would send), every 250 ms.</summary>
public sealed class Heartbeats : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private Heartbeats(RabbitMqMessageBus bus, WorkerStatus[] statuses)
    {
        Bus = bus;
        _loop = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                foreach (var status in statuses)
                {
                    await bus.PublishAsync(status with { MessageId = Guid.NewGuid(), AtUtc = DateTimeOffset.UtcNow });
                }
                await Task.Delay(250);
            }
        });
    }

    public RabbitMqMessageBus Bus { get; }

    public static async Task<Heartbeats> StartAsync(Uri broker, params WorkerStatus[] statuses) => new(await ConnectAsync(broker), statuses);

    public static async Task<RabbitMqMessageBus> ConnectAsync(Uri broker, Action<IMessageBus>? subscribe = null)
    {
        var options = new BrokerOptions { Uri = broker.ToString() };
        var bus = new RabbitMqMessageBus(options, new Topology(options.Topology), "test", new MessagingMetrics(), NullLogger<RabbitMqMessageBus>.Instance);
        subscribe?.Invoke(bus);
        await bus.StartAsync(CancellationToken.None);
        await bus.WhenConnectedAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));
        return bus;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        await Bus.DisposeAsync();
        _stop.Dispose();
    }
}
