using System.Globalization;
using System.Net;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using TreeScout.Capture;
using TreeScout.Cli.RunControl;
using TreeScout.Cli.Scanning;
using TreeScout.Contracts;
using TreeScout.Messaging;
using TreeScout.Orchard;
using TreeScout.RunControl;
using TreeScout.Simulation.Scoring;
using TreeScout.Tests;
using Xunit;
using Xunit.Abstractions;

namespace TreeScout.Pipeline.Tests;

/// <summary>
/// Workers killed with SIGKILL while a recording is scanned over the real RabbitMQ, on a schedule drawn from a fixed
/// seed: a Fusion crash loop (more kills in a row than the old delivery limit of 5) and kills of Detection and the map
/// writer in between. The map must equal the embedded scan's — the same observation ids on the same trees — and no
/// message may end in a dead-letter queue. TREESCOUT_CHAOS_SEED picks another schedule; TREESCOUT_CHAOS_ROUNDS soaks longer.
/// </summary>
[Collection(ScanCollection.Name)]
[Trait("Category", "Disruptive")]
public sealed class ChaosTests(ScanFixture scan, ITestOutputHelper output)
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task A_fusion_crash_loop_and_random_kills_lose_nothing_and_count_nothing_twice()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("TREESCOUT_CHAOS_SEED"), CultureInfo.InvariantCulture, out var s) ? s : 20261207;
        var rounds = int.TryParse(Environment.GetEnvironmentVariable("TREESCOUT_CHAOS_ROUNDS"), CultureInfo.InvariantCulture, out var r) ? r : 1;
        var random = new Random(seed);
        await using var vhost = await TestBroker.CreateVhostAsync("chaos");
        var storeRoot = Path.Combine(scan.Root, "chaos-store-" + seed);
        var workers = new Dictionary<string, (WorkerProcess Process, int Port)>(StringComparer.Ordinal);
        var kills = new List<string>();
        try
        {
            foreach (var project in PipelineWorkers.Projects)
            {
                workers[project] = Start(project, vhost.Uri, storeRoot);
                await ReadyAsync(project);
            }

            var outDirectory = Path.Combine(scan.Root, "chaos-" + seed);
            var pipeline = new ScanPipeline(new ConfigurationBuilder().Build(), NullLoggerFactory.Instance, TextWriter.Null);
            await using var session = await BrokerSession.ConnectAsync(vhost.Uri.ToString(), null, TextWriter.Null, CancellationToken.None);
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(8 * rounds));
            // The embedded scan's run id, so both scans must give the very same observation ids; recorded timing slowed
            // down 5x (11 s of frames take 55 s), so the kills land while frames flow. The last fifth of the frames waits
            // until every kill is done, so none can land after the map was final on a slow machine.
            var request = new ScanRequest(scan.Recording, outDirectory, ReplayPace.Faster(0.2 / rounds), RunId: scan.Embedded.RunId);
            var gate = new FrameGate(session.Bus);
            var lastFifth = gate.HoldAfterAsync(new Recording(scan.Recording).ReadFrames().Count() * 4 / 5, timeout.Token);
            var scanning = pipeline.RunOnBrokerAsync(gate, request, timeout.Token);

            var killedWhileScanning = 0;
            for (var round = 0; round < rounds; round++)
            {
                // The crash loop: Fusion killed 6 times in a row (more than the old delivery limit of 5), each time soon
                // after it is back and holding the run's messages again.
                for (var i = 0; i < 6; i++)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(random.Next(1000, 2500)));
                    killedWhileScanning += await KillAsync("TreeScout.Fusion") ? 1 : 0;
                    await ReadyAsync("TreeScout.Fusion");
                }
                // Then any worker, at random, also while it is still starting.
                for (var i = 0; i < 14; i++)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(random.Next(300, 1500)));
                    killedWhileScanning += await KillAsync(PipelineWorkers.Projects[random.Next(PipelineWorkers.Projects.Length)]) ? 1 : 0;
                }
                foreach (var project in PipelineWorkers.Projects)
                {
                    await ReadyAsync(project);
                }
            }
            output.WriteLine($"seed {seed}: killed {string.Join(", ", kills)}; {killedWhileScanning} while the scan ran; " +
                $"{(lastFifth.IsCompleted ? "the last fifth of the frames was held" : "the kills were done before the last fifth of the frames")}");
            gate.Release();

            var result = await scanning;
            Assert.True(killedWhileScanning >= 15, $"only {killedWhileScanning} of {kills.Count} kills landed before the map was final");
            await AssertLikeTheEmbeddedScanAsync(result, outDirectory, session.Bus);

            // True when the map was not final yet at the kill.
            async Task<bool> KillAsync(string project)
            {
                var running = !scanning.IsCompleted;
                await workers[project].Process.KillAsync();
                await workers[project].Process.DisposeAsync();
                kills.Add(project["TreeScout.".Length..]);
                workers[project] = Start(project, vhost.Uri, storeRoot);
                return running;
            }
        }
        finally
        {
            foreach (var worker in workers.Values)
            {
                await worker.Process.DisposeAsync();
            }
        }

        async Task ReadyAsync(string project) =>
            await HealthEndpoint.WaitForStatusAsync(workers[project].Port, "/readyz", HttpStatusCode.OK, ReadyTimeout);
    }

    // Two broker restarts of 20 s and a power cut (broker and every worker killed at once) during a scan on a broker node
    // of the test's own: the scan, fed by this process, waits through each outage; after the cut everything restarts.
    [Fact]
    public async Task Broker_restarts_and_a_power_cut_lose_nothing_and_count_nothing_twice()
    {
        await using var node = await OwnBrokerNode.StartAsync("chaos");
        var storeRoot = Path.Combine(scan.Root, "power-cut-store");
        var workers = new Dictionary<string, (WorkerProcess Process, int Port)>(StringComparer.Ordinal);
        try
        {
            foreach (var project in PipelineWorkers.Projects)
            {
                workers[project] = Start(project, node.Uri, storeRoot);
            }
            foreach (var project in PipelineWorkers.Projects)
            {
                await HealthEndpoint.WaitForStatusAsync(workers[project].Port, "/readyz", HttpStatusCode.OK, ReadyTimeout);
            }

            var outDirectory = Path.Combine(scan.Root, "power-cut");
            var pipeline = new ScanPipeline(new ConfigurationBuilder().Build(), NullLoggerFactory.Instance, TextWriter.Null);
            await using var session = await BrokerSession.ConnectAsync(node.Uri.ToString(), null, TextWriter.Null, CancellationToken.None);
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
            var request = new ScanRequest(scan.Recording, outDirectory, ReplayPace.Faster(0.2), RunId: scan.Embedded.RunId);
            var frames = new Recording(scan.Recording).ReadFrames().Count();
            // Each fault comes with the scan's next frame held at the gate, a fifth, two fifths and three fifths in; the
            // held frame goes out into the fault, so the scan publishes into a broker that is down.
            var gate = new FrameGate(session.Bus);
            var fault = gate.HoldAfterAsync(frames / 5, timeout.Token);
            var scanning = pipeline.RunOnBrokerAsync(gate, request, timeout.Token);

            for (var restart = 1; restart <= 2; restart++)
            {
                await HeldAsync();
                await node.StopAsync();
                gate.Release();
                fault = gate.HoldAfterAsync(frames * (restart + 1) / 5, timeout.Token);
                await Task.Delay(TimeSpan.FromSeconds(20));
                await node.StartAgainAsync();
            }
            await HeldAsync();
            // The power cut: the broker's VM and every worker get SIGKILL at the same moment.
            await Task.WhenAll([node.KillAsync(), .. workers.Values.Select(w => w.Process.KillAsync())]);
            gate.Release();
            foreach (var project in PipelineWorkers.Projects)
            {
                await workers[project].Process.DisposeAsync();
            }
            await Task.Delay(TimeSpan.FromSeconds(3));
            await node.StartAgainAsync();
            foreach (var project in PipelineWorkers.Projects)
            {
                workers[project] = Start(project, node.Uri, storeRoot);
            }

            var result = await scanning;
            await AssertLikeTheEmbeddedScanAsync(result, outDirectory, session.Bus);

            async Task HeldAsync()
            {
                await Task.WhenAny(fault, scanning);
                Assert.False(scanning.IsCompleted, $"the scan ended before the fault: {scanning.Exception?.GetBaseException().Message}");
                await fault;
            }
        }
        finally
        {
            foreach (var worker in workers.Values)
            {
                await worker.Process.DisposeAsync();
            }
        }
    }

    // A live run filmed by the capture worker from a recording (the dev overlay's replay: capture plays the frames, fusion
    // the fixes), cut by a power cut. A recording cannot resume, so the operator stops the run; its map must hold exactly
    // the observations of the frames captured before the cut: those of the embedded scan of the recording cut after the
    // same frame, under the same run id.
    [Fact]
    public async Task A_power_cut_during_a_replayed_run_ends_it_with_exactly_the_frames_captured_before_the_cut()
    {
        await using var node = await OwnBrokerNode.StartAsync("chaos-replay");
        var storeRoot = Path.Combine(scan.Root, "replay-cut-store");
        var frames = new Recording(scan.Recording).ReadFrames().Count();
        var projects = (string[])["TreeScout.Capture", .. PipelineWorkers.Projects];
        var settings = new Dictionary<string, string>
        {
            // The recorded timing slowed down 5x, so the cut lands mid-run; capture's ledger progress every second.
            ["TREESCOUT__Capture__Source"] = scan.Recording,
            ["TREESCOUT__Capture__Speedup"] = "0.2",
            ["TREESCOUT__Capture__ProgressInterval"] = "00:00:01",
            ["TREESCOUT__Gnss__Source"] = "Recording",
            ["TREESCOUT__Gnss__Recording"] = scan.Recording,
            ["TREESCOUT__Fusion__QuietTimeout"] = "00:00:10",
        };
        var workers = new Dictionary<string, (WorkerProcess Process, int Port)>(StringComparer.Ordinal);
        try
        {
            await StartAllAsync();
            await using var session = await BrokerSession.ConnectAsync(node.Uri.ToString(), null, TextWriter.Null, CancellationToken.None);
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
            var finalMap = new TaskCompletionSource<MapUpdated>(TaskCreationOptions.RunContinuationsAsynchronously);
            await using var maps = await session.Bus.ListenAsync(Topology.MapsExchange, "#", envelope =>
            {
                if (MessageCodec.Decode(envelope) is MapUpdated { Final: true } map)
                {
                    finalMap.TrySetResult(map);
                }
                return Task.CompletedTask;
            }, timeout.Token);

            var controller = new RunController(session.Bus, new HeartbeatWindow(session, TimeSpan.FromSeconds(3)), TextWriter.Null);
            var (planJson, plan) = RunStarts.ReadPlan(Path.Combine(scan.Recording, Recording.BlockFile));
            var started = await controller.StartAsync(new RunStartRequest(plan!.Name ?? "sim", null, planJson, plan,
                new Recording(scan.Recording).ReadCameras().Cameras), DateTimeOffset.UtcNow, timeout.Token);
            var runId = started.RunId;

            // Cut once capture's ledger progress says 40 % of the frames are confirmed.
            RunCaptureProgress? progress;
            while ((progress = (await RunBook.ReadAsync(session.Bus, timeout.Token)).Find(runId)?.CaptureProgress) is null || progress.FramesPublished < frames * 0.4)
            {
                await Task.Delay(250, timeout.Token);
            }
            await Task.WhenAll([node.KillAsync(), .. workers.Values.Select(w => w.Process.KillAsync())]);
            foreach (var worker in workers.Values)
            {
                await worker.Process.DisposeAsync();
            }
            await Task.Delay(TimeSpan.FromSeconds(3));
            await node.StartAgainAsync();
            await StartAllAsync();

            // Capture came back: the run is interrupted and cannot resume from a recording; the operator is told so.
            var interruption = await LedgerAsync(session.Bus, book => book.Find(runId)!.Interruptions.SingleOrDefault(), timeout.Token);
            Assert.False(interruption.Resumed);
            Assert.True(interruption.InterruptedAtUtc >= progress.ConfirmedAtUtc, $"interrupted at {interruption.InterruptedAtUtc:O}, before the last progress seen {progress.ConfirmedAtUtc:O}");
            var status = await RunStatusReport.CollectAsync(session.Bus, session.Broker, new HeartbeatWindow(session, TimeSpan.FromSeconds(3)), runId, timeout.Token);
            Assert.Contains(status.Warnings, w => w.StartsWith($"run {runId} was interrupted at ", StringComparison.Ordinal) && w.Contains("cannot resume", StringComparison.Ordinal));
            Assert.Contains(runId, status.ActiveRuns);

            // The frames the broker kept reach fusion once detection is back; then the operator stops the run.
            await DrainedAsync(session.Bus, [Topology.DetectionFramesQueue, Topology.FusionDetectionsQueue], timeout.Token);
            await controller.StopAsync(runId, DateTimeOffset.UtcNow, timeout.Token);
            var map = await finalMap.Task.WaitAsync(timeout.Token);
            Assert.Equal(runId, map.RunId);
            var fused = await LedgerAsync(session.Bus, book => book.Find(runId)!.Fused, timeout.Token);
            var captured = fused.FramesFused + fused.FramesWithoutPose;
            output.WriteLine($"{frames} frames; {progress.FramesPublished} confirmed at the last progress before the cut; {captured} reached fusion; " +
                $"interrupted {RunInterruptions.Duration(interruption.NoticedAtUtc - interruption.InterruptedAtUtc)}");
            Assert.InRange(captured, progress.FramesPublished, frames - 1);

            // The reference: the embedded scan of the recording cut after the last frame captured, same run id.
            var cut = CutRecording(captured);
            var referenceOut = Path.Combine(scan.Root, "replay-cut-reference");
            var reference = await new ScanPipeline(new ConfigurationBuilder().Build(), NullLoggerFactory.Instance, TextWriter.Null)
                .RunEmbeddedAsync(new ScanRequest(cut, referenceOut, ReplayPace.AsFastAsAccepted, RunId: runId), timeout.Token);
            var runFolder = Path.GetDirectoryName(map.StorePath)!;
            Assert.True(reference.Map.Observations > 0);
            Assert.Equal(ObservationIds(referenceOut), ObservationIds(runFolder));
            Assert.Equal(PerTreeMap.Read(referenceOut), PerTreeMap.Read(runFolder));
            Assert.Equal(reference.Map.Observations, map.Observations);
            await AssertNoDeadLettersAsync(session.Bus);
        }
        finally
        {
            foreach (var worker in workers.Values)
            {
                await worker.Process.DisposeAsync();
            }
        }

        async Task StartAllAsync()
        {
            foreach (var project in projects)
            {
                workers[project] = PipelineWorkers.Start(project, node.Uri, storeRoot, output, settings);
            }
            foreach (var project in projects)
            {
                await HealthEndpoint.WaitForStatusAsync(workers[project].Port, "/readyz", HttpStatusCode.OK, ReadyTimeout);
            }
        }

        async Task<T> LedgerAsync<T>(IMessageBus bus, Func<RunBook, T?> find, CancellationToken cancellationToken) where T : class
        {
            while (true)
            {
                if (find(await RunBook.ReadAsync(bus, cancellationToken)) is { } found)
                {
                    return found;
                }
                await Task.Delay(250, cancellationToken);
            }
        }

        string CutRecording(long framesKept)
        {
            var copy = Path.Combine(scan.Root, "replay-cut-recording");
            foreach (var file in Directory.EnumerateFiles(scan.Recording, "*", SearchOption.AllDirectories))
            {
                var target = Path.Combine(copy, Path.GetRelativePath(scan.Recording, file));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target);
            }
            var rows = File.ReadAllLines(Path.Combine(scan.Recording, Recording.FramesFile));
            File.WriteAllLines(Path.Combine(copy, Recording.FramesFile), rows.Take(1 + (int)framesKept));
            return copy;
        }

        static async Task DrainedAsync(IMessageBus bus, string[] queues, CancellationToken cancellationToken)
        {
            // Empty twice in a row, a second apart: detection has taken every kept frame and fusion every detection.
            for (var emptyPolls = 0; emptyPolls < 2; await Task.Delay(1000, cancellationToken))
            {
                var depths = await Task.WhenAll(queues.Select(q => bus.GetQueueDepthAsync(q, cancellationToken)));
                emptyPolls = depths.All(d => d is { Ready: 0 }) ? emptyPolls + 1 : 0;
            }
        }
    }

    /// <summary>The same observation ids on the same trees as the embedded scan of the recording, and no dead letter anywhere.</summary>
    private async Task AssertLikeTheEmbeddedScanAsync(ScanResult result, string outDirectory, IMessageBus bus)
    {
        var embedded = PerTreeMap.Read(scan.EmbeddedOut);
        var disrupted = PerTreeMap.Read(outDirectory);
        foreach (var tree in embedded.Keys)
        {
            output.WriteLine($"{tree}: embedded {embedded[tree]} | disrupted {disrupted.GetValueOrDefault(tree, "-")}");
        }
        Assert.Equal(ObservationIds(scan.EmbeddedOut), ObservationIds(outDirectory));
        Assert.Equal(embedded, disrupted);
        Assert.Equal(scan.Embedded.Map.Observations, result.Map.Observations);
        await AssertNoDeadLettersAsync(bus);
    }

    private static async Task AssertNoDeadLettersAsync(IMessageBus bus)
    {
        foreach (var queue in new Topology(new TopologyOptions()).Queues)
        {
            // Unknown (null) while this client is still reconnecting after the broker came back: ask again.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            var depth = await bus.GetQueueDepthAsync(queue.Name, CancellationToken.None);
            while (depth is null && DateTime.UtcNow < deadline)
            {
                await Task.Delay(500);
                depth = await bus.GetQueueDepthAsync(queue.Name, CancellationToken.None);
            }
            Assert.NotNull(depth);
            Assert.Equal((queue.DeadLetterQueue, 0L), (queue.DeadLetterQueue, depth.DeadLettered));
        }
    }

    private static List<string> ObservationIds(string runFolder)
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(runFolder, RunResult.StoreFile)};Mode=ReadOnly");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT observation_id || ' ' || coalesce(tree_id, '-') FROM observations ORDER BY observation_id";
        using var reader = command.ExecuteReader();
        var ids = new List<string>();
        while (reader.Read())
        {
            ids.Add(reader.GetString(0));
        }
        return ids;
    }

    private (WorkerProcess Process, int Port) Start(string project, Uri broker, string storeRoot) =>
        PipelineWorkers.Start(project, broker, storeRoot, output, new Dictionary<string, string>
        {
            // A restarted fusion counts from the run ledger, but ends a run whose stop it did not see by the quiet timeout.
            ["TREESCOUT__Fusion__QuietTimeout"] = "00:00:05",
        });
}
