using System.Diagnostics;
using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Playwright;
using TreeScout.MapWriter.Tests;
using TreeScout.Messaging;
using TreeScout.Tests;
using TreeScout.WebConsole;

// The console's two speed targets, measured with Debian's Chromium driven by Playwright against the real map writer
// (a worker process) on the real broker (a fresh virtual host of TREESCOUT_TEST_AMQP, default 127.0.0.1:5672):
//  1. live updates reach the cab screen <= 2 s (p95) after the map writer stored them: for each MapUpdated the page
//     shows, the time from the update's UpdatedAtUtc (stamped after the store's commit) to the page having drawn it;
//  2. a run page of a 3,000-tree block is interactive within 1 s: from navigation to every tree drawn on the map.
// Prints the measured values next to the targets. Not a pass/fail test: this machine is shared.
var rows = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 30;
var treesPerRow = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 100;
var run = new SyntheticRun($"{DateTime.UtcNow:yyyyMMdd-HHmmss}-bench-console", rows, treesPerRow, batchSize: 40);
var trees = rows * treesPerRow;
Console.WriteLine($"block: {rows} rows x {treesPerRow} trees = {trees} trees, {run.Observations.Count} clusters in {run.Batches.Count} messages");

await using var vhost = await TestBroker.CreateVhostAsync("bench-console");
var runs = Directory.CreateTempSubdirectory("treescout-bench-console-").FullName;
var health = WorkerProcess.FreePort();
await using var mapwriter = await WorkerProcess.StartReadyAsync(WorkerProcess.ProjectDll("src", "TreeScout.MapWriter"), new Dictionary<string, string>
{
    ["TREESCOUT__Broker__Uri"] = vhost.Uri.ToString(),
    ["TREESCOUT__Health__BindAddress"] = "127.0.0.1",
    ["TREESCOUT__Health__Port"] = health.ToString(CultureInfo.InvariantCulture),
    ["TREESCOUT__MapWriter__StoreRoot"] = runs,
    ["TREESCOUT__MapWriter__LiveUpdateInterval"] = "00:00:01",
    ["TREESCOUT__Status__HeartbeatInterval"] = "00:00:01",
}, health, TimeSpan.FromMinutes(2));

var port = WorkerProcess.FreePort();
var app = ConsoleHost.Build(ConsoleHost.CreateBuilder([], new Dictionary<string, string?>
{
    ["Console:Runs"] = runs,
    ["Console:Port"] = port.ToString(CultureInfo.InvariantCulture),
    ["Console:LiveInterval"] = "00:00:00.500",
    ["Broker:Uri"] = vhost.Uri.ToString(),
    ["Logging:Format"] = "text",
    ["Serilog:MinimumLevel:Default"] = "Warning",
}));
await app.StartAsync();
var url = $"http://127.0.0.1:{port}";

var options = new BrokerOptions { Uri = vhost.Uri.ToString() };
await using var feeder = new RabbitMqMessageBus(options, new Topology(options.Topology), "bench", new MessagingMetrics(), NullLogger<RabbitMqMessageBus>.Instance);
await feeder.StartAsync(CancellationToken.None);
await feeder.WhenConnectedAsync(CancellationToken.None);

using var playwright = await Playwright.CreateAsync();
await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = "/usr/bin/chromium", Headless = true, Args = ["--no-sandbox", "--disable-gpu"] });
var cab = await (await browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 800 } })).NewPageAsync();
await cab.GotoAsync(url + "/");

// 1. Live updates: the observations arrive spread over about 30 s, as from a tractor; the map writer announces an
// update every second; the cab page records when each one was drawn.
await feeder.PublishAsync(run.Started);
var pause = TimeSpan.FromSeconds(30) / run.Batches.Count;
var seen = new Dictionary<string, double>(StringComparer.Ordinal);
var feeding = Task.Run(async () =>
{
    foreach (var batch in run.Batches)
    {
        await feeder.PublishAsync(batch);
        await Task.Delay(pause);
    }
});
while (!feeding.IsCompleted || seen.Count == 0)
{
    await Sample();
    await Task.Delay(100);
}
var quiet = Stopwatch.StartNew();
while (quiet.Elapsed < TimeSpan.FromSeconds(4))
{
    await Sample();
    await Task.Delay(100);
}
var latencies = seen.Values.Order().ToList();
double P(double q) => latencies[Math.Min(latencies.Count - 1, (int)Math.Ceiling(q * latencies.Count) - 1)];
Console.WriteLine($"live update: store -> cab page  p50 {P(0.5),5:0.00} s  p95 {P(0.95),5:0.00} s  max {latencies[^1],5:0.00} s   target p95 <= 2 s  ({latencies.Count} updates drawn)");

// 2. The finished run's page: navigation to all trees drawn.
await feeder.PublishAsync(run.Fused);
await WaitAsync(async () => (await new HttpClient().GetStringAsync($"{url}/api/runs")).Contains("\"complete\"", StringComparison.Ordinal), "the final map");
var page = await (await browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 800 } })).NewPageAsync();
var timings = new List<double>();
for (var i = 0; i < 5; i++)
{
    var watch = Stopwatch.StartNew();
    await page.GotoAsync($"{url}/runs/{run.RunId}");
    await page.WaitForSelectorAsync($"body[data-trees-loaded='{trees}']", new() { State = WaitForSelectorState.Attached, Timeout = 60_000 });
    // One more frame: the map has drawn what it loaded.
    await page.EvaluateAsync("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))");
    timings.Add(watch.Elapsed.TotalSeconds);
}
timings.Sort();
Console.WriteLine($"run page: {trees} trees drawn after  median {timings[2],5:0.00} s  (first {timings[0]:0.00}, last {timings[^1]:0.00} of 5 loads)   target <= 1 s");

await app.StopAsync();
Directory.Delete(runs, recursive: true);

async Task Sample()
{
    var stamps = await cab.EvaluateAsync<string[]>("() => [document.body.dataset.mapUpdatedAt || '', document.body.dataset.mapShownAt || '']");
    if (stamps[0].Length > 0 && !seen.ContainsKey(stamps[0]))
    {
        seen[stamps[0]] = (DateTimeOffset.Parse(stamps[1], CultureInfo.InvariantCulture) - DateTimeOffset.Parse(stamps[0], CultureInfo.InvariantCulture)).TotalSeconds;
    }
}

static async Task WaitAsync(Func<Task<bool>> condition, string what)
{
    var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
    while (!await condition())
    {
        if (DateTime.UtcNow > deadline)
        {
            throw new TimeoutException($"timed out waiting for {what}");
        }
        await Task.Delay(250);
    }
}
