using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using TreeScout.Contracts;
using TreeScout.MapWriter.Store;
using Xunit.Abstractions;

namespace TreeScout.WebConsole.Tests;

/// <summary>
/// The console in central mode on a season store filled through the central ingest (<see cref="CentralSeason"/>):
/// the season page and the runs API list every tractor's runs and each block's latest run with their counts, a run's
/// tree GeoJSON holds the trees table's values, downloads are the replayed run's exports, run control is refused.
/// </summary>
[Trait("Category", "Integration")]
public sealed class CentralModeTests(CentralSeason season, ITestOutputHelper output) : IClassFixture<CentralSeason>
{
    private static readonly CancellationToken None = CancellationToken.None;

    private ConsoleFactory Console() => new("", withAccounts: true, settings: season.Settings);

    private static HttpClient Script(ConsoleFactory console)
    {
        var client = console.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"{ConsoleFactory.Agronomist}:{ConsoleFactory.AgronomistPassword}")));
        return client;
    }

    [Fact]
    public async Task The_runs_api_lists_every_tractors_runs_with_farm_block_state_and_tree_counts()
    {
        using var console = Console();
        using var client = Script(console);

        var runs = JsonDocument.Parse(await client.GetStringAsync("/api/runs")).RootElement.EnumerateArray().ToList();

        Assert.Equal([season.Oost.RunId, season.NoordLatest.RunId, season.Zuid.RunId, season.NoordOlder.RunId], runs.Select(r => r.GetProperty("runId").GetString()));
        var row = runs.ToDictionary(r => r.GetProperty("runId").GetString()!, r => (
            Tractor: r.GetProperty("tractor").GetString(), Farm: r.GetProperty("farm").GetString(), Block: r.GetProperty("block").GetString(),
            State: r.GetProperty("state").GetString(), Trees: r.GetProperty("trees").GetInt32(), Season: r.GetProperty("season").GetInt32()));
        Assert.Equal(("t-01", CentralSeason.Farm, "Noord 3", "complete", 12, 2026), row[season.NoordLatest.RunId]);
        Assert.Equal(("t-02", CentralSeason.Farm, "Zuid 1", "complete", 15, 2026), row[season.Zuid.RunId]);
        Assert.Equal(("t-03", (string?)null, "Oost 2", "running", 4, 2026), row[season.Oost.RunId]);
        Assert.All(runs, r => Assert.Equal(JsonValueKind.Null, r.GetProperty("folder").ValueKind));
    }

    [Fact]
    public async Task The_season_page_lists_tractors_each_blocks_latest_run_and_the_runs_filtered_by_tractor_and_block()
    {
        using var console = Console();
        using var client = Script(console);

        var page = await client.GetStringAsync("/season?season=2026");
        output.WriteLine(page);
        Assert.Contains("Central season store, read-only", page, StringComparison.Ordinal);
        Assert.Equal([season.Oost.RunId, season.NoordLatest.RunId, season.Zuid.RunId, season.NoordOlder.RunId], Rows(page, "season-runs", "data-run"));
        Assert.Equal(["t-01", "t-02", "t-03"], Rows(page, "season-tractors", "data-tractor"));
        Assert.Contains("<td data-label=\"Runs\">2</td>", Table(page, "season-tractors"), StringComparison.Ordinal);
        Assert.Contains("not registered", Table(page, "season-tractors"), StringComparison.Ordinal);

        // Each block of the farm once, with its latest run: Noord 3's second run, 12 trees and their clusters.
        var blocks = Regex.Match(page, "<table class=\"runs season-blocks\" data-farm=\"hof-a\">(.*?)</table>", RegexOptions.Singleline).Groups[1].Value;
        Assert.Equal([season.NoordLatest.RunId, season.Zuid.RunId], Regex.Matches(blocks, "href=\"/runs/([^\"]+)\"").Select(m => m.Groups[1].Value));
        var latest = await new SeasonStore(season).TreesAsync(season.NoordLatest.RunId);
        Assert.Contains($"<td data-label=\"Clusters\">{latest.Sum(t => t.ClustersTotal)}</td>", blocks, StringComparison.Ordinal);
        Assert.Equal(season.NoordLatest.ExpectedClusters.Values.Sum(), latest.Sum(t => t.ClustersTotal));

        Assert.Equal([season.NoordLatest.RunId, season.NoordOlder.RunId], Rows(await client.GetStringAsync("/season?season=2026&tractor=t-01"), "season-runs", "data-run"));
        Assert.Equal([season.Zuid.RunId], Rows(await client.GetStringAsync("/season?season=2026&block=Zuid%201"), "season-runs", "data-run"));
        Assert.Contains("No runs match.", await client.GetStringAsync("/season?season=2025"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_runs_tree_geojson_holds_the_trees_tables_values_and_its_page_is_not_live()
    {
        using var console = Console();
        using var client = Script(console);
        var runId = season.NoordLatest.RunId;

        var stored = await new SeasonStore(season).TreesAsync(runId);
        var features = JsonDocument.Parse(await client.GetStringAsync($"/api/runs/{runId}/trees")).RootElement.GetProperty("features").EnumerateArray().ToList();

        Assert.Equal(stored.Count, features.Count);
        foreach (var (tree, feature) in stored.Zip(features))
        {
            var p = feature.GetProperty("properties");
            var at = feature.GetProperty("geometry").GetProperty("coordinates");
            Assert.Equal(tree.TreeId, p.GetProperty("tree_id").GetString());
            Assert.Equal(tree.ClustersTotal, p.GetProperty("clusters_total").GetInt32());
            Assert.Equal(tree.ClustersPerStage[BbchStages.IndexOf(BbchStage.Bbch65)], p.GetProperty("bbch65").GetInt32());
            Assert.Equal(tree.FramesSeen, p.GetProperty("frames_seen").GetInt32());
            Assert.Equal(tree.DensityPerM, p.GetProperty("density_per_m").GetDouble());
            Assert.Equal(tree.DosePercent, p.GetProperty("dose_pct").GetDouble());
            Assert.Equal(tree.RateLPerHa, p.GetProperty("rate_l_ha").GetDouble());
            Assert.Equal(tree.ZoneClass, p.GetProperty("zone_class").GetString());
            Assert.Equal((tree.Longitude, tree.Latitude), (at[0].GetDouble(), at[1].GetDouble()));
        }

        var detail = JsonDocument.Parse(await client.GetStringAsync($"/api/runs/{runId}")).RootElement;
        Assert.Equal("Elstar", detail.GetProperty("profile").GetString());
        Assert.Equal(["blossom-detector test"], detail.GetProperty("run").GetProperty("models").EnumerateArray().Select(m => m.GetString()));
        var html = await client.GetStringAsync($"/runs/{runId}");
        Assert.Contains("data-live=\"false\"", html, StringComparison.Ordinal);
        Assert.Contains($"<option value=\"{season.NoordOlder.RunId}\">", html, StringComparison.Ordinal);
        Assert.Contains("tractor t-01", html, StringComparison.Ordinal);

        // The block's two runs compared, the older one before, with the store's totals.
        var compare = JsonDocument.Parse(await client.GetStringAsync($"/api/runs/{runId}/compare/{season.NoordOlder.RunId}")).RootElement;
        Assert.Equal((season.NoordOlder.RunId, runId), (compare.GetProperty("before").GetProperty("runId").GetString(), compare.GetProperty("after").GetProperty("runId").GetString()));
        Assert.Equal(stored.Sum(t => (long)t.ClustersTotal), compare.GetProperty("after").GetProperty("clusters").GetInt64());
        Assert.Equal(12, compare.GetProperty("treesInBoth").GetInt32());
        Assert.Contains("Noord 3: two runs compared", await client.GetStringAsync($"/runs/{runId}/compare?with={season.NoordOlder.RunId}"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_download_is_the_replayed_runs_export_and_a_run_not_fused_yet_is_refused_with_the_reason()
    {
        using var console = Console();
        using var client = Script(console);
        var runId = season.Zuid.RunId;

        using var csv = await client.GetAsync($"/api/runs/{runId}/exports/csv");
        Assert.Equal(HttpStatusCode.OK, csv.StatusCode);
        Assert.Equal($"{runId}.csv", csv.Content.Headers.ContentDisposition!.FileName);
        var lines = (await csv.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var header = lines[0].Split(',');
        var stored = (await new SeasonStore(season).TreesAsync(runId)).ToDictionary(t => t.TreeId);
        Assert.Equal(stored.Count, lines.Length - 1);
        foreach (var line in lines.Skip(1))
        {
            var cells = line.Split(',');
            var tree = stored[cells[Array.IndexOf(header, "tree_id")]];
            Assert.Equal(tree.ClustersTotal.ToString(CultureInfo.InvariantCulture), cells[Array.IndexOf(header, "clusters_total")]);
        }

        using var gpkg = await client.GetAsync($"/api/runs/{runId}/exports/gpkg");
        Assert.Equal("application/geopackage+sqlite3", gpkg.Content.Headers.ContentType!.MediaType);
        Assert.Equal("SQLite format 3\0", Encoding.ASCII.GetString((await gpkg.Content.ReadAsByteArrayAsync())[..16]));

        using var running = await client.GetAsync($"/api/runs/{season.Oost.RunId}/exports/csv");
        Assert.Equal(HttpStatusCode.Conflict, running.StatusCode);
        Assert.Equal($"{{\"error\":\"run {season.Oost.RunId}: not finished yet (no RunFused has arrived); its final map is exported once it has\"}}", await running.Content.ReadAsStringAsync());
        using var unknown = await client.GetAsync("/api/runs/20260101-000000-nowhere-0001/trees");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        using var format = await client.GetAsync($"/api/runs/{runId}/exports/kml");
        Assert.Equal(HttpStatusCode.BadRequest, format.StatusCode);
    }

    [Fact]
    public async Task Run_control_plans_the_pin_and_live_status_are_refused_with_the_reason_and_the_cab_leads_to_the_season()
    {
        using var console = Console();
        using var client = Script(console);

        foreach (var (method, path) in new[] { (HttpMethod.Post, "/api/runs"), (HttpMethod.Post, "/api/runs/active/stop"), (HttpMethod.Post, "/api/plans"), (HttpMethod.Get, "/api/status"), (HttpMethod.Get, "/api/status/stream"), (HttpMethod.Get, "/api/plans") })
        {
            using var response = await client.SendAsync(new HttpRequestMessage(method, path) { Content = method == HttpMethod.Post ? new FormUrlEncodedContent(new Dictionary<string, string> { ["pin"] = ConsoleFactory.Pin, ["block"] = "Noord 3" }) : null });
            var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString();
            Assert.Equal((HttpStatusCode.Forbidden, ConsoleRunControl.ReadOnly), (response.StatusCode, error));
        }
        using var pin = await client.PostAsync("/login/pin", new FormUrlEncodedContent(new Dictionary<string, string> { ["pin"] = ConsoleFactory.Pin }));
        Assert.Equal((HttpStatusCode.Forbidden, ConsoleRunControl.ReadOnly), (pin.StatusCode, await pin.Content.ReadAsStringAsync()));

        using var browser = console.Browser();
        Assert.Contains("No operator sign-in here", await browser.GetStringAsync("/login"), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Redirect, (await ConsoleFactory.SignInAsync(browser, ConsoleFactory.Agronomist, ConsoleFactory.AgronomistPassword)).StatusCode);
        using var cab = await browser.GetAsync("/");
        Assert.Equal((HttpStatusCode.Redirect, "/season"), (cab.StatusCode, cab.Headers.Location!.OriginalString));
    }

    [Fact]
    public async Task Readiness_waits_for_the_season_stores_schema_and_is_ready_with_it()
    {
        using var console = Console();
        using var client = console.CreateClient();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        HttpResponseMessage ready;
        while ((ready = await client.GetAsync("/readyz")).StatusCode != HttpStatusCode.OK && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Contains("\"seasonStore\":\"ready\"", await ready.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Before_the_ingest_worker_made_the_schema_the_console_is_not_ready_and_pages_say_so_in_one_line()
    {
        // A search path with no season store's tables: the console must wait for them, never create them.
        var empty = new Npgsql.NpgsqlConnectionStringBuilder(TreeScout.Central.Tests.TestSeasonStore.BaseConnectionString) { SearchPath = $"t_missing_{Guid.NewGuid():N}" };
        using var console = new ConsoleFactory("", settings: new Dictionary<string, string?> { ["Console:Mode"] = "central", [ConsoleOptions.SeasonStoreSetting] = empty.ConnectionString });
        using var client = console.CreateClient();
        var target = $"{empty.Host}:{empty.Port}/{empty.Database}";

        var deadline = DateTime.UtcNow.AddSeconds(20);
        string body;
        do
        {
            body = await (await client.GetAsync("/readyz")).Content.ReadAsStringAsync();
        }
        while (!body.Contains("no schema yet", StringComparison.Ordinal) && DateTime.UtcNow < deadline && await Task.Delay(200).ContinueWith(_ => true));
        Assert.Contains($"\"seasonStore\":\"waiting for PostgreSQL at {target} (the season store has no schema yet", body, StringComparison.Ordinal);

        using var page = await client.GetAsync("/season");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, page.StatusCode);
        Assert.Equal($"the season store at {target} cannot be read: it has no schema yet (the central ingest worker or `treescout central migrate` creates it)", await page.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task The_agronomist_opens_the_season_page_and_a_runs_map_in_chromium()
    {
        await using var server = await ConsoleServer.StartAsync("", season.Settings);
        await using var browser = await BrowserSession.StartAsync();
        var page = await browser.PageAsync(1280, 900);

        await page.GotoAsync(server.Url + "/login");
        await Assertions.Expect(page.Locator("#no-operator")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#pin")).ToHaveCountAsync(0);
        output.WriteLine(await BrowserSession.ScreenshotAsync(page, "central-login-1280x900"));
        await BrowserSession.SignInAsync(page, server.Url, "/season");
        await Assertions.Expect(page.Locator("#season-runs tbody tr")).ToHaveCountAsync(4);
        await Assertions.Expect(page.Locator("#read-only-note")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("nav a[href='/']")).ToHaveCountAsync(0);
        output.WriteLine(await BrowserSession.ScreenshotAsync(page, "central-season-1280x900"));
        await page.ClickAsync("nav a[href='/runs']");
        await Assertions.Expect(page.Locator("table.runs tbody tr")).ToHaveCountAsync(4);
        await Assertions.Expect(page.Locator("table.runs thead")).ToContainTextAsync("Tractor");
        output.WriteLine(await BrowserSession.ScreenshotAsync(page, "central-runs-1280x900"));
        await page.GotoAsync(server.Url + "/season");

        await page.ClickAsync($"table.season-blocks a[href='/runs/{season.NoordLatest.RunId}']");
        await page.WaitForSelectorAsync("body[data-trees-loaded='12']");
        await Assertions.Expect(page.Locator("#downloads a")).ToHaveCountAsync(7);
        output.WriteLine(await BrowserSession.ScreenshotAsync(page, "central-run-1280x900"));

        var phone = await browser.PageAsync(390, 844, touch: true);
        await BrowserSession.SignInAsync(phone, server.Url, "/season");
        output.WriteLine(await BrowserSession.ScreenshotAsync(phone, "central-season-390x844"));
        Assert.Equal(0, await BrowserSession.OverflowAsync(phone));
        Assert.True(browser.Errors.Count == 0, string.Join('\n', browser.Errors));
    }

    private static List<string> Rows(string html, string tableId, string attribute) =>
        [.. Regex.Matches(Table(html, tableId), $"<tr {attribute}=\"([^\"]+)\"").Select(m => m.Groups[1].Value)];

    private static string Table(string html, string id) =>
        Regex.Match(html, $"<table[^>]* id=\"{id}\">(.*?)</table>", RegexOptions.Singleline).Groups[1].Value;

    /// <summary>The season store's own read of a run's trees, to compare the console's answers with.</summary>
    private sealed class SeasonStore(CentralSeason season)
    {
        public Task<IReadOnlyList<TreeRecord>> TreesAsync(string runId) => season.Db.Store.ReadTreesAsync(runId, None);
    }
}

/// <summary>Central mode's start-time checks and readiness without a season store to reach (nothing listens on its port).</summary>
[Trait("Category", "Unit")]
public sealed class CentralModeStartupTests
{
    [Fact]
    public void Central_mode_without_a_connection_string_is_refused_at_start_with_one_line()
    {
        // ConsoleHost.RunAsync prints these failures as one line and exits with 2.
        var ex = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() =>
            ConsoleHost.Build(ConsoleHost.CreateBuilder([], new Dictionary<string, string?> { ["Console:Mode"] = "central" })));
        var failure = Assert.Single(ex.Failures);
        Assert.Contains("Console:Mode central needs Central:ConnectionString (env TREESCOUT__Central__ConnectionString): the season store's connection string, e.g. Host=db;Database=treescout;Username=treescout_console;Password=...", failure, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', failure);
    }

    [Fact]
    public async Task An_unreachable_season_store_is_not_ready_with_the_reason_and_alive_without_its_password()
    {
        var port = TreeScout.Tests.WorkerProcess.FreePort();
        using var console = new ConsoleFactory("", settings: new Dictionary<string, string?>
        {
            ["Console:Mode"] = "central",
            [ConsoleOptions.SeasonStoreSetting] = $"Host=127.0.0.1;Port={port};Database=treescout;Username=treescout_console;Password=secret-pw;Timeout=2",
        });
        using var client = console.CreateClient();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        string body;
        HttpResponseMessage ready;
        do
        {
            ready = await client.GetAsync("/readyz");
            body = await ready.Content.ReadAsStringAsync();
        }
        while (!body.Contains("waiting for PostgreSQL", StringComparison.Ordinal) && DateTime.UtcNow < deadline && await Task.Delay(200).ContinueWith(_ => true));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Contains($"\"seasonStore\":\"waiting for PostgreSQL at 127.0.0.1:{port}/treescout (", body, StringComparison.Ordinal);
        Assert.DoesNotContain("secret-pw", body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);

        // A page is one line and 503, not a server error.
        using var runs = await client.GetAsync("/api/runs");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, runs.StatusCode);
        Assert.StartsWith($"{{\"error\":\"the season store at 127.0.0.1:{port}/treescout cannot be read: ", await runs.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
