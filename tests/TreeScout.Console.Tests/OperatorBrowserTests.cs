using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.Playwright;
using TreeScout.Tests;
using Xunit.Abstractions;

namespace TreeScout.WebConsole.Tests;

/// <summary>
/// The operator's cab screen in Debian's Chromium over the real RabbitMQ broker with the four real workers as processes
/// (capture replays the bundled sample as if filming it, fusion reads the sample's GNSS): sign in with the PIN, upload
/// the block plan, a wrong PIN is refused, start, the counters move and the map fills, stop, the run ends complete.
/// </summary>
[Trait("Category", "Integration")]
public sealed class OperatorBrowserTests(ITestOutputHelper output) : IDisposable
{
    private static readonly string Sample = Path.Combine(RepoPaths.Samples, "betuwe-rtk-2x12");
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(120);
    private readonly string _runs = Directory.CreateTempSubdirectory("treescout-console-operator-").FullName;

    [Fact]
    public async Task The_operator_starts_a_run_of_the_replayed_sample_watches_counters_and_map_fill_and_stops_it()
    {
        await using var vhost = await TestBroker.CreateVhostAsync("console-operator");
        var workers = new List<WorkerProcess>();
        try
        {
            foreach (var (project, settings) in Workers())
            {
                var port = WorkerProcess.FreePort();
                var environment = new Dictionary<string, string>(settings)
                {
                    ["TREESCOUT__Broker__Uri"] = vhost.Uri.ToString(),
                    ["TREESCOUT__Health__BindAddress"] = "127.0.0.1",
                    ["TREESCOUT__Health__Port"] = port.ToString(CultureInfo.InvariantCulture),
                    ["TREESCOUT__Logging__Format"] = "text",
                    ["TREESCOUT__Status__HeartbeatInterval"] = "00:00:01",
                };
                var name = project["TreeScout.".Length..];
                workers.Add(await WorkerProcess.StartReadyAsync(WorkerProcess.ProjectDll("src", project), environment, port, ReadyTimeout, echo: l => output.WriteLine($"[{name}] {l}")));
            }
            await using var console = await ConsoleServer.StartAsync(_runs, new Dictionary<string, string?>
            {
                ["Broker:Uri"] = vhost.Uri.ToString(),
                ["Console:Cameras"] = Path.Combine(Sample, "camera.json"),
                ["Console:LiveInterval"] = "00:00:00.500",
                ["Console:HeartbeatWindow"] = "00:00:03",
            });
            await using var browser = await BrowserSession.StartAsync();
            var page = await browser.PageAsync(1280, 800, touch: true);

            await BrowserSession.SignInOperatorAsync(page, console.Url);
            await Assertions.Expect(page.Locator("#workers li.up")).ToHaveCountAsync(4, new() { Timeout = 30_000 });
            await Assertions.Expect(page.Locator("#broker-banner")).ToBeHiddenAsync();

            await page.ClickAsync("details.card summary");
            await page.SetInputFilesAsync("#plan", Path.Combine(Sample, "block.geojson"));
            await page.FillAsync("#plan-pin", ConsoleFactory.Pin);
            await page.ClickAsync("#plan-form button[type=submit]");
            await Assertions.Expect(page.Locator("#control-message")).ToHaveTextAsync("Plan of Betuwe demo block stored: 2 rows, 24 trees.");
            Assert.Equal("betuwe-demo-block", await page.InputValueAsync("#block"));

            await page.FillAsync("#start-pin", "9999");
            await page.ClickAsync("#start");
            await Assertions.Expect(page.Locator("#control-message")).ToHaveTextAsync("wrong PIN");
            await Assertions.Expect(page.Locator("#run-state")).ToHaveTextAsync("Idle");

            await page.FillAsync("#start-pin", ConsoleFactory.Pin);
            await page.ClickAsync("#start");
            await Assertions.Expect(page.Locator("#control-message")).ToContainTextAsync("Started Betuwe demo block: run ");
            await Assertions.Expect(page.Locator("#run-state")).ToHaveTextAsync("Scanning", new() { Timeout = 30_000 });
            await Assertions.Expect(page.Locator("#stop-form")).ToBeVisibleAsync();

            // Counters move and the map fills while capture films.
            await Assertions.Expect(page.Locator("#fps")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^cam-right [1-9]"), new() { Timeout = 30_000 });
            var counted = await WaitForTreesAsync(page, 1);
            await Assertions.Expect(page.Locator("#gnss")).ToHaveTextAsync("RTK fixed");
            var coloured = await ColouredTreesAsync(page);
            output.WriteLine(await BrowserSession.ScreenshotAsync(page, "cab-scanning-1280x800"));
            output.WriteLine(await page.EvaluateAsync<string>("() => fetch('/api/status').then(r => r.text())"));
            Assert.True(coloured > 0, "the live map shows counted trees in colour");
            Assert.True(await BrowserSession.OverflowAsync(page) <= 0);
            await Assertions.Expect(page.Locator("#run-state")).ToHaveTextAsync("Scanning");

            await page.FillAsync("#stop-pin", ConsoleFactory.Pin);
            await page.ClickAsync("#stop");
            await Assertions.Expect(page.Locator("#control-message")).ToContainTextAsync("Stop requested for run ");
            await Assertions.Expect(page.Locator("#run-state")).ToHaveTextAsync("Idle", new() { Timeout = 120_000 });
            output.WriteLine(await BrowserSession.ScreenshotAsync(page, "cab-stopped-1280x800"));

            var runs = JsonDocument.Parse(await page.EvaluateAsync<string>("() => fetch('/api/runs').then(r => r.text())")).RootElement;
            var run = Assert.Single(runs.EnumerateArray());
            Assert.Equal(("complete", "Betuwe demo block"), (run.GetProperty("state").GetString(), run.GetProperty("block").GetString()));
            Assert.Equal(24, run.GetProperty("trees").GetInt32());
            // The final map has at least the trees counted live.
            Assert.InRange(run.GetProperty("treesWithClusters").GetInt32(), counted, 24);
            output.WriteLine(string.Join(Environment.NewLine, browser.Errors.Concat(browser.FailedResponses)));
            // The one refusal the browser reports is the wrong PIN's 403; no script error.
            Assert.Equal([$"{console.Url}/: console error: Failed to load resource: the server responded with a status of 403 (Forbidden)"], browser.Errors);
        }
        finally
        {
            foreach (var worker in workers)
            {
                await worker.DisposeAsync();
            }
        }
    }

    private IEnumerable<(string Project, Dictionary<string, string> Settings)> Workers() =>
    [
        ("TreeScout.MapWriter", new() { ["TREESCOUT__MapWriter__StoreRoot"] = _runs, ["TREESCOUT__MapWriter__LiveUpdateInterval"] = "00:00:01" }),
        ("TreeScout.Fusion", new() { ["TREESCOUT__Gnss__Source"] = "Recording", ["TREESCOUT__Gnss__Recording"] = Sample }),
        ("TreeScout.Detection", new()),
        // 0.4 of the recording's speed (about 110 s): fusion places the first trees while capture is still filming.
        ("TreeScout.Capture", new() { ["TREESCOUT__Capture__Source"] = Sample, ["TREESCOUT__Capture__Speedup"] = "0.4" }),
    ];

    /// <summary>Trees the live map shows with clusters (coloured).</summary>
    private static Task<int> ColouredTreesAsync(IPage page) =>
        page.EvaluateAsync<int>("() => window.consoleMap.source.getFeatures().filter(f => f.get('clusters_total') > 0).length");

    /// <summary>Waits until the cab screen counts at least <paramref name="atLeast"/> trees; returns the count.</summary>
    private static async Task<int> WaitForTreesAsync(IPage page, int atLeast)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(150);
        while (true)
        {
            var text = await page.InnerTextAsync("#trees-counted");
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var trees) && trees >= atLeast)
            {
                return trees;
            }
            Assert.True(DateTime.UtcNow < deadline, $"the cab screen still counts '{text}' trees, waiting for {atLeast}");
            await Task.Delay(250);
        }
    }

    public void Dispose() => Directory.Delete(_runs, recursive: true);
}
