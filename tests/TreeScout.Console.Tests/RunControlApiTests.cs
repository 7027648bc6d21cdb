using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using TreeScout.Contracts;
using TreeScout.Messaging;
using TreeScout.Tests;

namespace TreeScout.WebConsole.Tests;

/// <summary>Run control through the console's API against the real RabbitMQ (a test vhost), as a script with an account would use it.</summary>
[Collection(SampleRunsCollection.Name)]
[Trait("Category", "Integration")]
public sealed class RunControlApiTests(SampleRuns runs)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_script_uploads_the_plan_starts_a_run_is_refused_a_second_start_with_the_active_run_and_stops_it()
    {
        await using var vhost = await TestBroker.CreateVhostAsync("console-control");
        await using var capture = await FakeCapture.StartAsync(vhost.Uri, "detection", "fusion", "mapwriter");
        await using var console = Console(vhost);
        using var client = Script(console);

        using var upload = await client.PostAsync("/api/plans", PlanUpload(ConsoleFactory.Pin));
        Assert.Equal(HttpStatusCode.Created, upload.StatusCode);
        var plan = await upload.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(("betuwe-demo-block", SampleRuns.Block, 2, 24), (plan.GetProperty("key").GetString(), plan.GetProperty("block").GetString(), plan.GetProperty("rows").GetInt32(), plan.GetProperty("trees").GetInt32()));

        using var wrongPin = await client.PostAsync("/api/runs", Form(("block", "betuwe-demo-block"), ("pin", "0000")));
        Assert.Equal(HttpStatusCode.Forbidden, wrongPin.StatusCode);
        Assert.Equal("wrong PIN", await ErrorAsync(wrongPin));

        using var start = await client.PostAsync("/api/runs", Form(("block", "betuwe-demo-block"), ("variety", "Gala"), ("pin", ConsoleFactory.Pin)));
        Assert.Equal(HttpStatusCode.Created, start.StatusCode);
        var runId = (await start.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("runId").GetString()!;
        Assert.Matches("^[0-9]{8}-[0-9]{6}-betuwe-demo-block-[0-9a-f]{4}$", runId);
        var started = (await RunBook.ReadAsync(capture.Bus, CancellationToken.None)).Find(runId)!.Started;
        Assert.Equal((SampleRuns.Block, "Gala", "live"), (started.Block, started.Variety, started.Source));
        Assert.Equal(File.ReadAllText(Path.Combine(RepoPaths.Samples, "betuwe-rtk-2x12", "block.geojson")), started.BlockPlanGeoJson);
        Assert.Equal("cam-right", Assert.Single(started.Cameras).CameraId);
        Assert.Equal(1, (await capture.Bus.GetQueueDepthAsync(Topology.CaptureControlQueue, CancellationToken.None))!.Ready);

        capture.Filming = runId;
        // A camera's rate needs two of capture's heartbeats: the status may name the run one heartbeat before it has one.
        await WaitUntilAsync(async () => await client.GetFromJsonAsync<JsonElement>("/api/status") is var s
            && s.GetProperty("run") is { ValueKind: JsonValueKind.Object } run && run.GetProperty("runId").GetString() == runId
            && s.GetProperty("cameras") is { ValueKind: JsonValueKind.Array } cameras && cameras.GetArrayLength() > 0
            && cameras[0].GetProperty("framesPerSecond").ValueKind == JsonValueKind.Number, "the status shows the run being scanned and its camera's rate");
        var status = await client.GetFromJsonAsync<JsonElement>("/api/status");
        Assert.Equal(("scanning", SampleRuns.Block, "Gala"), (status.GetProperty("run").GetProperty("state").GetString(), status.GetProperty("run").GetProperty("block").GetString(), status.GetProperty("run").GetProperty("variety").GetString()));
        Assert.All(status.GetProperty("workers").EnumerateArray(), w => Assert.True(w.GetProperty("up").GetBoolean(), w.GetProperty("worker").GetString()));
        Assert.Equal(2, status.GetProperty("shed").GetInt64());
        // 5 frames every 250 ms.
        Assert.InRange(status.GetProperty("cameras")[0].GetProperty("framesPerSecond").GetDouble(), 10, 30);
        // No map writer runs here, so the run has no folder: the cab's map of it is empty (200), where a run nobody
        // scans is unknown (404) — a 404 would be a resource error in the cab's browser console.
        using var trees = await client.GetAsync($"/api/runs/{runId}/trees");
        Assert.Equal(HttpStatusCode.OK, trees.StatusCode);
        Assert.Empty((await trees.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("features").EnumerateArray());
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/runs/20261207-080000-nobody-0001/trees")).StatusCode);

        using var again = await client.PostAsync("/api/runs", Form(("block", "betuwe-demo-block"), ("pin", ConsoleFactory.Pin)));
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.StartsWith($"run {runId} is still active on {FakeCapture.Instance}", await ErrorAsync(again), StringComparison.Ordinal);

        using var stop = await client.PostAsync("/api/runs/active/stop", Form(("pin", ConsoleFactory.Pin)));
        Assert.Equal(HttpStatusCode.Accepted, stop.StatusCode);
        Assert.Equal(runId, (await stop.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("runId").GetString());
        var request = (await RunBook.ReadAsync(capture.Bus, CancellationToken.None)).Find(runId)!.StopRequested!;
        Assert.Equal($"{ConsoleFactory.Agronomist} (console)", request.RequestedBy);
    }

    [Fact]
    public async Task A_run_the_ledger_has_unfinished_after_a_power_cut_is_shown_interrupted_with_the_ledgers_warning_once()
    {
        await using var vhost = await TestBroker.CreateVhostAsync("console-ledger");
        await using var capture = await FakeCapture.StartAsync(vhost.Uri, "detection", "fusion", "mapwriter");
        var runId = "20260412-071500-betuwe-demo-block-0a1b";
        var started = new RunStarted
        {
            MessageId = Guid.NewGuid(),
            RunId = runId,
            StartedAtUtc = DateTimeOffset.UtcNow.AddMinutes(-20),
            Block = SampleRuns.Block,
            Variety = "Elstar",
            Cameras = [],
            Source = "live",
        };
        var interrupted = new RunInterrupted
        {
            MessageId = Guid.NewGuid(),
            RunId = runId,
            InterruptedAtUtc = started.StartedAtUtc.AddMinutes(5),
            NoticedAtUtc = started.StartedAtUtc.AddMinutes(12),
            Resumed = false,
        };
        await capture.Bus.PublishAsync(started);
        await capture.Bus.PublishAsync(interrupted);
        await using var console = Console(vhost);
        using var client = Script(console);

        // Every worker is up and idle: only the ledger knows the run (capture restarted after the power cut).
        await WaitUntilAsync(async () => (await client.GetFromJsonAsync<JsonElement>("/api/status")).GetProperty("run").ValueKind == JsonValueKind.Object, "the status shows the ledger's run");
        var status = await client.GetFromJsonAsync<JsonElement>("/api/status");
        var run = status.GetProperty("run");
        Assert.Equal((runId, "interrupted", SampleRuns.Block, "Elstar"), (run.GetProperty("runId").GetString(), run.GetProperty("state").GetString(), run.GetProperty("block").GetString(), run.GetProperty("variety").GetString()));
        Assert.InRange(run.GetProperty("elapsedSeconds").GetDouble(), 20 * 60 - 5, 20 * 60 + 60);
        var warning = Assert.Single(status.GetProperty("warnings").EnumerateArray());
        Assert.Equal(("interrupted", "Run interrupted", RunInterruptions.Describe(interrupted)), (warning.GetProperty("kind").GetString(), warning.GetProperty("title").GetString(), warning.GetProperty("detail").GetString()));

        // Fusion finishes it: the ledger's RunFused ends it on the cab screen once the ledger is read again.
        await capture.Bus.PublishAsync(new RunFused
        {
            MessageId = Guid.NewGuid(),
            RunId = runId,
            ObservationsPublished = 0,
            FramesFused = 0,
            FramesWithoutPose = 0,
            FramesMissing = 0,
            Gnss = new GnssQualitySummary(0, 0, 0, 0, 0, 0),
            EndReason = "idle",
        });
        await WaitUntilAsync(async () => (await client.GetFromJsonAsync<JsonElement>("/api/status")).GetProperty("run").ValueKind == JsonValueKind.Null, "the fused run is no longer shown");
        Assert.Empty((await client.GetFromJsonAsync<JsonElement>("/api/status")).GetProperty("warnings").EnumerateArray());
    }

    [Fact]
    public async Task An_invalid_plan_upload_is_refused_with_the_same_line_as_run_start_and_nothing_is_stored()
    {
        await using var vhost = await TestBroker.CreateVhostAsync("console-plan");
        await using var console = Console(vhost);
        using var client = Script(console);
        var content = new MultipartFormDataContent
        {
            { new StringContent(ConsoleFactory.Pin), "pin" },
            { new ByteArrayContent(Encoding.UTF8.GetBytes("""{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::28992"}},"features":[]}""")), "plan", "noord3-rd.geojson" },
        };

        using var upload = await client.PostAsync("/api/plans", content);

        Assert.Equal(HttpStatusCode.BadRequest, upload.StatusCode);
        Assert.Equal("block plan noord3-rd.geojson: unexpected CRS 'urn:ogc:def:crs:EPSG::28992'; block plans must be WGS84 longitude/latitude (RFC 7946)", await ErrorAsync(upload));
        Assert.Empty(await client.GetFromJsonAsync<JsonElement[]>("/api/plans") ?? []);
    }

    private ConsoleFactory Console(TestVhost vhost) => new(runs.Runs, withAccounts: true, new Dictionary<string, string?>
    {
        ["Broker:Uri"] = vhost.Uri.ToString(),
        ["Console:Cameras"] = Path.Combine(RepoPaths.Samples, "betuwe-rtk-2x12", "camera.json"),
        ["Console:HeartbeatWindow"] = "00:00:02",
        ["Console:LiveInterval"] = "00:00:00.500",
        ["Console:LedgerInterval"] = "00:00:02",
        // This machine's disk may be low: only the warnings under test.
        ["Console:LowDiskMiB"] = "0",
    });

    /// <summary>A user's script: HTTP Basic with the agronomist's account.</summary>
    private static HttpClient Script(ConsoleFactory console)
    {
        var client = console.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{ConsoleFactory.Agronomist}:{ConsoleFactory.AgronomistPassword}")));
        return client;
    }

    private static MultipartFormDataContent PlanUpload(string pin) => new()
    {
        { new StringContent(pin), "pin" },
        { new ByteArrayContent(File.ReadAllBytes(Path.Combine(RepoPaths.Samples, "betuwe-rtk-2x12", "block.geojson"))), "plan", "block.geojson" },
    };

    private static FormUrlEncodedContent Form(params (string Key, string Value)[] fields) => new(fields.Select(f => KeyValuePair.Create(f.Key, f.Value)));

    private static async Task<string?> ErrorAsync(HttpResponseMessage response) => (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString();

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting until {what}");
            await Task.Delay(200);
        }
    }
}
